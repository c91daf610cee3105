"""Recommendation transitions survive transient failures; conflicts are retried quietly; timers outlive bad specs."""

from __future__ import annotations

import asyncio
import copy
import logging
import weakref
from typing import Any, cast

import kopf
import pytest

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube.client import Conflict
from kcost.observability import caches
from kcost.operator import leadership, main, retry
from kcost.operator import status as status_io
from kcost.operator.rollout.worker import RolloutWorker


def _recommendation() -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {
            "name": "deployment-web-right-sizing",
            "namespace": "shop",
            "generation": 1,
            "resourceVersion": "1",
        },
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "type": "right-sizing",
            "changes": {},
            "current": {},
            "estimatedMonthlySavings": 10,
            "confidence": 0.8,
            "riskLevel": "low",
            "evidence": {"method": "m"},
            "approval": {"approved": True, "approvedBy": "alice"},
        },
        "status": {"phase": "Proposed"},
    }


class FlakyKube:
    """One stored recommendation; the operator's status writes fail with ``failures`` first, in order."""

    def __init__(self, body: dict[str, Any], failures: list[Exception]) -> None:
        self.body = body
        self.failures = failures
        self.reads = 0
        self.events: list[str] = []
        self.mirrored: list[str] = []

    async def get_raw(self, kind: type, name: str, namespace: str | None = None) -> dict[str, Any]:
        self.reads += 1
        return copy.deepcopy(self.body)

    async def apply(self, kind: type, body: dict[str, Any], *, field_manager: str, **_: Any) -> dict[str, Any]:
        if field_manager == status_io.ERROR_FIELD_MANAGER:
            self.mirrored += [c["reason"] for c in body["status"]["conditions"]]
            return self.body
        if self.failures:
            raise self.failures.pop(0)
        expected = body["metadata"].get("resourceVersion")
        if expected is not None and expected != self.body["metadata"]["resourceVersion"]:
            raise Conflict("Conflict")
        self.body["status"].update(body["status"])
        self.body["metadata"]["resourceVersion"] = str(int(self.body["metadata"]["resourceVersion"]) + 1)
        return self.body

    async def event(self, body: dict[str, Any], *, reason: str, **_: Any) -> None:
        self.events.append(reason)


async def _leads() -> bool:
    return True


def _memo(kube: FlakyKube, first_delay_s: float = 0.01) -> kopf.Memo:
    memo = kopf.Memo()
    memo.kube = kube
    memo.reconcile_locks = weakref.WeakValueDictionary()
    memo.leadership = leadership.Leadership(_leads)  # this replica leads; no peering to read
    memo.recommendation_retries = retry.RetryQueue(
        lambda key: main._retry_recommendation(memo, key), first_delay_s=first_delay_s
    )
    return memo


async def _until(what: str, check: Any, timeout_s: float = 5.0) -> None:
    async def wait() -> None:
        while not check():  # noqa: ASYNC110 - the fake has no event to wait on; the loop polls it
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(wait(), timeout_s)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {timeout_s} s") from None


async def test_a_transient_failure_still_makes_the_transition() -> None:
    kube = FlakyKube(_recommendation(), [ConnectionResetError("API server hiccup")])
    memo = _memo(kube)
    runner = asyncio.create_task(memo.recommendation_retries.run())
    try:
        # The watch event's handler fails, returns at once (kopf would not retry it), and queues a retry.
        await main.on_recommendation_event("MODIFIED", copy.deepcopy(kube.body), memo)
        assert kube.body["status"]["phase"] == "Proposed"
        assert len(memo.recommendation_retries) == 1
        await _until("the approval applied by a retry", lambda: kube.body["status"]["phase"] == "Approved")
        assert kube.events == ["Approved"]
        assert kube.mirrored == [], "Ready has one writer, the controller: a retried failure is not mirrored"
        await _until("the retry done and forgotten", lambda: len(memo.recommendation_retries) == 0)
    finally:
        runner.cancel()


async def test_a_conflict_is_retried_on_fresh_data_without_an_error_log(caplog: pytest.LogCaptureFixture) -> None:
    kube = FlakyKube(_recommendation(), [])
    stale = copy.deepcopy(kube.body)
    kube.body["metadata"]["resourceVersion"] = "2"  # an analyzer wrote in between: the event's copy is stale
    memo = _memo(kube)
    with caplog.at_level(logging.DEBUG):
        await main.on_recommendation_event("MODIFIED", stale, memo)
    assert kube.body["status"]["phase"] == "Approved"
    assert kube.reads == 1, "read again once after the conflict"
    assert len(memo.recommendation_retries) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any("changed while being reconciled" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


async def test_a_stale_event_is_parsed_once_and_its_retry_reads_the_fresh_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kube = FlakyKube(_recommendation(), [])
    stale = copy.deepcopy(kube.body)
    kube.body["metadata"]["resourceVersion"] = "2"  # written in between: the event's copy conflicts
    memo = _memo(kube)
    memo.telemetry = caches.Caches()
    memo.rollouts = RolloutWorker(cast(Any, None), cast(Any, None), cast(Any, None), _leads)
    parsed: list[str] = []
    validate = OptimizationRecommendation.model_validate

    def counted(body: Any, **options: Any) -> OptimizationRecommendation:
        parsed.append(body["metadata"]["resourceVersion"])
        return validate(body, **options)

    monkeypatch.setattr(OptimizationRecommendation, "model_validate", counted)
    await main._recommendation_event(cast(kopf.RawEvent, {"type": "MODIFIED", "object": stale}), memo)
    # The event once, for the metrics cache and the controller alike; after the conflict, the fresh read.
    assert parsed == ["1", "2"]
    assert kube.body["status"]["phase"] == "Approved"
    assert kube.reads == 1
    assert memo.telemetry.recommendations.items[("shop", "deployment-web-right-sizing")].phase == "Proposed"


@pytest.mark.parametrize("conflicts", [retry.CONFLICT_ATTEMPTS - 1, retry.CONFLICT_ATTEMPTS])
async def test_a_conflict_is_tried_again_up_to_the_attempts_in_all(conflicts: int) -> None:
    kube = FlakyKube(_recommendation(), [])
    calls: list[dict[str, Any]] = []

    async def reconcile(_: Any, body: dict[str, Any]) -> str:
        calls.append(body)
        if len(calls) <= conflicts:
            raise Conflict("Conflict")
        return "done"

    first = copy.deepcopy(kube.body)
    if conflicts < retry.CONFLICT_ATTEMPTS:
        assert await retry.on_fresh_data(reconcile, cast(Any, kube), OptimizationRecommendation, first) == "done"
    else:
        with pytest.raises(Conflict):
            await retry.on_fresh_data(reconcile, cast(Any, kube), OptimizationRecommendation, first)
    assert len(calls) == min(conflicts + 1, retry.CONFLICT_ATTEMPTS)
    assert calls[0] is first, "the first attempt works on the event's own object"
    assert kube.reads == len(calls) - 1, "each attempt after a conflict reads the object again"


async def test_a_conflict_that_persists_is_queued_quietly(caplog: pytest.LogCaptureFixture) -> None:
    kube = FlakyKube(_recommendation(), [Conflict("Conflict")] * retry.CONFLICT_ATTEMPTS)
    memo = _memo(kube)
    runner = asyncio.create_task(memo.recommendation_retries.run())
    try:
        with caplog.at_level(logging.DEBUG):
            await main.on_recommendation_event("MODIFIED", copy.deepcopy(kube.body), memo)
            await _until("the approval applied by a retry", lambda: kube.body["status"]["phase"] == "Approved")
    finally:
        runner.cancel()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


async def test_the_queue_keeps_one_entry_per_object_and_backs_off() -> None:
    queue = retry.RetryQueue(lambda key: asyncio.sleep(0), first_delay_s=1.0, max_delay_s=5.0)
    delays = [queue.schedule(("shop", "r")) for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert len(queue) == 1
    queue.forget(("shop", "r"))
    assert len(queue) == 0


async def test_a_deleted_recommendation_drops_its_retry() -> None:
    kube = FlakyKube(_recommendation(), [RuntimeError("boom")])
    memo = _memo(kube, first_delay_s=60)
    await main.on_recommendation_event("MODIFIED", copy.deepcopy(kube.body), memo)
    assert len(memo.recommendation_retries) == 1
    await main.on_recommendation_event("DELETED", copy.deepcopy(kube.body), memo)
    assert len(memo.recommendation_retries) == 0


async def test_an_invalid_spec_does_not_stop_a_timer() -> None:
    """Kopf stops a timer for good on a PermanentError: from a tick it is mirrored, not raised."""
    kube = FlakyKube(_recommendation(), [])
    memo = _memo(kube)
    seen: list[str] = []

    async def parse(_: Any, body: dict[str, Any]) -> None:
        seen.append(status_io.parse(OptimizationRecommendation, body).spec.risk_level.value)

    invalid = copy.deepcopy(kube.body)
    invalid["spec"]["riskLevel"] = "extreme"
    with pytest.raises(kopf.PermanentError, match=r"spec.riskLevel"):
        await main._run(parse, invalid, memo)  # create/update: kopf waits for the next change
    await main._run(parse, invalid, memo, raise_invalid=False)  # a tick: the timer lives on
    assert kube.mirrored == [status_io.INVALID_SPEC] * 2, "both say so in Ready"
    await main._run(parse, kube.body, memo, raise_invalid=False)  # fixed: reconciled on the next tick
    assert seen == ["low"]
