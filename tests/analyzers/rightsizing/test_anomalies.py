"""Anomaly-aware sizing: anomalous hours are left out of what the strategy learns from."""

from __future__ import annotations

import numpy as np

from kcost.analyzers.rightsizing import anomalies, strategies
from kcost.analyzers.rightsizing.history import OomEvent, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation

HOUR_S = 3600.0


def history(spike_hours_from_end: float | None = None, spike_hours: int = 3) -> UsageHistory:
    """A week at 5 minutes around 0.5 cores and 1 GiB, with a 4-core spike ending so many hours before the end."""
    rng = np.random.default_rng(2)
    ts_s = np.arange(0.0, 7 * 86400.0, 300.0, dtype=np.float64)
    cpu = 0.5 + rng.normal(0, 0.02, ts_s.size)
    memory = 2.0**30 + rng.normal(0, 2.0**24, ts_s.size)
    if spike_hours_from_end is not None:
        end_s = (ts_s[-1] // HOUR_S + 1) * HOUR_S - spike_hours_from_end * HOUR_S
        cpu[(ts_s >= end_s - spike_hours * HOUR_S) & (ts_s < end_s)] += 4.0
    return UsageHistory(ts_s, cpu, memory, oom_events=(OomEvent(100.0, 2.0**30),))


def cpu_request(window: UsageHistory) -> float:
    answer = strategies.create("kcost").recommend(window)
    assert isinstance(answer, ContainerRecommendation)
    return answer.cpu_request_cores


def test_a_past_spike_is_left_out_of_the_sizing_but_not_ongoing() -> None:
    spiky = history(spike_hours_from_end=48, spike_hours=12)  # 7% of the week: above the strategy's p95
    screened = anomalies.screen(spiky)
    assert screened.detection is not None
    assert screened.detection.count == 12
    assert screened.history.sample_count == spiky.sample_count - 144
    assert screened.history.oom_events == spiky.oom_events
    assert not screened.ongoing
    assert cpu_request(screened.history) < cpu_request(spiky)
    assert abs(cpu_request(screened.history) - cpu_request(history())) <= 0.01
    found = anomalies.evidence([screened])
    assert found is not None
    assert (found.anomalous_hours, found.ongoing, found.method) == (12, False, "robust-z")


def test_a_spike_in_the_last_hours_is_ongoing() -> None:
    screened = anomalies.screen(history(spike_hours_from_end=0, spike_hours=2))
    assert screened.ongoing
    found = anomalies.evidence([anomalies.screen(history()), screened])
    assert found is not None
    assert found.ongoing


def test_normal_usage_is_kept_whole() -> None:
    normal = history()
    screened = anomalies.screen(normal)
    assert screened.history is normal
    assert anomalies.evidence([screened]) is None


def test_a_pattern_flagged_too_often_is_not_an_anomaly() -> None:
    busy = history()
    every_fourth_hour = (busy.ts_s // HOUR_S) % 4 == 0
    busy.cpu_cores[every_fourth_hour] += 4.0
    screened = anomalies.screen(busy)
    assert screened.detection is None
    assert screened.history is busy
