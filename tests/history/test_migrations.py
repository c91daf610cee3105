"""Alembic migrations: an empty database reaches head, an older one is upgraded with its rows kept."""

from __future__ import annotations

import asyncio
import datetime

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kcost.history import migrate, partitions, upserts
from kcost.history.models import METADATA, DailyCost, RecommendationChange, WorkloadUsageDaily, table_of
from kcost.history.store import HistoryStore
from tests.history.harness import DAY0, T0, StoreHarness, change, count_rows, daily_cost, days, usage


async def table_names(connection: AsyncConnection) -> set[str]:
    names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return {name for name in names if migrate.include_name(name, "table", {})} - {"alembic_version"}


async def index_names(connection: AsyncConnection, table: str) -> set[str]:
    def names(sync: Connection) -> set[str]:
        return {str(index["name"]) for index in inspect(sync).get_indexes(table)}

    return await connection.run_sync(names)


async def insert_at_first_revision(connection: AsyncConnection) -> None:
    """Rows written as a kcost of revision 0001 would have: daily costs and a recommendation's history."""
    dialect = connection.dialect.name
    costs = [daily_cost(namespace, day, cpu_usd=1.25) for namespace in ("shop", "search") for day in days(40)]
    if dialect == "postgresql":
        await partitions.ensure(connection, "daily_costs", days(40))
    for rows in (costs, [change("Proposed"), change("Approved", T0 + datetime.timedelta(hours=1))]):
        table = table_of(type(rows[0]))
        for statement in upserts.statements(dialect, table, [upserts.values_of(row, table) for row in rows]):
            await connection.execute(statement)


class MigrationContract(StoreHarness):
    async def test_an_empty_database_is_migrated_to_head(self, store: HistoryStore, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            assert await migrate.current_revision(connection) == migrate.head_revision() == "0004"
            assert await table_names(connection) == set(METADATA.tables)

    async def test_models_and_migrated_schema_agree(self, store: HistoryStore, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            assert await migrate.schema_diff(connection) == []

    async def test_schema_drift_is_detected(self, store: HistoryStore, engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("DROP INDEX ix_daily_costs_cluster_day"))
            diff = await migrate.schema_diff(connection)
        assert [entry[0] for entry in diff] == ["add_index"]

    async def test_connecting_again_migrates_nothing(
        self, store: HistoryStore, engine: AsyncEngine, database_url: str
    ) -> None:
        await store.upsert_daily_costs([daily_cost()])
        again = HistoryStore()
        await again.connect(database_url)
        try:
            assert await again.daily_costs("prod", DAY0, DAY0) == await store.daily_costs("prod", DAY0, DAY0)
        finally:
            await again.close()
        async with engine.connect() as connection:
            assert await migrate.current_revision(connection) == migrate.head_revision()

    async def test_a_database_at_the_first_revision_is_upgraded_with_its_rows(
        self, engine: AsyncEngine, database_url: str
    ) -> None:
        async with engine.begin() as connection:
            await migrate.upgrade(connection, "0001")
            await insert_at_first_revision(connection)
        async with engine.connect() as connection:
            assert await migrate.current_revision(connection) == "0001"
            assert "workload_usage_daily" not in await table_names(connection)
            assert "ix_daily_costs_cluster_day" not in await index_names(connection, "daily_costs")

        store = HistoryStore()
        await store.connect(database_url)
        try:
            async with engine.connect() as connection:
                assert await migrate.current_revision(connection) == migrate.head_revision()
                assert "ix_daily_costs_cluster_day" in await index_names(connection, "daily_costs")
                assert await migrate.schema_diff(connection) == []
            assert await count_rows(engine, DailyCost) == 80
            assert [step.phase for step in await store.recommendation_history("prod", "shop", "web-rightsizing")] == [
                "Proposed",
                "Approved",
            ]
            history = await store.cost_history(DAY0, days(40)[-1])
            assert [day.cpu_usd for day in history] == [2.5] * 40
            await store.upsert_workload_usage([usage()])
            assert await count_rows(engine, WorkloadUsageDaily) == 1
            assert await count_rows(engine, RecommendationChange) == 2
        finally:
            await store.close()

    async def test_stores_connecting_and_writing_at_once_all_succeed(
        self, database_url: str, engine: AsyncEngine
    ) -> None:
        stores = [HistoryStore() for _ in range(4)]
        try:
            async with asyncio.timeout(60):
                await asyncio.gather(*(store.connect(database_url) for store in stores))
                await asyncio.gather(
                    *(
                        store.upsert_daily_costs([daily_cost(f"team-{n}", day) for day in days(3)])
                        for n, store in enumerate(stores)
                    )
                )
        finally:
            await asyncio.gather(*(store.close() for store in stores))
        async with engine.connect() as connection:
            assert await migrate.current_revision(connection) == migrate.head_revision()
        assert await count_rows(engine, DailyCost) == 12


class TestMigrationsOnSqlite(MigrationContract):
    pass
