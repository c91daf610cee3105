"""The KRR "simple" re-implementation honours its published defaults."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.analyzers.rightsizing.history import OomEvent, UsageHistory
from kcost.analyzers.rightsizing.krr_simple import KrrSimpleSettings, KrrSimpleStrategy
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation, NotEnoughData
from tests.analyzers.rightsizing.series import MIB, START_S, history


def recommend(usage: UsageHistory, settings: KrrSimpleSettings | None = None) -> ContainerRecommendation:
    result = KrrSimpleStrategy(settings or KrrSimpleSettings()).recommend(usage)
    assert isinstance(result, ContainerRecommendation)
    return result


def test_cpu_is_p95_without_limit_and_memory_is_max_plus_15_percent() -> None:
    cpu = np.tile(np.arange(1.0, 101.0) / 100, 40)  # p95 of 0.01..1.00 is 0.9505
    memory = np.full(cpu.size, 500 * MIB)
    memory[1234] = 1000 * MIB
    recommendation = recommend(history(cpu, memory, days=cpu.size * 300 / 86_400))
    assert recommendation.cpu_request_cores == pytest.approx(0.951)
    assert recommendation.cpu_limit_cores is None
    assert recommendation.memory_request_bytes == 1150 * MIB
    assert recommendation.memory_limit_bytes == 1150 * MIB


def test_floors_are_10_millicores_and_100_mib() -> None:
    recommendation = recommend(history(0.001, 20 * MIB))
    assert (recommendation.cpu_request_cores, recommendation.memory_request_bytes) == (0.01, 100 * MIB)


def test_fewer_than_100_points_is_not_enough_data() -> None:
    result = KrrSimpleStrategy(KrrSimpleSettings()).recommend(history(0.5, 500 * MIB, days=99 * 300 / 86_400))
    assert isinstance(result, NotEnoughData)
    assert result.sample_count == 99
    assert "needs 100 samples and 3h" in result.reason
    assert isinstance(recommend(history(0.5, 500 * MIB, days=100 * 300 / 86_400)), ContainerRecommendation)


def test_less_than_3_hours_is_not_enough_data_even_with_many_points() -> None:
    two_hours = history(0.5, 500 * MIB, days=2 / 24, step_s=30)  # 240 points
    result = KrrSimpleStrategy(KrrSimpleSettings()).recommend(two_hours)
    assert isinstance(result, NotEnoughData)
    assert result.history_hours == pytest.approx(2)


def test_only_the_last_14_days_count() -> None:
    memory = np.full(20 * 288, 500 * MIB)
    memory[0] = 4000 * MIB  # 20 days ago: outside KRR's window
    recommendation = recommend(history(0.5, memory, days=20))
    assert recommendation.memory_request_bytes == 575 * MIB


def test_oomkill_data_raises_memory_when_enabled() -> None:
    usage = history(0.5, 1000 * MIB, oom_events=(OomEvent(START_S + 86_400, 2000 * MIB),))
    assert recommend(usage).memory_request_bytes == 1150 * MIB
    assert recommend(usage, KrrSimpleSettings(use_oomkill_data=True)).memory_request_bytes == 2500 * MIB
