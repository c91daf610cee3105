"""What a daily cost forecast means for a monthly budget: the month's end, and when thresholds fall."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kcost.ml.forecast import CostForecast


@dataclass(frozen=True)
class MonthProjection:
    """The cost of the month of ``month_start``: spent so far plus the forecast of the days left.

    The interval sums the daily bounds, so it is wider than the month's true 80% interval:
    it assumes every day errs the same way, which is what a budget owner should plan for.
    """

    month_start: datetime.date
    month_to_date_usd: float
    month_end_usd: float
    month_end_lower_usd: float
    month_end_upper_usd: float


@dataclass(frozen=True)
class ThresholdCrossing:
    """The first day the month's running cost reaches ``threshold_percent`` of the budget (None: not in sight)."""

    threshold_percent: int
    crosses_on: datetime.date | None


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def project_month(
    history: Sequence[tuple[datetime.date, float]], forecast: CostForecast, today: datetime.date
) -> MonthProjection:
    """The month of ``today``: the costs on record in it plus the forecast days that fall in it."""
    start = _month_start(today)
    spent = sum(cost for day, cost in history if _month_start(day) == start)
    ahead = [day for day in forecast.days if _month_start(day.day) == start]
    return MonthProjection(
        month_start=start,
        month_to_date_usd=spent,
        month_end_usd=spent + sum(day.cost_usd for day in ahead),
        month_end_lower_usd=spent + sum(day.lower_usd for day in ahead),
        month_end_upper_usd=spent + sum(day.upper_usd for day in ahead),
    )


def threshold_crossings(
    history: Sequence[tuple[datetime.date, float]],
    forecast: CostForecast,
    today: datetime.date,
    monthly_budget_usd: float,
    thresholds_percent: Iterable[int],
) -> list[ThresholdCrossing]:
    """When the running cost of a month reaches each threshold, from this month's start to the horizon.

    The running cost restarts with each month, as the budget does; a threshold already
    reached this month gives the day it was reached.
    """
    start = _month_start(today)
    days = [(day, cost) for day, cost in history if day >= start]
    days += [(day.day, day.cost_usd) for day in forecast.days if day.day > (days[-1][0] if days else start)]
    crossings = []
    for threshold in sorted(set(thresholds_percent)):
        limit = monthly_budget_usd * threshold / 100
        running, month, crossed = 0.0, start, None
        for day, cost in days:
            if _month_start(day) != month:
                running, month = 0.0, _month_start(day)
            running += cost
            if running >= limit:
                crossed = day
                break
        crossings.append(ThresholdCrossing(threshold, crossed))
    return crossings
