"""Rolling-origin backtests of the daily cost forecasts on series built from usage traces.

How a series is built (``daily_costs``): a group of machines stands for a namespace; each
day's cost is the group's mean CPU cores and memory GiB used that day, times 24 hours, times
the unit rates (usage-based, as a cluster whose requests follow usage is billed). Only whole
days count. How it is scored (``backtest``): for each training length, every series is cut
at that day, each method forecasts the next ``horizon_days`` from the days before, and the
forecast is compared with what was spent: MAPE (mean absolute percentage error over the days
with a cost), WAPE (the absolute errors over the cost: MAPE weighted by the cost, which near-idle
days cannot blow up) and the share of days inside the 80% interval (coverage; 80% is calibrated).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kcost.api.units import GIB
from kcost.api.v1alpha1.profile import ForecastMethod
from kcost.ml import forecast
from kcost.ml.forecast import Band

SECONDS_PER_DAY = 86_400
# A day's cost is estimated from the samples it has; under this share of them it is unknown (NaN).
# Low on purpose: the Bitbrains trace has a whole-trace outage (days 15 and 16 keep 60% and 10%).
MIN_DAY_COVERAGE = 0.05
# The first day of a backtest series (any fixed day: prophet only needs dates).
EPOCH = datetime.date(2013, 7, 1)


def daily_costs(
    ts_s: NDArray[np.float64],
    cpu_cores: NDArray[np.float64],
    memory_bytes: NDArray[np.float64],
    *,
    usd_per_core_hour: float,
    usd_per_gib_hour: float,
    start_s: float,
    sample_interval_s: float,
) -> NDArray[np.float64]:
    """One machine's usage cost per day since ``start_s``; NaN for a day with too few samples."""
    day = ((ts_s - start_s) // SECONDS_PER_DAY).astype(np.int64)
    keep = day >= 0
    day, cpu, memory = day[keep], cpu_cores[keep], memory_bytes[keep]
    count = np.bincount(day)
    hourly_usd = cpu * usd_per_core_hour + memory / GIB * usd_per_gib_hour
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_hourly = np.bincount(day, weights=hourly_usd) / count
    complete = count >= MIN_DAY_COVERAGE * SECONDS_PER_DAY / sample_interval_s
    return np.where(complete, mean_hourly * 24, np.nan)


def group_series(per_machine: Sequence[NDArray[np.float64]], group_size: int) -> list[NDArray[np.float64]]:
    """Machines summed in groups of ``group_size`` (in the order given), cut to the days all of them have."""
    days = min(len(series) for series in per_machine)
    grouped = []
    for first in range(0, len(per_machine), group_size):
        total = np.sum([series[:days] for series in per_machine[first : first + group_size]], axis=0)
        grouped.append(total)
    return grouped


@dataclass
class MethodScore:
    """Errors of one method over every (series, origin) it was scored on."""

    method: ForecastMethod
    absolute_percentage_errors: list[float] = field(default_factory=list)
    absolute_errors_usd: list[float] = field(default_factory=list)
    actual_usd: list[float] = field(default_factory=list)
    inside_interval: list[bool] = field(default_factory=list)
    fit_seconds: list[float] = field(default_factory=list)

    @property
    def mape_percent(self) -> float:
        return 100 * float(np.mean(self.absolute_percentage_errors))

    @property
    def wape_percent(self) -> float:
        return 100 * sum(self.absolute_errors_usd) / sum(self.actual_usd)

    @property
    def coverage_percent(self) -> float:
        return 100 * float(np.mean(self.inside_interval))

    @property
    def mean_fit_seconds(self) -> float:
        return float(np.mean(self.fit_seconds))


@dataclass
class BacktestReport:
    """Scores by training length (days) and method."""

    horizon_days: int
    series_count: int
    scores: dict[int, dict[ForecastMethod, MethodScore]] = field(default_factory=dict)

    def pooled(self, train_days: Sequence[int]) -> dict[ForecastMethod, MethodScore]:
        """Each method's errors over the given training lengths together."""
        pooled = {method: MethodScore(method) for method in ForecastMethod}
        for length in train_days:
            for method, score in self.scores[length].items():
                pooled[method].absolute_percentage_errors += score.absolute_percentage_errors
                pooled[method].absolute_errors_usd += score.absolute_errors_usd
                pooled[method].actual_usd += score.actual_usd
                pooled[method].inside_interval += score.inside_interval
                pooled[method].fit_seconds += score.fit_seconds
        return pooled


def _bands(method: ForecastMethod, history: NDArray[np.float64], horizon_days: int) -> list[Band]:
    if method is ForecastMethod.PROPHET:
        return forecast.prophet(history.tolist(), EPOCH, horizon_days)
    if method is ForecastMethod.LINEAR_TREND:
        return forecast.linear_trend(history.tolist(), horizon_days)
    return forecast.seasonal_naive(history.tolist(), horizon_days)


def backtest(series: Mapping[str, NDArray[np.float64]], train_days: Sequence[int], horizon_days: int) -> BacktestReport:
    """Every method forecasting every series from each training length; series too short are skipped."""
    report = BacktestReport(horizon_days, len(series))
    for length in train_days:
        scores = report.scores.setdefault(length, {method: MethodScore(method) for method in ForecastMethod})
        for values in series.values():
            if len(values) < length + horizon_days or np.isnan(values[: length + horizon_days]).any():
                continue
            history, actual = values[:length], values[length : length + horizon_days]
            for method, score in scores.items():
                started = time.perf_counter()
                bands = _bands(method, history, horizon_days)
                score.fit_seconds.append(time.perf_counter() - started)
                for (cost, lower, upper), spent in zip(bands, actual, strict=True):
                    error_usd = abs(max(cost, 0.0) - spent)
                    score.absolute_errors_usd.append(error_usd)
                    score.actual_usd.append(spent)
                    if spent > 0:
                        score.absolute_percentage_errors.append(error_usd / spent)
                    score.inside_interval.append(bool(max(lower, 0.0) <= spent <= upper))
    return report
