"""A forecast against a monthly budget: the month's end and the day each threshold falls."""

from __future__ import annotations

import datetime

from kcost.api.v1alpha1.profile import ForecastMethod
from kcost.ml.forecast import CostForecast, ForecastDay
from kcost.ml.forecast_budget import ThresholdCrossing, project_month, threshold_crossings

TODAY = datetime.date(2026, 4, 25)


def _days(first: datetime.date, count: int, cost: float) -> list[tuple[datetime.date, float]]:
    return [(first + datetime.timedelta(days=i), cost) for i in range(count)]


def _forecast(first: datetime.date, count: int, cost: float) -> CostForecast:
    days = tuple(ForecastDay(day, cost, cost - 1, cost + 1) for day, cost in _days(first, count, cost))
    return CostForecast(ForecastMethod.SEASONAL_NAIVE, "test", 0, days)


def test_month_end_is_what_was_spent_plus_the_days_left() -> None:
    history = _days(datetime.date(2026, 3, 30), 27, 10.0)  # 30 March .. 25 April
    ahead = _forecast(datetime.date(2026, 4, 26), 30, 20.0)
    projection = project_month(history, ahead, TODAY)
    assert projection.month_start == datetime.date(2026, 4, 1)
    assert projection.month_to_date_usd == 250.0
    assert projection.month_end_usd == 250.0 + 5 * 20.0
    assert (projection.month_end_lower_usd, projection.month_end_upper_usd) == (345.0, 355.0)


def test_thresholds_fall_on_the_day_the_running_cost_reaches_them_and_restart_each_month() -> None:
    history = _days(datetime.date(2026, 4, 1), 25, 10.0)
    ahead = _forecast(datetime.date(2026, 4, 26), 30, 20.0)
    crossings = threshold_crossings(history, ahead, TODAY, 400.0, [100, 50, 150])
    assert crossings == [
        ThresholdCrossing(50, datetime.date(2026, 4, 20)),  # already reached: 200 on the 20th
        ThresholdCrossing(100, datetime.date(2026, 5, 20)),  # April ends at 350; May reaches 400 on its 20th
        ThresholdCrossing(150, None),
    ]
