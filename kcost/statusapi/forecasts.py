"""Cost forecasts for the status API: daily totals from the history rows, fitted off the event loop.

A fit (prophet: about a second of CPU) runs in a thread; its result is kept per input
series, so callers asking for the same cluster or namespace on the same day share one fit.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterable

from cachetools import LRUCache

from kcost.history.queries import CostTotals
from kcost.ml import forecast
from kcost.statusapi.schemas import CostForecast, ForecastPoint

# Three months: what prophet needs for a trend, and what the store keeps at the least.
HISTORY_DAYS = 90
MAX_HORIZON_DAYS = 90
Series = tuple[tuple[datetime.date, float], ...]
_FITS: LRUCache[tuple[Series, int], forecast.CostForecast] = LRUCache(maxsize=256)


def daily_totals(rows: Iterable[CostTotals], namespace: str | None) -> Series:
    """Total cost per day, oldest first: of ``namespace``, or of every row (None)."""
    by_day: dict[datetime.date, float] = {}
    for row in rows:
        if row.day is not None and (namespace is None or row.namespace == namespace):
            by_day[row.day] = by_day.get(row.day, 0.0) + row.total_usd
    return tuple(sorted(by_day.items()))


async def fitted(series: Series, horizon_days: int) -> forecast.CostForecast:
    """The forecast of ``series``, made in a thread the first time it is asked for."""
    key = (series, horizon_days)
    made = _FITS.get(key)
    if made is None:
        made = _FITS[key] = await asyncio.to_thread(forecast.forecast_daily_cost, series, horizon_days)
    return made


def answer(cluster: str, namespace: str | None, made: forecast.CostForecast) -> CostForecast:
    """The API's view of a forecast."""
    return CostForecast(
        cluster=cluster,
        namespace=namespace,
        method=made.method,
        reason=made.reason,
        history_days=made.history_days,
        interval_percent=forecast.INTERVAL_WIDTH * 100,
        points=[
            ForecastPoint(day=day.day, cost_usd=day.cost_usd, lower_usd=day.lower_usd, upper_usd=day.upper_usd)
            for day in made.days
        ],
        total_usd=sum(day.cost_usd for day in made.days),
        total_lower_usd=sum(day.lower_usd for day in made.days),
        total_upper_usd=sum(day.upper_usd for day in made.days),
    )
