"""The daily cost forecast: each method on series whose future is known, the fallback and its reason."""

from __future__ import annotations

import datetime
import sys

import pytest

from kcost.api.v1alpha1.profile import ForecastMethod
from kcost.ml import forecast

FIRST_DAY = datetime.date(2026, 3, 2)  # a Monday


def _history(costs: list[float], first_day: datetime.date = FIRST_DAY) -> list[tuple[datetime.date, float]]:
    return [(first_day + datetime.timedelta(days=i), cost) for i, cost in enumerate(costs)]


def _weekly(weeks: int, slope_per_day: float = 0.0) -> list[float]:
    # Weekdays cost 100, weekends 40: the pattern of a cluster scaled down on weekends.
    return [(40.0 if i % 7 >= 5 else 100.0) + slope_per_day * i for i in range(weeks * 7)]


def test_seasonal_naive_repeats_the_last_week_with_an_interval_that_widens() -> None:
    costs = [c + (1.0 if i % 2 else -1.0) for i, c in enumerate(_weekly(3))]
    bands = forecast.seasonal_naive(costs, 14)
    assert [cost for cost, _, _ in bands] == costs[-7:] * 2
    first_week_half = bands[0][2] - bands[0][0]
    second_week_half = bands[7][2] - bands[7][0]
    assert first_week_half > 0
    assert second_week_half == pytest.approx(first_week_half * 2**0.5)


def test_linear_trend_extends_the_line_and_contains_the_truth() -> None:
    costs = [50.0 + 2.0 * i + (0.5 if i % 2 else -0.5) for i in range(20)]
    bands = forecast.linear_trend(costs, 5)
    for ahead, (cost, lower, upper) in enumerate(bands):
        truth = 50.0 + 2.0 * (20 + ahead)
        assert cost == pytest.approx(truth, abs=0.5)
        assert lower < truth < upper


def test_prophet_learns_the_weekly_pattern_and_trend() -> None:
    costs = _weekly(4, slope_per_day=0.5)
    result = forecast.forecast_daily_cost(_history(costs), 14, method=ForecastMethod.PROPHET)
    assert result.method is ForecastMethod.PROPHET
    assert result.history_days == 28
    for ahead, day in enumerate(result.days):
        truth = (40.0 if (28 + ahead) % 7 >= 5 else 100.0) + 0.5 * (28 + ahead)
        assert day.cost_usd == pytest.approx(truth, rel=0.05)
        assert day.lower_usd <= day.cost_usd <= day.upper_usd
    assert result.days[0].day == FIRST_DAY + datetime.timedelta(days=28)


def test_prophet_is_deterministic() -> None:
    history = _history([c * (1.1 if i % 3 else 0.9) for i, c in enumerate(_weekly(3))])
    made = [forecast.forecast_daily_cost(history, method=ForecastMethod.PROPHET) for _ in range(2)]
    assert made[0] == made[1]
    assert made[0].method is ForecastMethod.PROPHET


def test_short_history_falls_back_with_a_reason() -> None:
    result = forecast.forecast_daily_cost(_history([*_weekly(1), 100.0, 100.0]), 7, method=ForecastMethod.PROPHET)
    assert result.method is ForecastMethod.SEASONAL_NAIVE
    assert "9 days of history" in result.reason
    assert "prophet needs 14" in result.reason
    assert len(result.days) == 7


def test_one_day_of_history_repeats_it_and_missing_days_cost_nothing() -> None:
    one = forecast.forecast_daily_cost(_history([12.5]), 3)
    assert [day.cost_usd for day in one.days] == [12.5, 12.5, 12.5]
    gap = forecast.forecast_daily_cost([(FIRST_DAY, 10.0), (FIRST_DAY + datetime.timedelta(days=2), 10.0)], 1)
    assert gap.history_days == 3


def test_costs_are_never_negative() -> None:
    falling = [100.0 - 10.0 * i for i in range(10)]
    result = forecast.forecast_daily_cost(_history(falling), 10, method=ForecastMethod.LINEAR_TREND)
    assert result.method is ForecastMethod.LINEAR_TREND
    assert all(day.cost_usd >= 0 and day.lower_usd >= 0 for day in result.days)
    assert result.days[-1].cost_usd == 0.0


def test_the_default_is_the_backtest_winner_and_says_so() -> None:
    result = forecast.forecast_daily_cost(_history(_weekly(3)), 7)
    assert result.method is forecast.DEFAULT_METHOD is ForecastMethod.SEASONAL_NAIVE
    assert "prophet did not beat it" in result.reason
    assert [day.cost_usd for day in result.days] == _weekly(1)
    short = forecast.forecast_daily_cost(_history([5.0, 6.0]), 2)
    assert "2 days of history: the last day's cost repeats" in short.reason


def test_no_history_is_an_error_that_says_so() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        forecast.forecast_daily_cost([])


def test_prophet_without_its_optional_extra_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import prophet` fail as it does in the image, which leaves the extra out.
    monkeypatch.setitem(sys.modules, "prophet", None)
    with pytest.raises(forecast.ProphetMissingError, match=r"pip install 'kcost\[prophet\]'.*'seasonal-naive'"):
        forecast.forecast_daily_cost(_history(_weekly(3)), 7, method=ForecastMethod.PROPHET)


def test_the_default_method_needs_neither_prophet_nor_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("prophet", "pandas"):
        monkeypatch.setitem(sys.modules, module, None)
    made = forecast.forecast_daily_cost(_history(_weekly(3)), 7)
    assert made.method is ForecastMethod.SEASONAL_NAIVE
