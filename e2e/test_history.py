"""The history store on a real PostgreSQL: every SQLite contract again, plus monthly partitions.

Each test gets a database of its own in the session's throwaway server; no Kubernetes
cluster is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from kcost.devcluster import processes
from kcost.devcluster.postgres import ThrowawayPostgres
from kcost.history import locks, migrate, partitions
from kcost.history.models import DailyCost, WorkloadUsageDaily
from kcost.history.store import HistoryStore
from tests.history.harness import Outage, StoreHarness, count_rows, daily_cost, days, usage
from tests.history.test_buffer import BufferContract
from tests.history.test_migrations import MigrationContract
from tests.history.test_reads import ReadContract
from tests.history.test_retention import SPAN, TODAY, RetentionContract, fill
from tests.history.test_workload_costs import WorkloadCostContract
from tests.history.test_writes import WriteContract

DAILY_TABLE_NAMES = ("daily_costs", "workload_usage_daily", "workload_daily_costs")


async def _admin(postgres: ThrowawayPostgres, statement: str) -> None:
    connection = await asyncpg.connect(postgres.dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def database_url(postgres: ThrowawayPostgres) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    name = f"history_{uuid.uuid4().hex[:12]}"
    await _admin(postgres, f'CREATE DATABASE "{name}"')
    yield make_url(postgres.url).set(database=name).render_as_string(hide_password=False)
    await _admin(postgres, f'DROP DATABASE "{name}" WITH (FORCE)')


class Proxy:
    """A TCP forwarder to PostgreSQL on a port of its own: nothing listens there until ``start()``."""

    def __init__(self, target_port: int) -> None:
        self.port = processes.free_port()
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in self._connections:
            connection.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            self._connections.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
    finally:
        writer.close()


@pytest.fixture
async def outage(postgres: ThrowawayPostgres, database_url: str) -> AsyncIterator[Outage]:
    """PostgreSQL behind a port where nothing listens until ``restore()`` starts forwarding.

    The URL carries a password (trust authentication ignores it) that the logs must never show.
    """
    proxy = Proxy(postgres.port)
    url = make_url(database_url).set(password="s3cret", port=proxy.port).render_as_string(hide_password=False)
    yield Outage(url=url, restore=proxy.start, host=f"127.0.0.1:{proxy.port}", password="s3cret")
    await proxy.stop()


class TestMigrationsOnPostgres(MigrationContract):
    pass


class TestWritesOnPostgres(WriteContract):
    pass


class TestReadsOnPostgres(ReadContract):
    pass


class TestRetentionOnPostgres(RetentionContract):
    pass


class TestBufferOnPostgres(BufferContract):
    pass


class TestWorkloadCostsOnPostgres(WorkloadCostContract):
    pass


async def _partition_bounds(engine: AsyncEngine, table: str) -> dict[str, str]:
    async with engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT child.relname, pg_get_expr(child.relpartbound, child.oid) FROM pg_inherits "
                "JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid "
                "WHERE pg_inherits.inhparent = CAST(:table AS regclass)"
            ),
            {"table": table},
        )
        return {str(name): str(bound) for name, bound in result.all()}


class TestPartitionsOnPostgres(StoreHarness):
    async def test_the_daily_tables_are_range_partitioned_on_day(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT parent.relname, CAST(partitioned.partstrat AS text), pg_get_partkeydef(parent.oid) "
                    "FROM pg_partitioned_table AS partitioned "
                    "JOIN pg_class AS parent ON parent.oid = partitioned.partrelid"
                )
            )
            declared = {str(name): (str(strategy), str(key)) for name, strategy, key in result.all()}
        assert declared == {
            "daily_costs": ("r", "RANGE (day)"),
            "workload_usage_daily": ("r", "RANGE (day)"),
            "workload_daily_costs": ("r", "RANGE (day)"),
        }

    async def test_a_partition_is_created_for_each_month_written(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        assert await _partition_bounds(engine, "daily_costs") == {}
        september_30, october_1 = days(2, datetime.date(2026, 9, 30))
        await store.upsert_daily_costs([daily_cost("shop", september_30), daily_cost("shop", october_1)])
        await store.upsert_daily_costs([daily_cost("shop", datetime.date(2027, 1, 15))])
        assert await _partition_bounds(engine, "daily_costs") == {
            "daily_costs_y2026m09": "FOR VALUES FROM ('2026-09-01') TO ('2026-10-01')",
            "daily_costs_y2026m10": "FOR VALUES FROM ('2026-10-01') TO ('2026-11-01')",
            "daily_costs_y2027m01": "FOR VALUES FROM ('2027-01-01') TO ('2027-02-01')",
        }
        async with engine.connect() as connection:
            in_october = await connection.execute(text("SELECT day FROM daily_costs_y2026m10"))
            assert in_october.scalars().all() == [october_1]
            assert await migrate.schema_diff(connection) == []

    async def test_retention_drops_whole_months_and_trims_the_boundary_month(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await fill(store)
        report = await store.apply_retention(keep_days=30, today=TODAY)
        # September goes whole; of October only the 31st (the cutoff day) stays.
        assert report.partitions_dropped == (
            "daily_costs_y2026m09",
            "workload_usage_daily_y2026m09",
            "workload_daily_costs_y2026m09",
        )
        assert report.rows_deleted == 3 * 30
        for table in DAILY_TABLE_NAMES:
            assert set(await _partition_bounds(engine, table)) == {f"{table}_y2026m10", f"{table}_y2026m11"}
        assert await count_rows(engine, DailyCost) == await count_rows(engine, WorkloadUsageDaily) == 29

        everything = await store.apply_retention(keep_days=0, today=datetime.date(2026, 12, 1))
        assert set(everything.partitions_dropped) == {
            f"{table}_y2026m{month}" for table in DAILY_TABLE_NAMES for month in ("10", "11")
        }
        assert everything.rows_deleted == 0
        assert await count_rows(engine, DailyCost) == 0

    async def test_a_dropped_month_comes_back_when_written_again(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await fill(store)
        await store.apply_retention(keep_days=30, today=TODAY)
        await store.upsert_workload_usage([usage("web", SPAN[0])])
        assert "workload_usage_daily_y2026m09" in await _partition_bounds(engine, "workload_usage_daily")
        rows = await store.workload_usage("prod", "shop", "Deployment", "web", start_day=SPAN[0], end_day=SPAN[0])
        assert len(rows) == 1

    async def test_stores_writing_a_new_month_at_once_create_its_partition_once(
        self, database_url: str, engine: AsyncEngine
    ) -> None:
        stores = [HistoryStore() for _ in range(4)]
        try:
            async with asyncio.timeout(60):
                await asyncio.gather(*(store.connect(database_url) for store in stores))
                await asyncio.gather(
                    *(
                        store.upsert_workload_usage([usage(f"app-{n}", day) for day in days(3)])
                        for n, store in enumerate(stores)
                    )
                )
        finally:
            await asyncio.gather(*(store.close() for store in stores))
        async with engine.connect() as connection:
            assert await partitions.partitions(connection, "workload_usage_daily") == ["workload_usage_daily_y2026m11"]
        assert await count_rows(engine, WorkloadUsageDaily) == 12

    async def test_a_migration_waits_for_the_schema_lock_another_replica_holds(self, database_url: str) -> None:
        replica = await asyncpg.connect(make_url(database_url).set(drivername="postgresql").render_as_string(False))
        store = HistoryStore()
        try:
            async with replica.transaction():
                await replica.execute("SELECT pg_advisory_xact_lock($1)", locks.SCHEMA_LOCK_KEY)
                connecting = asyncio.create_task(store.connect(database_url))
                await asyncio.sleep(1.0)
                assert not connecting.done()
                assert await replica.fetchval("SELECT to_regclass('alembic_version')") is None
            await asyncio.wait_for(connecting, 30)
            assert await replica.fetchval("SELECT version_num FROM alembic_version") == migrate.head_revision()
        finally:
            await store.close()
            await replica.close()
