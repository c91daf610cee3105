"""Realized savings: max(request, usage) at node prices before and after, regressions, and the verdict."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from kcost.analyzers.cost import model
from kcost.analyzers.cost.unit_rates import ClusterRates
from kcost.api.units import GIB, HOURS_PER_MONTH, MIB
from kcost.api.v1alpha1.common import ConditionStatus
from kcost.api.v1alpha1.recommendation import (
    OptimizationRecommendation,
    RolloutStatus,
    WorkloadShape,
)
from kcost.operator.rollout import realized, verify

APPLIED_AT = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
RATES = ClusterRates(model.UnitRates(cpu_core_hour=0.04, memory_gib_hour=0.005), source="test prices")


def shape(cpu: str, memory: str, replicas: int = 2) -> WorkloadShape:
    return WorkloadShape.model_validate(
        {"containers": [{"name": "app", "requests": {"cpu": cpu, "memory": memory}}], "replicas": replicas}
    )


def usage(
    cpu_cores: list[float],
    memory_mib: list[float],
    *,
    oom_kills: int = 0,
    restarts: int = 0,
    cpu_throttled_percent: float | None = None,
) -> realized.WindowUsage:
    container = realized.ContainerUsage(np.array(cpu_cores), np.array(memory_mib) * MIB)
    return realized.WindowUsage(
        {"app": container},
        nodes=("node-a",),
        oom_kills=oom_kills,
        restarts=restarts,
        cpu_throttled_percent=cpu_throttled_percent,
    )


def recommendation(approved_by: str = "alice") -> OptimizationRecommendation:
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop", "generation": 1},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "type": "right-sizing",
                "changes": shape("250m", "256Mi").to_api(),
                "current": shape("500m", "512Mi").to_api(),
                "estimatedMonthlySavings": 20.0,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "test"},
                "approval": {"approved": True, "approvedBy": approved_by},
            },
            "status": {
                "phase": "Applied",
                "appliedAt": APPLIED_AT.isoformat(),
                "previous": shape("500m", "512Mi").to_api(),
                "rollout": RolloutStatus(
                    target=shape("250m", "256Mi"), started_at=APPLIED_AT - datetime.timedelta(minutes=5)
                ).to_api(),
            },
        }
    )


def monthly(cpu_cores: float, memory_bytes: float, replicas: int = 2) -> float:
    return (cpu_cores * 0.04 + memory_bytes / GIB * 0.005) * replicas * HOURS_PER_MONTH


def test_each_sample_costs_the_larger_of_request_and_usage() -> None:
    seen = usage([0.1, 0.4, 0.3], [100, 300, 200])
    cost = realized.monthly_cost(shape("250m", "256Mi"), 2, seen, RATES.monthly_request_cost)
    cpu = (0.25 + 0.4 + 0.3) / 3
    memory = (256 + 300 + 256) / 3 * MIB
    assert cost == pytest.approx(monthly(cpu, memory))


def test_a_container_without_samples_costs_its_request() -> None:
    cost = realized.monthly_cost(shape("500m", "512Mi"), 3, realized.WindowUsage({}), RATES.monthly_request_cost)
    assert cost == pytest.approx(monthly(0.5, 512 * MIB, replicas=3))


def test_regressions_compare_after_with_before() -> None:
    before = usage([0.1], [100], restarts=2, cpu_throttled_percent=5.0)
    assert realized.regressions(before, usage([0.1], [100], restarts=2, cpu_throttled_percent=14.0)).found == []
    worse = realized.regressions(before, usage([0.1], [100], oom_kills=1, restarts=3, cpu_throttled_percent=15.0))
    assert worse.found == [
        "1 OOM kill(s) after the change",
        "container restarts rose from 2 to 3",
        "CPU throttling rose from 5.0% to 15.0%",
    ]


def test_windows_are_as_long_as_the_verify_window_around_the_change() -> None:
    before, after = verify.windows(recommendation(), APPLIED_AT, "1h")
    started = APPLIED_AT - datetime.timedelta(minutes=5)
    assert before == (started - datetime.timedelta(hours=1), started)
    assert after == (APPLIED_AT, APPLIED_AT + datetime.timedelta(hours=1))
    assert verify.wait_s(after[1], APPLIED_AT) == 3600
    assert verify.wait_s(after[1], after[1] + datetime.timedelta(seconds=1)) == 0


def test_the_verdict_prices_both_windows_and_the_estimate_error() -> None:
    rec = recommendation()
    now = APPLIED_AT + datetime.timedelta(hours=1)
    before, after = usage([0.2, 0.2], [200, 200]), usage([0.3, 0.3], [200, 200])
    verdict = verify.judge(rec, "1h", applied_at=APPLIED_AT, before=before, after=after, rates=RATES, now=now)
    saved = monthly(0.5, 512 * MIB) - monthly(0.3, 256 * MIB)
    assert verdict.realized.monthly_savings_usd == pytest.approx(saved, abs=0.01)
    assert verdict.realized.estimate_error_percent == pytest.approx((saved - 20) / 20 * 100, abs=0.1)
    assert (verdict.status, verdict.roll_back, verdict.realized.prices) == (ConditionStatus.TRUE, False, "test prices")


@pytest.mark.parametrize(("approved_by", "roll_back"), [("policy/auto", True), ("alice", False)])
def test_a_regression_rolls_back_only_what_a_policy_approved(approved_by: str, roll_back: bool) -> None:
    after = usage([0.2], [250], oom_kills=2)
    verdict = verify.judge(
        recommendation(approved_by),
        "1h",
        applied_at=APPLIED_AT,
        before=usage([0.2], [250]),
        after=after,
        rates=RATES,
        now=APPLIED_AT,
    )
    assert (verdict.status, verdict.reason, verdict.event_type) == (ConditionStatus.FALSE, "Regression", "Warning")
    assert verdict.roll_back is roll_back
    assert "2 OOM kill(s) after the change" in verdict.message


def test_no_usage_after_the_change_is_said_not_guessed() -> None:
    rec = recommendation()
    empty = realized.WindowUsage({})
    verdict = verify.judge(
        rec, "1h", applied_at=APPLIED_AT, before=usage([0.2], [200]), after=empty, rates=RATES, now=APPLIED_AT
    )
    assert verdict.realized.monthly_savings_usd is None
    assert verdict.reason == "NotMeasured"
    assert "no usage of Deployment shop/web after the change" in verdict.message
    assert verify.history_row(rec, "prod", verdict.realized) is None
