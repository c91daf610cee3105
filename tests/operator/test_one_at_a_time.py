"""The operator reconciles an object once at a time: its timer and its events run concurrently in kopf."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import kopf

from kcost.api.v1alpha1.analysis import Analysis
from kcost.operator import main


class _Kube:
    """Answers a read with the object's newer version, and counts the reads."""

    def __init__(self) -> None:
        self.reads: list[tuple[type[Any], str, str | None]] = []

    async def get_raw(self, kind: type[Any], name: str, namespace: str | None = None) -> dict[str, Any]:
        self.reads.append((kind, name, namespace))
        return _body("2")


def _body(version: str) -> dict[str, Any]:
    return {"kind": "Analysis", "metadata": {"name": "nightly", "resourceVersion": version}}


def _memo() -> kopf.Memo:
    memo = kopf.Memo()
    memo.reconcile_locks = weakref.WeakValueDictionary()
    memo.kube = _Kube()
    return memo


async def test_a_reconcile_that_had_to_wait_reads_the_object_again() -> None:
    memo = _memo()
    seen: list[tuple[str, str]] = []
    holding, waiting, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with main._one_at_a_time(memo, _body("1")) as current:
            assert current is not None
            seen.append(("first", current["metadata"]["resourceVersion"]))
            holding.set()
            await release.wait()

    async def second() -> None:
        await holding.wait()
        waiting.set()  # the next await is the lock: the test resumes once this task waits on it
        async with main._one_at_a_time(memo, _body("1")) as current:
            assert current is not None
            seen.append(("second", current["metadata"]["resourceVersion"]))

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await waiting.wait()
    assert seen == [("first", "1")], "the second waits while the first holds the object"
    release.set()
    await asyncio.gather(*tasks)
    assert seen == [("first", "1"), ("second", "2")], "the one that waited works on the newer version"
    assert memo.kube.reads == [(Analysis, "nightly", None)]


async def test_a_reconcile_that_did_not_wait_works_on_the_body_it_was_given() -> None:
    memo = _memo()
    for _ in range(2):
        async with main._one_at_a_time(memo, _body("1")) as current:
            assert current == _body("1")
    assert memo.kube.reads == []
    assert not list(memo.reconcile_locks.keys()), "no lock is kept for an object nobody reconciles"
