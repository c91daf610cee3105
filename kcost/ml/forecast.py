"""Daily cost forecast with intervals: seasonal-naive by default (it won the backtest), prophet and a trend too.

Three methods, all over a daily cost series (one amount per consecutive day):

- ``prophet``: trend plus weekly seasonality (additive), 80% intervals from posterior samples;
- ``seasonal-naive``: next week repeats the last one, intervals from the week-on-week changes;
- ``linear-trend``: least squares over the days, intervals from the residuals.

``kcost bench forecast`` backtests them on real traces; ``DEFAULT_METHOD`` is whichever won
there (seasonal-naive: prophet did not beat it). Prophet needs ``MIN_PROPHET_DAYS``: with less
than two weekly cycles it cannot tell a weekly pattern from a trend (its backtest errors under
14 days are the worst of all), so shorter series get seasonal-naive and the forecast says why.
Everything is deterministic: prophet's optimizer and its posterior samples are seeded. Prophet
(with pandas and cmdstan, most of an image's size) is the optional extra ``kcost[prophet]``: the
default method never needs it.
"""

from __future__ import annotations

import datetime
import logging
import math
import statistics
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from kcost.api.v1alpha1.profile import ForecastMethod

HORIZON_DAYS = 30
INTERVAL_WIDTH = 0.8
WEEK_DAYS = 7
# Two weekly cycles: fewer and prophet's weekly component absorbs the trend (or the reverse).
MIN_PROPHET_DAYS = 14
# Enough posterior samples for stable 10% / 90% quantiles; fit and predict take 0.7 s on an idle core.
PROPHET_SAMPLES = 100
SEED = 0
PROPHET_EXTRA = "kcost[prophet]"
# Prophet (cmdstan) and its sampler use process-wide state: one fit at a time keeps them deterministic.
_PROPHET_LOCK = threading.Lock()


# The backtest verdict of `kcost bench forecast` on the Bitbrains traces (7 days ahead, 14 series,
# 6 rolling origins): with ≥14 days of history seasonal-naive had the lowest pooled MAPE (330%,
# WAPE 97%); prophet's MAPE per origin was 311-537% (seasonal-naive 255-393%) and its 80% intervals
# held only 30-72% of the days. Prophet stays one argument away (``method``).
DEFAULT_METHOD = ForecastMethod.SEASONAL_NAIVE


class ProphetMissingError(ImportError):
    """Prophet was asked for where the optional extra ``kcost[prophet]`` is not installed."""


@dataclass(frozen=True)
class ForecastDay:
    """The forecast cost of one day and its interval (``INTERVAL_WIDTH`` of outcomes fall inside)."""

    day: datetime.date
    cost_usd: float
    lower_usd: float
    upper_usd: float


@dataclass(frozen=True)
class CostForecast:
    """Daily costs ahead, the method that made them and why that method."""

    method: ForecastMethod
    reason: str
    history_days: int
    days: tuple[ForecastDay, ...]


def _z(width: float) -> float:
    """The normal quantile that leaves ``width`` of outcomes inside ±z."""
    return statistics.NormalDist().inv_cdf(0.5 + width / 2)


def _clipped(day: datetime.date, cost: float, lower: float, upper: float) -> ForecastDay:
    # A cost is never negative; the interval keeps its order after clipping.
    return ForecastDay(day, max(cost, 0.0), max(lower, 0.0), max(upper, 0.0))


Band = tuple[float, float, float]  # cost, lower, upper of one day ahead


def seasonal_naive(costs_usd: Sequence[float], horizon_days: int, width: float = INTERVAL_WIDTH) -> list[Band]:
    """Each day ahead costs what the same weekday cost in the last week (the last day's cost under a week).

    The spread is that of the week-on-week changes (day-on-day under two weeks), widening with
    the square root of the weeks ahead, as for a seasonal random walk.
    """
    season = WEEK_DAYS if len(costs_usd) >= WEEK_DAYS else 1
    changes = [costs_usd[i] - costs_usd[i - season] for i in range(season, len(costs_usd))]
    if len(changes) < 2 and season > 1:
        changes = [costs_usd[i] - costs_usd[i - 1] for i in range(1, len(costs_usd))]
    spread = statistics.pstdev(changes) if len(changes) >= 2 else 0.0
    last_season = costs_usd[-season:]
    bands = []
    for ahead in range(horizon_days):
        cost = last_season[ahead % season]
        half = _z(width) * spread * math.sqrt(ahead // season + 1)
        bands.append((cost, cost - half, cost + half))
    return bands


def linear_trend(costs_usd: Sequence[float], horizon_days: int, width: float = INTERVAL_WIDTH) -> list[Band]:
    """The least-squares line through the days, extended; prediction intervals from its residuals."""
    count = len(costs_usd)
    if count < 3:
        return seasonal_naive(costs_usd, horizon_days, width)
    days = range(count)
    fit = statistics.linear_regression(days, costs_usd)
    residuals = [cost - (fit.intercept + fit.slope * day) for day, cost in zip(days, costs_usd, strict=True)]
    sigma = math.sqrt(sum(r * r for r in residuals) / (count - 2))
    mean_day = (count - 1) / 2
    spread_days = sum((day - mean_day) ** 2 for day in days)
    bands = []
    for ahead in range(horizon_days):
        day = count + ahead
        cost = fit.intercept + fit.slope * day
        half = _z(width) * sigma * math.sqrt(1 + 1 / count + (day - mean_day) ** 2 / spread_days)
        bands.append((cost, cost - half, cost + half))
    return bands


def prophet(
    costs_usd: Sequence[float], first_day: datetime.date, horizon_days: int, width: float = INTERVAL_WIDTH
) -> list[Band]:
    """Prophet with a linear trend and weekly seasonality; intervals from ``PROPHET_SAMPLES`` seeded samples."""
    model_class = _prophet_class()
    import pandas  # type: ignore[import-untyped]  # noqa: PLC0415 - installed with prophet; no stubs pinned

    history = pandas.DataFrame(
        {"ds": pandas.date_range(first_day, periods=len(costs_usd), freq="D"), "y": list(costs_usd)}
    )
    with _PROPHET_LOCK, warnings.catch_warnings():
        # Prophet still uses pandas APIs that pandas now deprecates: noise in kcost's logs, not its concern.
        warnings.filterwarnings("ignore", module=r"prophet\.")
        model = model_class(
            weekly_seasonality=True,
            yearly_seasonality=False,
            daily_seasonality=False,
            interval_width=width,
            uncertainty_samples=PROPHET_SAMPLES,
        )
        model.fit(history, seed=SEED)
        numpy.random.seed(SEED)  # prophet draws its trend and noise samples from numpy's global generator
        future = model.predict(model.make_future_dataframe(periods=horizon_days, include_history=False))
    return [(float(row.yhat), float(row.yhat_lower), float(row.yhat_upper)) for row in future.itertuples(index=False)]


def _prophet_class() -> Any:
    # Prophet logs an error when plotly is missing (kcost never plots) and cmdstanpy chats at INFO.
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    try:
        from prophet import Prophet  # noqa: PLC0415 - seconds to import: only a fit pays for it
    except ImportError as error:
        raise ProphetMissingError(
            f"forecast method {ForecastMethod.PROPHET.value!r} needs prophet, which this installation lacks "
            f"({error.msg}): install the optional extra with `pip install '{PROPHET_EXTRA}'`, or choose "
            f"{DEFAULT_METHOD.value!r} (the default) or {ForecastMethod.LINEAR_TREND.value!r}"
        ) from error
    return Prophet


def choose_method(history_days: int, wanted: ForecastMethod = DEFAULT_METHOD) -> tuple[ForecastMethod, str]:
    """The method for a history of ``history_days`` days, and the reason, said so a user can read it."""
    had = f"{history_days} day{'' if history_days == 1 else 's'} of history"
    repeats = "next weeks repeat the last one" if history_days >= WEEK_DAYS else "the last day's cost repeats"
    if wanted is ForecastMethod.PROPHET and history_days < MIN_PROPHET_DAYS:
        return ForecastMethod.SEASONAL_NAIVE, (
            f"{had}: prophet needs {MIN_PROPHET_DAYS} (two weekly cycles), so {repeats}"
        )
    if wanted is ForecastMethod.LINEAR_TREND and history_days < 3:
        return ForecastMethod.SEASONAL_NAIVE, f"{had}: a trend needs 3, so {repeats}"
    if wanted is ForecastMethod.SEASONAL_NAIVE:
        return wanted, (
            f"{had}: {repeats} (seasonal-naive; prophet did not beat it "
            "in backtests on real traces, see `kcost bench forecast`)"
        )
    return wanted, had


def forecast_daily_cost(
    history: Sequence[tuple[datetime.date, float]],
    horizon_days: int = HORIZON_DAYS,
    *,
    method: ForecastMethod = DEFAULT_METHOD,
    width: float = INTERVAL_WIDTH,
) -> CostForecast:
    """Cost of each of the ``horizon_days`` days after the last day of ``history`` (day, USD; oldest first).

    Days missing inside the history count as zero cost: the store has a row for every day
    the cluster was priced. CPU-heavy with prophet (about a second): call it off the event loop.
    """
    if not history:
        raise ValueError("forecast: the history has no days; at least one day of cost is needed")
    if horizon_days < 1:
        raise ValueError(f"forecast: horizon_days must be 1 or more, got {horizon_days}")
    first_day, last_day = history[0][0], history[-1][0]
    by_day = dict(history)
    costs = [by_day.get(first_day + datetime.timedelta(days=i), 0.0) for i in range((last_day - first_day).days + 1)]
    chosen, reason = choose_method(len(costs), method)
    if chosen is ForecastMethod.PROPHET:
        bands = prophet(costs, first_day, horizon_days, width)
    elif chosen is ForecastMethod.LINEAR_TREND:
        bands = linear_trend(costs, horizon_days, width)
    else:
        bands = seasonal_naive(costs, horizon_days, width)
    days = tuple(_clipped(last_day + datetime.timedelta(days=ahead + 1), *band) for ahead, band in enumerate(bands))
    return CostForecast(chosen, reason, len(costs), days)
