"""Anomalous hours: hourly windows, the robust z-score baseline and the IsolationForest."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.ml import anomaly
from kcost.ml.anomaly import Method

DAYS = 7
STEP_S = 300.0


def steady(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A week at 5 minutes: CPU around 0.5 cores with a daily wave, memory around 1 GiB, both noisy."""
    rng = np.random.default_rng(seed)
    ts_s = np.arange(0.0, DAYS * 86400.0, STEP_S)
    cpu = 0.5 + 0.1 * np.sin(2 * np.pi * ts_s / 86400.0) + rng.normal(0, 0.02, ts_s.size)
    memory = 2.0**30 + rng.normal(0, 2.0**24, ts_s.size)
    return ts_s, cpu, memory


def test_hourly_windows_are_the_mean_of_each_full_clock_hour() -> None:
    ts_s = np.array([0.0, 1200.0, 2400.0, 3600.0, 4800.0, 6000.0, 7300.0, 8000.0, 9000.0, 10800.0])
    usage = anomaly.hourly(ts_s, np.array([1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 9.0, 10.0, 11.0, 100.0]))
    assert usage.start_s.tolist() == [0.0, 3600.0, 7200.0]  # the last hour has 1 sample of the usual 3
    assert usage.levels[:, 0].tolist() == [2.0, 6.0, 10.0]


def test_a_batch_run_still_under_way_at_the_window_end_is_not_judged() -> None:
    # An hourly job runs 20 minutes from :00, ramping up; the window ends 15 minutes into a run.
    # That hour has 3 samples of the usual 4 (enough by count) but only the run's low start.
    minutes = np.array([0.0, 5.0, 10.0, 15.0])
    ts_s = np.concatenate(
        [hour * 3600.0 + minutes * 60.0 for hour in range(48)] + [[48 * 3600.0 + m * 60 for m in (0, 5, 10)]]
    )
    cpu = np.tile(np.array([0.1, 0.3, 1.0, 3.0]), 49)[: ts_s.size]
    until_s = 48 * 3600.0 + 15 * 60.0
    judged = anomaly.hourly(ts_s, cpu, until_s=until_s)
    assert judged.start_s[-1] == 47 * 3600.0, "the hour the window ends in is left out"
    assert anomaly.detect_robust_z(judged).count == 0
    assert anomaly.detect_robust_z(anomaly.hourly(ts_s, cpu)).count == 1, "judged by count alone, it looks anomalous"


@pytest.mark.parametrize("method", list(Method))
def test_normal_usage_has_no_anomalous_hour(method: Method) -> None:
    ts_s, cpu, memory = steady()
    assert anomaly.detect(anomaly.hourly(ts_s, cpu, memory), method).count == 0


@pytest.mark.parametrize("method", list(Method))
def test_a_two_hour_spike_is_found_where_it_is(method: Method) -> None:
    ts_s, cpu, memory = steady()
    start_s = 4 * 86400.0 + 10 * 3600.0
    cpu[(ts_s >= start_s) & (ts_s < start_s + 7200.0)] += 3.0
    found = anomaly.detect(anomaly.hourly(ts_s, cpu, memory), method)
    assert found.start_s[found.anomalous].tolist() == [start_s, start_s + 3600.0]


def test_a_drop_to_nothing_is_found_by_the_baseline() -> None:
    ts_s, cpu, memory = steady()
    start_s = 5 * 86400.0
    inside = (ts_s >= start_s) & (ts_s < start_s + 6 * 3600.0)
    cpu[inside] *= 0.05
    memory[inside] *= 0.05
    found = anomaly.detect_robust_z(anomaly.hourly(ts_s, cpu, memory))
    assert found.count == 6
    assert found.sample_mask(ts_s).tolist() == inside.tolist()


def test_less_than_a_day_says_nothing() -> None:
    ts_s, cpu, memory = steady()
    cpu[-1] = 100.0
    short = ts_s < 20 * 3600.0
    cpu[short.nonzero()[0][-1]] = 100.0
    for method in Method:
        assert anomaly.detect(anomaly.hourly(ts_s[short], cpu[short], memory[short]), method).count == 0


def test_recent_tells_whether_usage_is_anomalous_now() -> None:
    ts_s, cpu, memory = steady()
    cpu[ts_s >= ts_s[-1] - 3600.0] += 3.0
    found = anomaly.detect(anomaly.hourly(ts_s, cpu, memory))
    last_hour_s = float(found.start_s[-1])
    assert found.recent(last_hour_s)
    assert not found.recent(last_hour_s + 3600.0)


def test_a_flat_series_does_not_divide_by_zero() -> None:
    ts_s = np.arange(0.0, 3 * 86400.0, STEP_S, dtype=np.float64)
    flat = np.full(ts_s.size, 0.25)
    flat[-12:] = 0.5
    found = anomaly.detect_robust_z(anomaly.hourly(ts_s, flat))
    assert np.isfinite(found.scores).all()
    assert found.start_s[found.anomalous].tolist() == [float(ts_s[-1] // 3600 * 3600)]
