"""The rollout worker follows an applied change until its savings are measured, and no longer."""

from __future__ import annotations

from typing import Any

import pytest

from kcost.config import Config
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
