"""The confidence model's features: interval-independent, and they see the proposal's headroom."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.ml import confidence_features
from kcost.ml.confidence_features import FEATURES, FloatArray, Proposal

DAY_S = 86_400.0
GIB = 1024.0**3


def _diurnal(step_s: float, days: float = 14) -> tuple[FloatArray, FloatArray, FloatArray]:
    ts_s = np.arange(0, days * DAY_S, step_s, dtype=np.float64)
    cpu: FloatArray = 0.5 + 0.3 * np.sin(2 * np.pi * ts_s / DAY_S)
    memory: FloatArray = GIB * (1 + 0.01 * ts_s / DAY_S)  # 1% a day
    return ts_s, cpu, memory


def _named(row: np.ndarray) -> dict[str, float]:
    return dict(zip(FEATURES, row.tolist(), strict=True))


def test_features_do_not_depend_on_the_sampling_interval() -> None:
    proposal = Proposal(cpu_request_cores=0.7, memory_request_bytes=1.2 * GIB, memory_limit_bytes=1.5 * GIB)
    every_minute = confidence_features.features(*_diurnal(60.0), 0, proposal)
    every_five = confidence_features.features(*_diurnal(300.0), 0, proposal)
    assert every_minute == pytest.approx(every_five, rel=0.02, abs=0.01)


def test_features_describe_the_history_and_the_headroom() -> None:
    ts_s, cpu, memory = _diurnal(300.0)
    tight = _named(confidence_features.features(ts_s, cpu, memory, 2, Proposal(0.5, GIB, None)))
    roomy = _named(confidence_features.features(ts_s, cpu, memory, 0, Proposal(0.9, 2 * GIB, 3 * GIB)))
    assert tight["history_days"] == pytest.approx(14, abs=0.01)
    assert tight["memory_trend_per_day"] == pytest.approx(0.01, rel=0.1)
    assert tight["oom_events"] == 2
    # Half the samples are above the mean of a sine, none above 0.9.
    assert tight["cpu_share_over_request"] == pytest.approx(0.5, abs=0.01)
    assert roomy["cpu_share_over_request"] == 0.0
    assert roomy["cpu_request_over_p95"] > tight["cpu_request_over_p95"]
    assert tight["memory_limit_over_peak"] == 100.0  # no limit: as far above the peak as the scale goes
    assert roomy["memory_limit_over_peak"] == pytest.approx(3 / 1.13, rel=0.01)


def test_an_unmeasured_resource_gives_finite_features() -> None:
    ts_s = np.arange(0, 2 * DAY_S, 300.0, dtype=np.float64)
    zeros = np.zeros(ts_s.size)
    row = confidence_features.features(ts_s, zeros, zeros, 0, Proposal(0.01, GIB, None))
    assert np.isfinite(row).all()


def test_an_empty_history_is_refused() -> None:
    with pytest.raises(ValueError, match="empty history"):
        confidence_features.features(np.zeros(0), np.zeros(0), np.zeros(0), 0, Proposal(1, GIB, None))
