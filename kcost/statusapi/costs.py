"""Cost history summed per step (day, week, month) and group, from the history store's daily costs.

The sums are the store's own ``grouped_costs`` (the query ``kubectl cost`` rests on; per
namespace it is ``daily_costs``, which the Grafana dashboards read too), rolled up here only
by calendar step and group name; nothing is recomputed.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field

from cachetools import TTLCache

from kcost.api.units import HOURS_PER_MONTH
from kcost.api.v1alpha1.profile import Provider
from kcost.history.grouping import GroupBy, Grouping
from kcost.history.models import CapacityType
from kcost.history.queries import COST_RESOURCES, CostTotals
from kcost.history.store import HistoryStore
from kcost.statusapi.schemas import CostAmounts, CostPoint, CostStep, InstancePriceItem

AMOUNTS = tuple(f"{resource}_usd" for resource in COST_RESOURCES)


def period_start(day: datetime.date, step: CostStep) -> datetime.date:
    """The first day of the step ``day`` falls in (weeks start on Monday)."""
    if step is CostStep.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if step is CostStep.MONTH:
        return day.replace(day=1)
    return day


def rollup(rows: Iterable[CostTotals], grouping: Grouping, step: CostStep) -> tuple[list[CostPoint], CostAmounts]:
    """Daily rows (per namespace, group and day) summed per step and group name, ordered; and the grand totals."""
    sums: dict[tuple[datetime.date, str], dict[str, float]] = {}
    totals = dict.fromkeys(AMOUNTS, 0.0)
    for row in rows:
        assert row.day is not None, "rollup needs rows grouped by day"
        group = grouping.group_of(row)
        point = sums.setdefault((period_start(row.day, step), group), dict.fromkeys(AMOUNTS, 0.0))
        for amount in AMOUNTS:
            point[amount] += getattr(row, amount)
            totals[amount] += getattr(row, amount)
    points = [CostPoint(period_start=start, group=group, **values) for (start, group), values in sorted(sums.items())]
    return points, CostAmounts(**totals)


RangeKey = tuple[str, datetime.date, datetime.date, Grouping]


@dataclass
class HistoryReader:
    """Daily costs from ``store``, each range's answer shared by every caller for ``ttl_s`` seconds.

    Past days change once a day, so many users asking for the same month cost one query; a
    range asked for while its query runs waits for that query (no stampede), and at most
    ``max_queries`` queries run at once, so the store's connection pool is never exhausted.
    """

    store: HistoryStore
    ttl_s: float = 30.0
    max_queries: int = 4
    _answers: TTLCache[RangeKey, list[CostTotals]] = field(init=False)
    _running: dict[RangeKey, asyncio.Future[list[CostTotals]]] = field(init=False, default_factory=dict)
    _slots: asyncio.Semaphore = field(init=False)
    #: Finished answers, by everything they depend on (range, grouping, step, the caller's namespaces).
    rendered: TTLCache[Hashable, bytes] = field(init=False)

    def __post_init__(self) -> None:
        self._answers = TTLCache(256, self.ttl_s)
        self._slots = asyncio.Semaphore(self.max_queries)
        self.rendered = TTLCache(1024, self.ttl_s)

    async def daily_rows(self, cluster: str, start_day: datetime.date, end_day: datetime.date) -> list[CostTotals]:
        """The cluster's cost per namespace and day over the range (both ends included)."""
        return await self.grouped_rows(cluster, start_day, end_day, Grouping(GroupBy.NAMESPACE))

    async def grouped_rows(
        self, cluster: str, start_day: datetime.date, end_day: datetime.date, grouping: Grouping
    ) -> list[CostTotals]:
        """The cluster's cost per namespace, group (as ``grouping`` reads the store) and day over the range."""
        if not grouping.per_workload:
            grouping = Grouping(GroupBy.NAMESPACE)  # cluster sums are namespace sums: one query, one cache entry
        key = (cluster, start_day, end_day, grouping)
        if key in self._answers:
            return self._answers[key]
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[list[CostTotals]] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            async with self._slots:
                rows = await self.store.grouped_costs(cluster, start_day, end_day, grouping)
        except Exception as error:
            future.set_exception(error)
            future.exception()  # its waiters, if any, raise it; none is not an error of its own
            raise
        finally:
            del self._running[key]
        self._answers[key] = rows
        future.set_result(rows)
        return rows


def only_namespaces(rows: Iterable[CostTotals], visible: Collection[str] | None) -> list[CostTotals]:
    """The rows of ``visible`` namespaces (None: every row)."""
    return [row for row in rows if visible is None or row.namespace in visible]


async def cheapest_prices(
    store: HistoryStore,
    *,
    provider: Provider | None,
    region: str | None,
    capacity_type: CapacityType | None,
    instance_type: str | None,
    limit: int,
) -> list[InstancePriceItem]:
    """The latest prices the store holds, cheapest first, optionally of one provider, region, capacity and type."""
    found = []
    for chosen in [provider] if provider else list(Provider):
        found += await store.latest_prices(chosen, region, capacity_type)
    matching = [price for price in found if instance_type is None or price.instance_type == instance_type]
    matching.sort(key=lambda price: (price.usd_per_hour, price.provider, price.region, price.instance_type))
    return [
        InstancePriceItem(
            provider=str(price.provider),
            region=price.region,
            instance_type=price.instance_type,
            capacity_type=str(price.capacity_type),
            usd_per_hour=price.usd_per_hour,
            usd_per_month=price.usd_per_hour * HOURS_PER_MONTH,
            source=str(price.source),
            fetched_at=price.fetched_at,
        )
        for price in matching[:limit]
    ]
