"""A rollout under way decides on the recommendation the watch delivered, and wakes when its workload changes."""

from __future__ import annotations

import asyncio
from typing import Any

from kcost.api.v1alpha1.recommendation import RecommendationPhase
from kcost.config import Config
from kcost.operator.rollout import watched
from kcost.operator.rollout.worker import RolloutWorker
from tests.operator.test_rollout_realized import recommendation

KEY = ("shop", "deployment-web-right-sizing")


class _Reads:
    """The API server's side of a read: what it holds now, and how often it was asked."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.gets = 0

    async def get_raw(self, *_: object) -> dict[str, Any]:
        self.gets += 1
        return self.body


async def _never(*_: object) -> dict[str, Any]:
    raise AssertionError("nothing is written here")


async def _leading() -> bool:
    return True


def applying(version: str, step: int = 0) -> dict[str, Any]:
    body = recommendation().to_api()
    body["metadata"]["resourceVersion"] = version
    body["status"]["phase"] = "Applying"
    body["status"]["rollout"]["step"] = step
    return body


class _Followed:
    """The workload client's side of following: which workloads are followed, and the bodies delivered."""

    def __init__(self) -> None:
        self.followed: set[tuple[str, str, str]] = set()
        self.bodies: list[dict[str, Any]] = []

    def follow(self, key: tuple[str, str, str]) -> None:
        self.followed.add(key)

    def unfollow(self, key: tuple[str, str, str]) -> None:
        self.followed.discard(key)

    def delivered(self, event_type: str, kind: str, body: dict[str, Any]) -> None:
        self.bodies.append(body)


def worker(kube: object, workloads: object = None) -> RolloutWorker:
    return RolloutWorker(kube, workloads, _never, _leading, Config.from_env({}))  # type: ignore[arg-type]


async def test_a_look_with_a_fresh_watched_body_reads_nothing() -> None:
    kube = _Reads(applying("7"))
    rollouts = worker(kube)
    rollouts.delivered("MODIFIED", applying("7"))
    rec = await rollouts._recommendation(*KEY)
    assert rec is not None
    assert rec.resource_version == "7"
    assert kube.gets == 0


async def test_a_body_behind_kcosts_own_write_is_read_until_the_watch_delivers_that_write() -> None:
    kube = _Reads(applying("8", step=1))
    rollouts = worker(kube)
    rollouts.delivered("MODIFIED", applying("7"))
    rollouts._watched.wrote(KEY, "8")  # kcost advanced the step; its event has not come yet
    rec = await rollouts._recommendation(*KEY)
    assert rec is not None
    assert rec.status.rollout is not None
    assert rec.status.rollout.step == 1
    assert kube.gets == 1
    rollouts._watched.wrote(KEY, "9")
    rollouts.delivered("MODIFIED", applying("8", step=1))  # an older event, still on its way
    assert rollouts._watched.fresh(KEY) is None
    rollouts.delivered("MODIFIED", applying("9", step=2))
    rec = await rollouts._recommendation(*KEY)
    assert rec is not None
    assert rec.status.rollout is not None
    assert rec.status.rollout.step == 2
    assert kube.gets == 1


async def test_an_event_older_than_a_read_is_not_decided_on() -> None:
    kube = _Reads(applying("8", step=1))
    rollouts = worker(kube)
    rollouts._watched.wrote(KEY, None)  # a conflict: read next time
    await rollouts._recommendation(*KEY)
    rollouts.delivered("MODIFIED", applying("7"))  # the watch, behind the read
    assert rollouts._watched.fresh(KEY) is None
    rollouts.delivered("MODIFIED", applying("8", step=1))
    assert rollouts._watched.fresh(KEY) is not None


def test_a_write_whose_event_came_first_leaves_the_body_fresh() -> None:
    bodies = watched.WatchedBodies()
    bodies.delivered(applying("8"))
    bodies.wrote(KEY, "8")
    assert bodies.fresh(KEY) is not None


async def test_an_ended_rollout_keeps_no_body_but_still_waits_for_its_last_write() -> None:
    rollouts = worker(_Reads(applying("7")))
    rollouts.delivered("MODIFIED", applying("7"))
    rollouts._watched.wrote(KEY, "9")  # the Applied write
    rollouts.delivered("MODIFIED", applying("8"))  # older, still Applying
    assert rollouts._watched.fresh(KEY) is None
    applied = applying("9")
    applied["status"]["phase"] = "Applied"
    rollouts.delivered("MODIFIED", applied)
    assert rollouts._watched.fresh(KEY) is None
    assert len(rollouts._watched) == 0


async def test_a_workload_change_wakes_its_waiting_rollout_before_the_poll() -> None:
    """The rollout asks to be looked at in an hour; its Deployment changing brings the look forward."""
    rec = recommendation().model_copy(deep=True)
    rec.status.phase = RecommendationPhase.APPLYING
    followed = _Followed()
    rollouts = worker(None, followed)
    rollouts._follow_target(rec)
    assert ("Deployment", "shop", "web") in followed.followed
    looks = asyncio.Queue[int]()

    async def look(namespace: str, name: str) -> float:
        looks.put_nowait(1)
        return 3600.0  # a poll far beyond the test

    rollouts._advance_one = look  # type: ignore[method-assign]
    drain = asyncio.create_task(rollouts._drain())
    try:
        rollouts.wake(*KEY)
        await asyncio.wait_for(looks.get(), timeout=30)
        rollouts.workload_changed("MODIFIED", "Deployment", {"metadata": {"namespace": "shop", "name": "web"}})
        await asyncio.wait_for(looks.get(), timeout=30)
        assert followed.bodies == [{"metadata": {"namespace": "shop", "name": "web"}}]
    finally:
        drain.cancel()
