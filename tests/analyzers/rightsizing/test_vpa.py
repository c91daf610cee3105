"""The VPA re-implementation honours the recommender's published constants."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kcost.analyzers.rightsizing import histogram
from kcost.analyzers.rightsizing.history import CurrentResources, OomEvent, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation
from kcost.analyzers.rightsizing.vpa import VpaSettings, VpaStrategy
from tests.analyzers.rightsizing.series import GIB, MIB, START_S, history


def bucket_end(value: float, first: float) -> float:
    """The end of the VPA bucket holding ``value`` (first bucket size ``first``, 5% growth), by hand."""
    index = math.floor(math.log(value * 0.05 / first + 1) / math.log(1.05))
    return first * (1.05 ** (index + 1) - 1) / 0.05


def recommend(usage: UsageHistory, settings: VpaSettings | None = None) -> ContainerRecommendation:
    result = VpaStrategy(settings or VpaSettings()).recommend(usage)
    assert isinstance(result, ContainerRecommendation)
    return result


def test_bucket_layout_is_the_vpa_one() -> None:
    assert histogram.CPU_BUCKETS.bucket_count == 176
    assert histogram.MEMORY_BUCKETS.bucket_count == 176
    assert histogram.CPU_BUCKETS.bucket_start(1) == pytest.approx(0.01)
    assert histogram.CPU_BUCKETS.bucket_start(2) == pytest.approx(0.0205)
    assert histogram.CPU_BUCKETS.find_buckets(np.array([0.0, 0.0099, 0.01, 0.0206])).tolist() == [0, 0, 1, 2]


def test_target_is_p90_bucket_end_plus_15_percent() -> None:
    recommendation = recommend(history(1.0, 500 * MIB))
    assert recommendation.cpu_request_cores == pytest.approx(math.ceil(bucket_end(1.0, 0.01) * 1.15 * 1000) / 1000)
    assert recommendation.cpu_request_cores == pytest.approx(1.169)
    expected_memory_mib = math.ceil(bucket_end(500 * MIB, 1e7) * 1.15 / MIB)
    assert recommendation.memory_request_bytes == expected_memory_mib * MIB
    assert recommendation.cpu_limit_cores is None
    assert recommendation.memory_limit_bytes is None
    assert recommendation.evidence.method.startswith("vpa(target p90+15%")


def test_minimum_is_25_millicores_and_250_mib_per_pod() -> None:
    recommendation = recommend(history(0.001, 10 * MIB))
    assert recommendation.cpu_request_cores == 0.025
    assert recommendation.memory_request_bytes == 250 * MIB


def test_histograms_decay_with_a_24h_half_life() -> None:
    # 7.5 days at 0.1 core, then 12 hours at 1 core: 6% of the samples, but 29% of the decayed weight.
    cpu = np.where(np.arange(8 * 288) >= 7.5 * 288, 1.0, 0.1)
    decayed = recommend(history(cpu, GIB, days=8))
    flat = recommend(history(cpu, GIB, days=8), VpaSettings(half_life_hours=24 * 30))
    assert decayed.cpu_request_cores == pytest.approx(1.169)
    assert flat.cpu_request_cores == pytest.approx(math.ceil(bucket_end(0.1, 0.01) * 1.15 * 1000) / 1000)


def test_memory_uses_one_peak_per_day() -> None:
    # Each day idles at 100 MiB and peaks once at 2 GiB: every daily peak is 2 GiB.
    memory = np.where(np.arange(8 * 288) % 288 == 100, 2 * GIB, 100 * MIB)
    recommendation = recommend(history(0.5, memory, days=8))
    assert recommendation.memory_request_bytes == math.ceil(bucket_end(2 * GIB, 1e7) * 1.15 / MIB) * MIB


@pytest.mark.parametrize(
    ("used_mib", "bumped_mib", "other_rule_mib"),
    [
        (200, 300, 240),  # small: used + 100 MiB wins over used × 1.2
        (2000, 2400, 2100),  # large: used × 1.2 wins over used + 100 MiB
    ],
)
def test_oom_bump_is_max_of_used_plus_100mib_and_used_times_1_2(
    used_mib: float, bumped_mib: float, other_rule_mib: float
) -> None:
    kill_index = int(7.5 * 288)
    oom = OomEvent(START_S + kill_index * 300, used_mib * MIB)
    with_oom = recommend(history(0.5, used_mib * MIB, days=8, oom_events=(oom,)))

    def with_peak(peak_mib: float) -> ContainerRecommendation:
        """The same history with a plain sample of ``peak_mib`` at the time of the kill."""
        memory = np.full(8 * 288, used_mib * MIB)
        memory[kill_index] = peak_mib * MIB
        return recommend(history(0.5, memory, days=8))

    assert with_oom.memory_request_bytes == with_peak(bumped_mib).memory_request_bytes
    assert with_oom.memory_request_bytes != with_peak(other_rule_mib).memory_request_bytes
    assert with_oom.evidence.oom_events == 1


def test_limits_keep_the_current_limit_to_request_ratio() -> None:
    current = CurrentResources(cpu_request_cores=1, cpu_limit_cores=2, memory_request_bytes=GIB, memory_limit_bytes=GIB)
    recommendation = recommend(history(1.0, 500 * MIB, current=current))
    assert recommendation.cpu_limit_cores == pytest.approx(2 * recommendation.cpu_request_cores, abs=0.001)
    assert recommendation.memory_limit_bytes == recommendation.memory_request_bytes


def test_bounds_widen_with_short_history() -> None:
    short = recommend(history(1.0, 500 * MIB, days=0.5))
    long = recommend(history(1.0, 500 * MIB, days=8))
    assert short.cpu_request_cores == long.cpu_request_cores  # the target does not depend on confidence
    assert short.confidence < 0.1
    assert long.confidence > 0.99
    assert any(note.startswith("cpu bounds") for note in short.evidence.notes)
