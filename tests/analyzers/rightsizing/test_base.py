from __future__ import annotations

import numpy as np
import pytest

from kcost.analyzers.rightsizing import base
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import NotEnoughData
from kcost.api.v1alpha1.recommendation import RiskLevel
from tests.analyzers.rightsizing.series import GIB, MIB, history


class Fixed(base.Strategy[base.StrategySettings]):
    """Answers the same raw values whatever the history."""

    name = "fixed"
    settings_model = base.StrategySettings

    def __init__(self, sizing: base.Sizing, settings: base.StrategySettings | None = None) -> None:
        super().__init__(settings or base.StrategySettings())
        self.sizing = sizing

    def size(self, window: UsageHistory) -> base.Sizing:
        return self.sizing


def sizing(cpu: float, memory: float, memory_limit: float | None = None, cpu_limit: float | None = None) -> base.Sizing:
    return base.Sizing(cpu, cpu_limit, memory, memory_limit, confidence=2.0, risk_level=RiskLevel.LOW, method="m")


def test_round_up_keeps_values_on_a_step_despite_float_noise() -> None:
    assert base.round_up(0.025, 0.005) == pytest.approx(0.025)
    assert base.round_up(0.1 + 0.2, 0.1) == pytest.approx(0.3)
    assert base.round_up(0.0251, 0.005) == pytest.approx(0.03)
    assert base.round_up(100.5 * MIB, MIB) == 101 * MIB


def test_values_are_rounded_up_to_steps_and_clamped() -> None:
    recommendation = Fixed(sizing(0.1234, 300.2 * MIB, memory_limit=100 * MIB, cpu_limit=0.01)).recommend(
        history(0.1, 100 * MIB, days=1)
    )
    assert not isinstance(recommendation, NotEnoughData)
    assert recommendation.cpu_request_cores == 0.125
    assert recommendation.memory_request_bytes == 301 * MIB
    # Limits below the request are lifted to it; confidence is kept within 0..1.
    assert recommendation.cpu_limit_cores == 0.125
    assert recommendation.memory_limit_bytes == 301 * MIB
    assert recommendation.confidence == 1.0


def test_floors_and_ceilings_come_from_the_settings() -> None:
    settings = base.StrategySettings(cpu_min_cores=0.05, memory_min_mib=128, cpu_max_cores=2, memory_max_gib=4)
    tiny = Fixed(sizing(0.0, 1.0), settings).recommend(history(0.0, 0.0, days=1))
    huge = Fixed(sizing(99.0, 99 * GIB, memory_limit=200 * GIB), settings).recommend(history(0.0, 0.0, days=1))
    assert not isinstance(tiny, NotEnoughData)
    assert not isinstance(huge, NotEnoughData)
    assert (tiny.cpu_request_cores, tiny.memory_request_bytes) == (0.05, 128 * MIB)
    assert (huge.cpu_request_cores, huge.memory_request_bytes, huge.memory_limit_bytes) == (2, 4 * GIB, 4 * GIB)


def test_only_the_last_history_days_are_read_and_reported() -> None:
    settings = base.StrategySettings(history_days=2)
    recommendation = Fixed(sizing(1, GIB), settings).recommend(history(np.arange(4032.0), GIB))
    assert not isinstance(recommendation, NotEnoughData)
    evidence = recommendation.evidence
    assert evidence.sample_count == 2 * 288 + 1  # the cut is inclusive of a sample exactly 2 days back
    assert evidence.cpu_cores.max == 4031
    assert evidence.cpu_peak_at_s == evidence.window_end_s
    assert evidence.method == "m"


def test_no_samples_is_not_enough_data() -> None:
    empty = UsageHistory(ts_s=np.zeros(0), cpu_cores=np.zeros(0), memory_bytes=np.zeros(0))
    assert Fixed(sizing(1, GIB)).recommend(empty) == NotEnoughData("no samples", 0, 0.0)


def test_a_history_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="one length"):
        UsageHistory(ts_s=np.zeros(3), cpu_cores=np.zeros(2), memory_bytes=np.zeros(3))
    with pytest.raises(ValueError, match="time order"):
        UsageHistory(ts_s=np.array([2.0, 1.0]), cpu_cores=np.zeros(2), memory_bytes=np.zeros(2))
