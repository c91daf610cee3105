"""The label, the risk read from the estimate, calibration figures, and a fitted model's calibration."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.api.v1alpha1.recommendation import RiskLevel
from kcost.ml import confidence
from kcost.ml.confidence_features import FEATURES, Proposal

GIB = 1024.0**3


def test_a_proposal_holds_without_oom_and_with_little_shortfall_and_pressure() -> None:
    cpu = np.array([0.1] * 95 + [1.0] * 5)
    memory = np.full(100, GIB)
    assert confidence.held(cpu, memory, Proposal(0.5, 2 * GIB, 3 * GIB))
    assert not confidence.held(cpu, memory, Proposal(0.05, 2 * GIB, 3 * GIB))  # always short of CPU
    assert not confidence.held(cpu, memory, Proposal(0.5, 0.5 * GIB, None))  # always above the memory request
    assert not confidence.held(cpu, memory, Proposal(0.5, 0.5 * GIB, 0.9 * GIB))  # OOM kill


@pytest.mark.parametrize(
    ("estimate", "level"), [(0.95, RiskLevel.LOW), (0.9, RiskLevel.LOW), (0.8, RiskLevel.MEDIUM), (0.3, RiskLevel.HIGH)]
)
def test_risk_follows_the_estimate(estimate: float, level: RiskLevel) -> None:
    assert confidence.risk_level(estimate) is level


def test_calibration_report_by_hand() -> None:
    estimates = np.array([0.2, 0.2, 0.92, 0.92, 0.97, 0.99])
    outcomes = np.array([False, True, True, True, True, False])
    report = confidence.calibration(estimates, outcomes)
    assert set(report) == {"buckets", "brier", "share_held_confidence_ge_0_9", "count_confidence_ge_0_9"}
    first = report["buckets"][0]
    assert (first["count"], first["mean_confidence"], first["share_held"]) == (2, 0.2, 0.5)
    assert report["count_confidence_ge_0_9"] == 4
    assert report["share_held_confidence_ge_0_9"] == 0.75
    expected_brier = np.mean((estimates - outcomes) ** 2)
    assert report["brier"] == pytest.approx(expected_brier, abs=1e-4)
    assert sum(bucket["count"] for bucket in report["buckets"]) == 6


def test_a_fitted_model_is_calibrated_on_data_it_did_not_see() -> None:
    # Proposals hold unless their CPU share over the request is high; the probability rises with the headroom.
    rng = np.random.default_rng(7)

    def sample(count: int) -> tuple[np.ndarray, np.ndarray]:
        rows = rng.uniform(0, 1, (count, len(FEATURES)))
        headroom = rows[:, FEATURES.index("cpu_request_over_p95")]
        return rows, rng.uniform(0, 1, count) < 0.5 + 0.5 * headroom

    rows, labels = sample(3000)
    workloads = np.array([f"w{i // 20}" for i in range(labels.size)])
    model = confidence.fit(rows, labels, workloads, seed=1)
    unseen_rows, unseen_labels = sample(3000)
    estimates = model.estimate_many(unseen_rows)
    for low, high in ((0.5, 0.7), (0.7, 0.9), (0.9, 1.01)):
        inside = (estimates >= low) & (estimates < high)
        assert inside.sum() > 100
        # Conservative: what held is at least the estimate, and not far above it.
        held, estimated = float(unseen_labels[inside].mean()), float(estimates[inside].mean())
        assert estimated - 0.02 <= held <= estimated + 0.15
    assert model.estimate(unseen_rows[0]) == pytest.approx(estimates[0])


def test_the_lower_bound_claims_less_the_fewer_the_backtests() -> None:
    few, many = confidence.lower_bound(9, 10), confidence.lower_bound(900, 1000)
    assert few < many < 0.9
    assert many > 0.88
    assert confidence.lower_bound(0, 0) == 0.0
    assert confidence.lower_bound(10, 10) < 1.0


def test_the_shipped_model_gives_several_levels() -> None:
    model = confidence.shipped()
    rows = np.random.default_rng(3).uniform(0, 3, (200, len(FEATURES)))
    one_by_one = np.array([model.estimate(row) for row in rows])
    assert one_by_one == pytest.approx(model.estimate_many(rows), abs=1e-9)
    assert np.unique(one_by_one).size > 2  # rows in several buckets, not one constant
