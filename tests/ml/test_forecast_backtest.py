"""The backtest's daily cost series and scores, on samples whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kcost.api.units import GIB
from kcost.api.v1alpha1.profile import ForecastMethod
from kcost.ml import forecast_backtest

DAY_S = forecast_backtest.SECONDS_PER_DAY


def test_a_days_cost_is_its_mean_usage_priced_for_24_hours_and_a_day_without_samples_is_unknown() -> None:
    # Day 0: 2 cores and 4 GiB all day; day 1: no samples; day 2: 1 core and 0 GiB in its one sample.
    ts = np.concatenate([np.arange(0, DAY_S, 300.0), [2 * DAY_S + 600.0]])
    cpu = np.concatenate([np.full(288, 2.0), [1.0]])
    memory = np.concatenate([np.full(288, 4.0 * GIB), [0.0]])
    costs = forecast_backtest.daily_costs(
        ts, cpu, memory, usd_per_core_hour=0.5, usd_per_gib_hour=0.25, start_s=0.0, sample_interval_s=300.0
    )
    assert costs[0] == pytest.approx((2 * 0.5 + 4 * 0.25) * 24)
    assert math.isnan(costs[1])
    assert math.isnan(costs[2]), "one sample of 288 is under the day's minimum coverage"


def test_a_weekly_series_is_forecast_exactly_by_seasonal_naive_and_scored_so() -> None:
    week = [100.0, 100.0, 100.0, 100.0, 100.0, 40.0, 40.0]
    series = {"weekly": np.array(week * 4)}
    report = forecast_backtest.backtest(series, [14, 21], 7)
    naive = report.pooled([14, 21])[ForecastMethod.SEASONAL_NAIVE]
    assert naive.mape_percent == 0.0
    assert naive.wape_percent == 0.0
    assert naive.coverage_percent == 100.0
    trend = report.scores[14][ForecastMethod.LINEAR_TREND]
    assert trend.mape_percent > 10, "a line misses the weekends"
    assert len(trend.fit_seconds) == 1
    assert forecast_backtest.backtest(series, [25], 7).scores[25][ForecastMethod.SEASONAL_NAIVE].fit_seconds == [], (
        "a series shorter than training plus horizon is skipped"
    )
