"""The reads the history store answers, as SQLAlchemy statements and the typed rows they return."""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from kcost.api.v1alpha1.profile import Provider
from kcost.history.models import (
    AnalysisRecord,
    CapacityType,
    ClusterRecord,
    DailyCost,
    InstancePrice,
    RealizedSavingsRecord,
    RecommendationChange,
    WorkloadDailyCost,
    WorkloadUsageDaily,
    table_of,
)

if TYPE_CHECKING:
    from kcost.history.grouping import Grouping

COST_RESOURCES = ("cpu", "memory", "gpu", "storage", "network", "idle", "total")


class CostGroup(StrEnum):
    """What daily costs can be summed by; whatever is not grouped by is summed over."""

    CLUSTER = "cluster"
    NAMESPACE = "namespace"
    DAY = "day"


@dataclass(frozen=True)
class CostTotals:
    """Costs in USD summed over one group; a key that was not grouped by is None."""

    cluster: str | None
    namespace: str | None
    day: datetime.date | None
    cpu_usd: float
    memory_usd: float
    gpu_usd: float
    storage_usd: float
    network_usd: float
    idle_usd: float
    total_usd: float
    #: Set when summed per workload (``workload_cost_totals`` grouping by workload).
    workload_kind: str | None = None
    workload_name: str | None = None
    #: The value of the label grouped by; None for workloads without it.
    label_value: str | None = None


def cost_totals(
    start_day: datetime.date,
    end_day: datetime.date,
    group_by: Sequence[CostGroup],
    *,
    clusters: Collection[str] | None = None,
    namespaces: Collection[str] | None = None,
) -> Select[Any]:
    """Daily costs from ``start_day`` to ``end_day`` (both included), summed per group, ordered by the groups."""
    if end_day < start_day:
        raise ValueError(f"daily_costs: end_day {end_day} is before start_day {start_day}")
    table = table_of(DailyCost)
    keys = [table.c[str(group)] for group in dict.fromkeys(CostGroup(group) for group in group_by)]
    sums = [func.sum(table.c[f"{resource}_usd"]).label(f"{resource}_usd") for resource in COST_RESOURCES]
    statement = select(*keys, *sums).where(table.c.day >= start_day, table.c.day <= end_day)
    if clusters is not None:
        statement = statement.where(table.c.cluster.in_(list(clusters)))
    if namespaces is not None:
        statement = statement.where(table.c.namespace.in_(list(namespaces)))
    return statement.group_by(*keys).order_by(*keys)


def workload_cost_totals(
    start_day: datetime.date,
    end_day: datetime.date,
    grouping: Grouping,
    *,
    per_day: bool,
    clusters: Collection[str] | None = None,
    namespaces: Collection[str] | None = None,
) -> Select[Any]:
    """Per-workload daily costs from ``start_day`` to ``end_day`` (both included), summed per cluster,
    namespace and workload (or value of ``grouping``'s label), and per day if ``per_day``; ordered so.

    The namespace stays a key in every grouping, so a caller can keep only the namespaces a
    user may read; a workload without the label has a ``label_value`` of NULL.
    """
    if not grouping.per_workload:
        raise ValueError(f"workload costs are grouped by workload or label:KEY, not {grouping}")
    if end_day < start_day:
        raise ValueError(f"workload_costs: end_day {end_day} is before start_day {start_day}")
    table = table_of(WorkloadDailyCost)
    keys: list[Any] = [table.c.cluster, table.c.namespace]
    if grouping.label_key is not None:
        # JSON_EXTRACT on SQLite, ->> on PostgreSQL's JSONB: NULL where the key is absent.
        keys.append(table.c.labels[grouping.label_key].as_string().label("label_value"))
    else:
        keys += [table.c.kind.label("workload_kind"), table.c.name.label("workload_name")]
    if per_day:
        keys.append(table.c.day)
    amounts = [table.c[f"{resource}_usd"] for resource in COST_RESOURCES]
    rows = select(*keys, *amounts).where(table.c.day >= start_day, table.c.day <= end_day)
    if clusters is not None:
        rows = rows.where(table.c.cluster.in_(list(clusters)))
    if namespaces is not None:
        rows = rows.where(table.c.namespace.in_(list(namespaces)))
    # Grouped outside a subquery: the label expression carries a bound key, which PostgreSQL would
    # not recognise as the same expression in the select list and in GROUP BY.
    inner = rows.subquery()
    outer_keys = [inner.c[key.name] for key in keys]
    sums = [func.sum(inner.c[f"{resource}_usd"]).label(f"{resource}_usd") for resource in COST_RESOURCES]
    return select(*outer_keys, *sums).group_by(*outer_keys).order_by(*outer_keys)


def cost_totals_from(row: Any) -> CostTotals:
    """One result row of ``cost_totals`` or ``workload_cost_totals`` as ``CostTotals``."""
    values = row._mapping
    return CostTotals(
        cluster=values.get("cluster"),
        namespace=values.get("namespace"),
        day=values.get("day"),
        **{f"{resource}_usd": float(values[f"{resource}_usd"] or 0.0) for resource in COST_RESOURCES},
        workload_kind=values.get("workload_kind"),
        workload_name=values.get("workload_name"),
        label_value=values.get("label_value"),
    )


def latest_prices(
    provider: Provider, region: str | None = None, capacity_type: CapacityType | None = None
) -> Select[Any]:
    """The latest price of every instance type of a provider, optionally of one region and capacity type."""
    table = table_of(InstancePrice)
    statement = select(table).where(table.c.provider == provider.value)
    if region is not None:
        statement = statement.where(table.c.region == region)
    if capacity_type is not None:
        statement = statement.where(table.c.capacity_type == capacity_type.value)
    return statement.order_by(table.c.region, table.c.instance_type, table.c.capacity_type)


def recommendation_history(cluster: str, namespace: str, name: str) -> Select[Any]:
    """Every phase change of one recommendation, oldest first."""
    table = table_of(RecommendationChange)
    return (
        select(table)
        .where(table.c.cluster == cluster, table.c.namespace == namespace, table.c.name == name)
        .order_by(table.c.changed_at, table.c.phase)
    )


def realized_savings(cluster: str, namespace: str, name: str) -> Select[Any]:
    """Every measurement of what one recommendation saved, oldest first."""
    table = table_of(RealizedSavingsRecord)
    return (
        select(table)
        .where(table.c.cluster == cluster, table.c.namespace == namespace, table.c.name == name)
        .order_by(table.c.measured_at)
    )


def workload_usage(
    cluster: str, namespace: str, kind: str, name: str, *, start_day: datetime.date, end_day: datetime.date
) -> Select[Any]:
    """One workload's daily usage from ``start_day`` to ``end_day`` (both included), oldest first."""
    table = table_of(WorkloadUsageDaily)
    return (
        select(table)
        .where(
            table.c.cluster == cluster,
            table.c.namespace == namespace,
            table.c.kind == kind,
            table.c.name == name,
            table.c.day >= start_day,
            table.c.day <= end_day,
        )
        .order_by(table.c.day)
    )


def clusters() -> Select[Any]:
    """Every cluster on record, by name."""
    table = table_of(ClusterRecord)
    return select(table).order_by(table.c.name)


def analyses(cluster: str, limit: int) -> Select[Any]:
    """The latest ``limit`` analysis runs of a cluster, newest first."""
    table = table_of(AnalysisRecord)
    return select(table).where(table.c.cluster == cluster).order_by(table.c.started_at.desc()).limit(limit)
