"""The evidence's daily CPU sparkline."""

from __future__ import annotations

import numpy as np

from kcost.analyzers.rightsizing.analyzer import _sparkline
from kcost.analyzers.rightsizing.history import UsageHistory


def test_the_sparkline_is_each_days_mean_cpu_skipping_days_without_samples() -> None:
    rng = np.random.default_rng(5)
    steps_s = np.arange(0.0, 10 * 86400, 600)
    ts_s = np.array(steps_s[(steps_s < 3 * 86400) | (steps_s >= 5 * 86400)], dtype=np.float64)  # days 3, 4 missing
    cpu = rng.random(ts_s.size)
    history = UsageHistory(ts_s=ts_s, cpu_cores=cpu, memory_bytes=np.zeros(ts_s.size))
    days = (ts_s // 86400).astype(int)
    expected = [round(float(cpu[days == day].mean()), 4) for day in range(10) if (days == day).any()]
    assert _sparkline(history) == expected
    assert len(expected) == 8
    assert _sparkline(UsageHistory(ts_s=np.zeros(0), cpu_cores=np.zeros(0), memory_bytes=np.zeros(0))) == []


def test_the_sparkline_keeps_the_last_64_days_means_as_numpy_s_mean_gives_them() -> None:
    rng = np.random.default_rng(6)
    for _ in range(200):
        size = int(rng.integers(1, 5000))
        ts_s = np.sort(rng.uniform(0.0, float(rng.choice([3600.0, 3 * 86400.0, 100 * 86400.0])), size))
        cpu = rng.lognormal(0.0, 1.0, size)
        history = UsageHistory(ts_s=ts_s, cpu_cores=cpu, memory_bytes=cpu)
        days = ((ts_s - ts_s[0]) // 86400).astype(int)
        starts = np.flatnonzero(np.append(True, days[1:] != days[:-1]))
        expected = [round(float(day.mean()), 4) for day in np.split(cpu, starts[1:])][-64:]
        assert _sparkline(history) == expected
