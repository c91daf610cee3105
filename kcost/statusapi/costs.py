"""Cost history summed per step (day, week, month) and group, from the history store's daily costs.

The sums are the store's own ``daily_costs`` (the query ``kubectl cost`` and the Grafana
dashboards rest on), rolled up here only by calendar step; nothing is recomputed.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterable

from kcost.api.units import HOURS_PER_MONTH
from kcost.api.v1alpha1.profile import Provider
from kcost.history.models import CapacityType
from kcost.history.queries import COST_RESOURCES, CostGroup, CostTotals
from kcost.history.store import HistoryStore
from kcost.statusapi.schemas import CostAmounts, CostGroupBy, CostPoint, CostStep, InstancePriceItem

AMOUNTS = tuple(f"{resource}_usd" for resource in COST_RESOURCES)


def period_start(day: datetime.date, step: CostStep) -> datetime.date:
    """The first day of the step ``day`` falls in (weeks start on Monday)."""
    if step is CostStep.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if step is CostStep.MONTH:
        return day.replace(day=1)
    return day


def rollup(rows: Iterable[CostTotals], group_by: CostGroupBy, step: CostStep) -> tuple[list[CostPoint], CostAmounts]:
    """Daily rows (per namespace and day) summed per step and group, ordered; and the grand totals."""
    sums: dict[tuple[datetime.date, str], dict[str, float]] = {}
    totals = dict.fromkeys(AMOUNTS, 0.0)
    for row in rows:
        assert row.day is not None, "rollup needs rows grouped by day"
        group = (row.namespace if group_by is CostGroupBy.NAMESPACE else row.cluster) or ""
        point = sums.setdefault((period_start(row.day, step), group), dict.fromkeys(AMOUNTS, 0.0))
        for amount in AMOUNTS:
            point[amount] += getattr(row, amount)
            totals[amount] += getattr(row, amount)
    points = [CostPoint(period_start=start, group=group, **values) for (start, group), values in sorted(sums.items())]
    return points, CostAmounts(**totals)


async def daily_rows(
    store: HistoryStore, cluster: str, start_day: datetime.date, end_day: datetime.date
) -> list[CostTotals]:
    """The cluster's cost per namespace and day over the range (both ends included)."""
    return await store.daily_costs(cluster, start_day, end_day, group_by=(CostGroup.NAMESPACE, CostGroup.DAY))


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
