"""kcost's own strategy: each rule of the method, on series whose answer can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy, confidence_features_of
from kcost.analyzers.rightsizing.history import OomEvent, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation, NotEnoughData
from kcost.api.v1alpha1.recommendation import RiskLevel
from kcost.ml import confidence
from tests.analyzers.rightsizing.series import DAY_S, GIB, MIB, START_S, bursts, history


def recommend(usage: UsageHistory, settings: AdaptiveSettings | None = None) -> ContainerRecommendation:
    result = AdaptiveStrategy(settings or AdaptiveSettings()).recommend(usage)
    assert isinstance(result, ContainerRecommendation)
    return result


def test_steady_series_by_hand() -> None:
    recommendation = recommend(history(0.4, GIB))
    assert recommendation.cpu_request_cores == pytest.approx(0.46)  # 0.4 × 1.15
    assert recommendation.cpu_limit_cores is None
    assert recommendation.memory_request_bytes == 1229 * MIB  # 1024 MiB × 1.2, rounded up
    assert recommendation.memory_limit_bytes == 1332 * MIB  # peak × 1.3 (more than peak + 256 MiB)
    assert recommendation.evidence.method.startswith("kcost(cpu p85+15%")
    assert recommendation.evidence.sample_count == 14 * 288


def test_cpu_is_rounded_up_to_5_millicores() -> None:
    assert recommend(history(0.401, GIB)).cpu_request_cores == pytest.approx(0.465)  # 0.46115 → 0.465


def test_rare_bursts_are_not_paid_for_but_frequent_ones_are() -> None:
    count = 14 * 288
    rare = recommend(history(bursts(count, 0.10, 0.1, 2.0), GIB))
    frequent = recommend(history(bursts(count, 0.20, 0.1, 2.0), GIB))
    assert rare.cpu_request_cores == pytest.approx(0.115)
    assert frequent.cpu_request_cores == pytest.approx(2.3)


def test_short_history_covers_more_of_the_tail() -> None:
    # 10% bursts: left out with 14 days of evidence (p85), covered with 7 (p92.5).
    count = 7 * 288
    recommendation = recommend(history(bursts(count, 0.10, 0.1, 2.0), GIB, days=7))
    assert recommendation.cpu_request_cores == pytest.approx(2.3)
    proposed = AdaptiveStrategy(AdaptiveSettings()).propose(history(bursts(count, 0.10, 0.1, 2.0), GIB, days=7))
    assert isinstance(proposed, ContainerRecommendation)
    assert proposed.confidence == pytest.approx(0.5)  # before calibration: the share of the horizon covered
    # The limit margin grows with √(horizon ÷ observed days): 30% × √2.
    assert recommendation.memory_limit_bytes == np.ceil(1024 * (1 + 0.3 * np.sqrt(2))) * MIB


def test_memory_only_series_gets_the_cpu_floor() -> None:
    recommendation = recommend(history(0.0, GIB))
    assert recommendation.cpu_request_cores == 0.01
    assert recommendation.memory_request_bytes == 1229 * MIB
    assert any("CPU use is all zero" in note for note in recommendation.evidence.notes)


def test_cpu_only_series_gets_the_memory_floor_and_no_limit() -> None:
    recommendation = recommend(history(0.4, 0.0))
    assert recommendation.cpu_request_cores == pytest.approx(0.46)
    assert recommendation.memory_request_bytes == 64 * MIB
    assert recommendation.memory_limit_bytes is None


def test_growing_memory_gets_headroom_for_the_horizon() -> None:
    count = 14 * 288
    growing = recommend(history(0.4, np.linspace(GIB, 2 * GIB, count)))
    flat = recommend(history(0.4, np.full(count, 2 * GIB)))
    assert flat.memory_limit_bytes == pytest.approx(2 * GIB * 1.3, abs=MIB)
    # About 1 GiB more over the next 14 days, on top of the peak's own margin.
    assert growing.memory_limit_bytes is not None
    assert growing.memory_limit_bytes > 2 * GIB * 1.3 + 0.9 * GIB
    assert growing.risk_level is RiskLevel.HIGH
    assert any("memory peaks grow" in note for note in growing.evidence.notes)


def test_volatile_daily_peaks_widen_the_limit() -> None:
    days = np.floor(np.arange(14 * 288) / 288)
    memory = np.where(days % 2 == 0, GIB, 2 * GIB)  # daily peaks alternate 1 and 2 GiB: cv = 1/3
    recommendation = recommend(history(0.4, memory))
    assert recommendation.memory_limit_bytes == np.ceil(2048 * (1 + 0.3 + 1 / 3)) * MIB


def test_small_containers_get_at_least_256_mib_above_the_peak() -> None:
    assert recommend(history(0.4, 100 * MIB)).memory_limit_bytes == 356 * MIB


def test_an_oom_kill_raises_the_limit_and_the_risk() -> None:
    oom = OomEvent(START_S + 10 * DAY_S, 3 * GIB)
    recommendation = recommend(history(0.4, GIB, oom_events=(oom,)))
    assert recommendation.memory_limit_bytes == np.ceil(3 * 1024 * 1.2 * 1.3) * MIB
    assert recommendation.risk_level is RiskLevel.HIGH  # the rules' floor: the model never saw an OOM kill


def test_recent_usage_weighs_more() -> None:
    # 13 days at 0.1 core, the last day at 1 core: 7% of the samples, 13% of the weight with a 7-day half-life.
    cpu = np.where(np.arange(14 * 288) >= 13 * 288, 1.0, 0.1)
    assert recommend(history(cpu, GIB)).cpu_request_cores == pytest.approx(0.115)
    assert recommend(history(cpu, GIB), AdaptiveSettings(half_life_days=0.5)).cpu_request_cores == pytest.approx(1.15)


@pytest.mark.parametrize(("days", "step_s"), [(47 * 300 / DAY_S, 300), (11 / 24, 60)])
def test_too_little_history_is_not_enough_data(days: float, step_s: float) -> None:
    result = AdaptiveStrategy(AdaptiveSettings()).recommend(history(0.4, GIB, days=days, step_s=step_s))
    assert isinstance(result, NotEnoughData)
    assert result.reason.startswith("not enough data")


def test_exactly_the_minimum_history_is_enough() -> None:
    twelve_hours = history(0.2, 300 * MIB, days=0.5, step_s=60)  # 720 samples at 60 s
    assert twelve_hours.sample_count == 720
    assert twelve_hours.covered_s == 12 * 3600
    assert isinstance(AdaptiveStrategy(AdaptiveSettings()).recommend(twelve_hours), ContainerRecommendation)
    one_short = history(0.2, 300 * MIB, days=0.5 - 60 / DAY_S, step_s=60)
    assert isinstance(AdaptiveStrategy(AdaptiveSettings()).recommend(one_short), NotEnoughData)


def test_confidence_is_the_shipped_models_estimate_and_risk_follows_it() -> None:
    usage = history(bursts(14 * 288, 0.05, 0.2, 0.4), GIB)
    recommendation = recommend(usage)
    expected = confidence.shipped().estimate(confidence_features_of(usage, recommendation))
    assert recommendation.confidence == pytest.approx(expected)
    assert recommendation.risk_level.rank >= confidence.risk_level(expected).rank


def test_a_two_level_workload_is_not_confident() -> None:
    # The tail of the issue: mostly 0.12 core, 12% of the time 1.11; p85 sizes it at the low level.
    two_level = recommend(history(bursts(14 * 288, 0.12, 0.12, 1.11), GIB))
    assert two_level.cpu_request_cores < 1.11
    assert two_level.confidence < confidence.LOW_RISK_FROM
    assert two_level.risk_level is not RiskLevel.LOW
