"""``HistoryStore``: the async history database, SQLite (``sqlite+aiosqlite:///path``) or PostgreSQL
(``postgresql+asyncpg://…``).

Every write is an idempotent upsert of checked rows in one transaction; the schema is
brought to the newest migration before the first read or write.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, Table, delete
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kcost.api.v1alpha1.profile import Provider
from kcost.history import migrate, partitions, queries, upserts
from kcost.history.grouping import Grouping
from kcost.history.models import (
    DAILY_TABLES,
    AnalysisRecord,
    CapacityType,
    ClusterRecord,
    DailyCost,
    HistoryTable,
    InstancePrice,
    RealizedSavingsRecord,
    RecommendationChange,
    WorkloadDailyCost,
    WorkloadUsageDaily,
    table_of,
)
from kcost.history.queries import CostGroup, CostTotals
from kcost.history.redact import redact, scrub
from kcost.history.validation import validated

DEFAULT_URL = "sqlite+aiosqlite:///kcost-history.db"
Model = TypeVar("Model", bound=HistoryTable)


@dataclass(frozen=True)
class RetentionReport:
    """What one retention pass removed."""

    #: Rows dated before this day are gone.
    cutoff_day: datetime.date
    #: Rows deleted one by one (on PostgreSQL only those of the partially kept month).
    rows_deleted: int
    #: Whole monthly partitions dropped (PostgreSQL only).
    partitions_dropped: tuple[str, ...]


SQLITE_BUSY_TIMEOUT_S = 60.0


class HistoryStore:
    """The history database. ``await connect(url)`` first, ``await close()`` at the end."""

    def __init__(self) -> None:
        self._engine: AsyncEngine | None = None
        self._url = ""
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    @property
    def url_for_logs(self) -> str:
        """The database URL without its password."""
        return redact(self._url)

    def redact(self, text: str) -> str:
        """``text`` (an error message, say) with this database's password masked."""
        return scrub(text, self._url)

    async def connect(self, url: str = DEFAULT_URL) -> None:
        """Open the database at ``url`` and migrate its schema to the newest revision.

        If the database is unreachable this raises, yet the store stays usable: the next
        read or write migrates first, so a ``BufferedWriter`` in front recovers by itself.
        """
        if self._engine is not None:
            raise RuntimeError(f"history store already connected to {self.url_for_logs}")
        # Pre-ping replaces connections a database restart has broken, instead of failing a write on them.
        # SQLite: the chart's processes share one file; a writer waits for another's lock this long, not 5 s.
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S} if url.startswith("sqlite") else {}
        engine = create_async_engine(url, pool_pre_ping=True, connect_args=connect_args)
        if engine.dialect.name not in {"sqlite", "postgresql"}:
            await engine.dispose()
            raise ValueError(
                f"history store: unsupported database {redact(url)}; use sqlite+aiosqlite or postgresql+asyncpg"
            )
        self._url, self._engine = url, engine
        await self._ensure_schema()

    async def close(self) -> None:
        """Close every connection; the store can connect again afterwards."""
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._schema_ready = False

    async def write(self, rows: Iterable[HistoryTable]) -> None:
        """Check, then upsert rows of any history tables in one transaction.

        Raises ``ValueError`` (naming the table and field) before touching the database
        if any row is invalid; database errors propagate as SQLAlchemy raises them.
        """
        checked = [validated(row) for row in rows]
        if not checked:
            return
        engine = self._require_engine()
        await self._ensure_schema()
        by_table: dict[Table, list[upserts.Values]] = {}
        for row in checked:
            table = table_of(type(row))
            by_table.setdefault(table, []).append(upserts.values_of(row, table))
        if engine.dialect.name == "postgresql":
            await self._ensure_partitions(engine, by_table)
        async with engine.begin() as connection:
            for table, values in by_table.items():
                for statement in upserts.statements(engine.dialect.name, table, values):
                    await connection.execute(statement)

    async def upsert_cluster(self, cluster: ClusterRecord) -> None:
        """Record a cluster; its ``created_at`` stays that of the first write."""
        await self.write([cluster])

    async def upsert_analysis(self, analysis: AnalysisRecord) -> None:
        """Record an analysis run, or update it as it progresses."""
        await self.write([analysis])

    async def record_recommendation_change(self, change: RecommendationChange) -> None:
        """Record that a recommendation reached a phase."""
        await self.write([change])

    async def upsert_daily_costs(self, costs: Iterable[DailyCost]) -> None:
        """Record per-namespace daily costs."""
        await self.write(costs)

    async def upsert_workload_costs(self, costs: Iterable[WorkloadDailyCost]) -> None:
        """Record per-workload daily costs (a day written again replaces that day's row)."""
        await self.write(costs)

    async def upsert_workload_usage(self, usage: Iterable[WorkloadUsageDaily]) -> None:
        """Record per-workload daily usage."""
        await self.write(usage)

    async def upsert_prices(self, prices: Iterable[InstancePrice]) -> None:
        """Record instance prices; a price fetched earlier than the stored one is ignored."""
        await self.write(prices)

    async def daily_costs(
        self,
        cluster: str,
        start_day: datetime.date,
        end_day: datetime.date,
        *,
        namespaces: Collection[str] | None = None,
        group_by: Sequence[CostGroup] = (CostGroup.NAMESPACE, CostGroup.DAY),
    ) -> list[CostTotals]:
        """A cluster's costs from ``start_day`` to ``end_day`` (both included).

        By default one row per namespace and day; ``group_by=[CostGroup.NAMESPACE]`` sums
        each namespace over the range, ``[CostGroup.DAY]`` sums all namespaces per day.
        """
        # Grouping by the one cluster changes no sum, and labels each row with it.
        groups = (CostGroup.CLUSTER, *group_by)
        statement = queries.cost_totals(start_day, end_day, groups, clusters=[cluster], namespaces=namespaces)
        return [queries.cost_totals_from(row) for row in await self._fetch(statement)]

    async def grouped_costs(
        self,
        cluster: str,
        start_day: datetime.date,
        end_day: datetime.date,
        grouping: Grouping,
        *,
        per_day: bool = True,
        namespaces: Collection[str] | None = None,
    ) -> list[CostTotals]:
        """A cluster's costs from ``start_day`` to ``end_day`` (both included), summed per namespace and
        (for ``workload`` and ``label:KEY``) workload or label value, and per day if ``per_day``.

        Namespace and cluster groupings read ``daily_costs``; the others read
        ``workload_daily_costs``. Name each row's group with ``grouping.group_of(row)``.
        """
        if not grouping.per_workload:
            group_by = (CostGroup.NAMESPACE, CostGroup.DAY) if per_day else (CostGroup.NAMESPACE,)
            return await self.daily_costs(cluster, start_day, end_day, namespaces=namespaces, group_by=group_by)
        statement = queries.workload_cost_totals(
            start_day, end_day, grouping, per_day=per_day, clusters=[cluster], namespaces=namespaces
        )
        return [queries.cost_totals_from(row) for row in await self._fetch(statement)]

    async def cost_history(
        self, start_day: datetime.date, end_day: datetime.date, *, clusters: Collection[str] | None = None
    ) -> list[CostTotals]:
        """Each cluster's (or only ``clusters``') total costs per day from ``start_day`` to ``end_day``."""
        return [
            queries.cost_totals_from(row)
            for row in await self._fetch(
                queries.cost_totals(start_day, end_day, (CostGroup.CLUSTER, CostGroup.DAY), clusters=clusters)
            )
        ]

    async def latest_prices(
        self, provider: Provider, region: str | None = None, capacity_type: CapacityType | None = None
    ) -> list[InstancePrice]:
        """The latest known price of every instance type of ``provider`` (in ``region``, of ``capacity_type``)."""
        return await self._fetch_rows(InstancePrice, queries.latest_prices(provider, region, capacity_type))

    async def recommendation_history(self, cluster: str, namespace: str, name: str) -> list[RecommendationChange]:
        """Every phase one recommendation went through, oldest first."""
        return await self._fetch_rows(RecommendationChange, queries.recommendation_history(cluster, namespace, name))

    async def realized_savings(self, cluster: str, namespace: str, name: str) -> list[RealizedSavingsRecord]:
        """Every measurement of what one recommendation saved, oldest first."""
        return await self._fetch_rows(RealizedSavingsRecord, queries.realized_savings(cluster, namespace, name))

    async def workload_usage(
        self,
        cluster: str,
        namespace: str,
        kind: str,
        name: str,
        *,
        start_day: datetime.date,
        end_day: datetime.date,
    ) -> list[WorkloadUsageDaily]:
        """One workload's daily usage from ``start_day`` to ``end_day`` (both included), oldest first."""
        statement = queries.workload_usage(cluster, namespace, kind, name, start_day=start_day, end_day=end_day)
        return await self._fetch_rows(WorkloadUsageDaily, statement)

    async def clusters(self) -> list[ClusterRecord]:
        """Every cluster on record, by name."""
        return await self._fetch_rows(ClusterRecord, queries.clusters())

    async def analyses(self, cluster: str, *, limit: int = 50) -> list[AnalysisRecord]:
        """A cluster's latest analysis runs, newest first."""
        return await self._fetch_rows(AnalysisRecord, queries.analyses(cluster, limit))

    async def apply_retention(self, keep_days: int, today: datetime.date | None = None) -> RetentionReport:
        """Delete daily rows dated more than ``keep_days`` before ``today`` (default: today in UTC).

        On PostgreSQL whole months before the cutoff go by dropping their partitions,
        which is instant and leaves no dead rows behind; the rest is deleted row by row.
        """
        if keep_days < 0:
            raise ValueError(f"retention: keep_days must be 0 or more, got {keep_days}")
        cutoff_day = (today or datetime.datetime.now(datetime.UTC).date()) - datetime.timedelta(days=keep_days)
        engine = self._require_engine()
        await self._ensure_schema()
        dropped: list[str] = []
        deleted = 0
        async with engine.begin() as connection:
            for model in DAILY_TABLES:
                table = table_of(model)
                if engine.dialect.name == "postgresql":
                    dropped += await partitions.drop_before(connection, table.name, cutoff_day)
                result = await connection.execute(delete(table).where(table.c.day < cutoff_day))
                deleted += result.rowcount
        return RetentionReport(cutoff_day, deleted, tuple(dropped))

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                async with self._require_engine().begin() as connection:
                    await migrate.upgrade(connection)
                self._schema_ready = True

    @staticmethod
    async def _ensure_partitions(engine: AsyncEngine, by_table: dict[Table, list[upserts.Values]]) -> None:
        # A transaction of its own, so the parent table is locked only for as long as the DDL takes.
        async with engine.begin() as connection:
            for table, values in by_table.items():
                if table.name in partitions.partitioned_tables():
                    await partitions.ensure(connection, table.name, (row["day"] for row in values))

    async def _fetch(self, statement: Select[Any]) -> Sequence[Any]:
        engine = self._require_engine()
        await self._ensure_schema()
        async with engine.connect() as connection:
            rows: Sequence[Any] = (await connection.execute(statement)).all()
            return rows

    async def _fetch_rows(self, model: type[Model], statement: Select[Any]) -> list[Model]:
        return [model.model_validate(dict(row._mapping)) for row in await self._fetch(statement)]

    def _require_engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("history store is not connected: await HistoryStore.connect(url) first")
        return self._engine
