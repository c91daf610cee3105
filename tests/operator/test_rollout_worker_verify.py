"""The rollout worker follows an applied change until its savings are measured, and no longer."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kcost.analyzers.metrics import prometheus, workloads
from kcost.api import matching
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.recommendation import REALIZED_NOT_MEASURED, OptimizationRecommendation
from kcost.config import Config
from kcost.operator.rollout import verify
from kcost.operator.rollout.worker import RolloutWorker
from tests.operator.test_rollout_realized import APPLIED_AT, recommendation

MEASURED = {"window": "7d", "measuredAt": "2026-12-08T12:00:00Z", "monthlySavingsUsd": 12.5}


async def _never(*_: object) -> None:
    raise AssertionError("nothing is written by deciding what to follow")


async def _leading() -> bool:
    return True


def body(phase: str, realized: dict[str, Any] | None = None, **approval: bool) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if realized is not None:
        status["realized"] = realized
    return {"spec": {"approval": approval}, "status": status}


@pytest.mark.parametrize(
    ("recommendation", "followed"),
    [
        (body("Applied"), True),
        (body("Applied", MEASURED), False),
        (body("Applied", MEASURED, rollback=True), True),
        (body("RolledBack", MEASURED), False),
        (body("Applying"), True),
    ],
)
def test_an_applied_change_is_followed_until_measured(recommendation: dict[str, Any], followed: bool) -> None:
    worker = RolloutWorker(None, None, _never, _leading, Config.from_env({}))  # type: ignore[arg-type]
    assert worker.wants(recommendation) is followed


@pytest.mark.parametrize("second", range(0, 60, 7))
def test_a_verify_window_shorter_than_two_steps_still_reads_a_whole_step(second: int) -> None:
    """A 90 s window starting in the first half of a minute once held no whole 60 s step: every query read ``[0s]``."""
    start = datetime.datetime(2026, 12, 1, 11, 43, second, tzinfo=datetime.UTC)
    plan = workloads.QueryPlan.for_window(start, start + datetime.timedelta(seconds=90), verify.RESOLUTION)
    assert plan.end_s - plan.start_s >= verify.RESOLUTION.total_seconds(), plan
    assert plan.window != "0s"


class _Events:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    async def event(self, _body: object, *, reason: str, message: str, event_type: str) -> None:
        self.reasons.append(reason)


async def test_a_query_prometheus_refuses_is_recorded_as_not_measured_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refusal (HTTP 400) answers the same every time: the user reads why in status.realized."""
    kube = _Events()
    worker = RolloutWorker(kube, None, _never, _leading, Config.from_env({}))  # type: ignore[arg-type]
    written: list[verify.Verdict] = []

    async def governing(*_: object) -> tuple[matching.Governing, dict[str, Any]]:
        return matching.Governing(policy=None), {}

    async def refused(*_: object) -> object:
        raise prometheus.PrometheusError("http://prometheus/api/v1/query refused 'x[0s]': bad_data")

    async def write(_kube: object, rec: OptimizationRecommendation, verdict: verify.Verdict) -> object:
        written.append(verdict)
        return rec

    monkeypatch.setattr(worker, "_governing", governing)
    monkeypatch.setattr(worker, "_measure", refused)
    monkeypatch.setattr(verify, "write", write)
    rec = recommendation()
    later = APPLIED_AT + datetime.timedelta(days=8)
    assert await worker._verify(rec, [], later) is None
    assert [v.reason for v in written] == [REALIZED_NOT_MEASURED]
    assert "refused" in (written[0].realized.message or "")
    assert kube.reasons == [REALIZED_NOT_MEASURED]


async def test_before_any_window_can_have_passed_the_workload_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change just applied waits for its window whichever policy governs it: no read to find out which."""
    worker = RolloutWorker(None, None, _never, _leading, Config.from_env({}))  # type: ignore[arg-type]

    async def governing(*_: object) -> tuple[matching.Governing, dict[str, Any]]:
        raise AssertionError("the workload was read to find its policy")

    monkeypatch.setattr(worker, "_governing", governing)
    rec = recommendation()
    short = OptimizationPolicy.model_validate({"metadata": {"name": "short"}, "spec": {"verifyWindow": "2h"}})
    assert await worker._verify(rec, [], APPLIED_AT + datetime.timedelta(minutes=1)) == verify.MAX_WAIT_S
    assert await worker._verify(rec, [short], APPLIED_AT + datetime.timedelta(minutes=90)) == 30 * 60


async def test_once_the_shortest_window_has_passed_the_governing_policy_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = RolloutWorker(None, None, _never, _leading, Config.from_env({}))  # type: ignore[arg-type]
    asked: list[object] = []

    async def governing(*_: object) -> tuple[matching.Governing, dict[str, Any]]:
        asked.append(_)
        return matching.Governing(policy=None), {}

    monkeypatch.setattr(worker, "_governing", governing)
    short = OptimizationPolicy.model_validate({"metadata": {"name": "short"}, "spec": {"verifyWindow": "2h"}})
    # The 2h policy does not govern this workload: the default 7d window does, and it is not due.
    waited = await worker._verify(recommendation(), [short], APPLIED_AT + datetime.timedelta(hours=3))
    assert waited == verify.MAX_WAIT_S
    assert len(asked) == 1
