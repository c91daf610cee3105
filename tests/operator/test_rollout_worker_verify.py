"""The rollout worker follows an applied change until its savings are measured, and no longer."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kcost.analyzers.metrics import workloads
from kcost.config import Config
from kcost.operator.rollout import verify
from kcost.operator.rollout.worker import RolloutWorker

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
