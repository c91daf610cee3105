"""Retention: daily rows older than N days go; everything else stays."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kcost.history import partitions
from kcost.history.grouping import GroupBy, Grouping
from kcost.history.models import (
    DAILY_TABLES,
    METADATA,
    DailyCost,
    RecommendationChange,
    WorkloadDailyCost,
    WorkloadUsageDaily,
)
from kcost.history.store import HistoryStore
from tests.history.harness import T0, StoreHarness, change, count_rows, daily_cost, days, usage, workload_cost

# 2026-09-15 to 2026-11-28: three months, the first and last only in part.
SPAN = days(75, datetime.date(2026, 9, 15))
TODAY = datetime.date(2026, 11, 30)


async def fill(store: HistoryStore) -> None:
    await store.write(
        [daily_cost("shop", day) for day in SPAN]
        + [usage("web", day) for day in SPAN]
        + [workload_cost("web", day) for day in SPAN]
    )
    await store.record_recommendation_change(change(at=T0 - datetime.timedelta(days=365)))


class RetentionContract(StoreHarness):
    async def test_daily_rows_older_than_the_kept_days_are_deleted(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await fill(store)
        report = await store.apply_retention(keep_days=30, today=TODAY)
        assert report.cutoff_day == datetime.date(2026, 10, 31)
        kept = [day for day in SPAN if day >= report.cutoff_day]
        assert [row.day for row in await store.daily_costs("prod", SPAN[0], SPAN[-1])] == kept
        usage_kept = await store.workload_usage("prod", "shop", "Deployment", "web", start_day=SPAN[0], end_day=TODAY)
        assert [row.day for row in usage_kept] == kept
        costs_kept = await store.grouped_costs("prod", SPAN[0], TODAY, Grouping(GroupBy.WORKLOAD))
        assert [row.day for row in costs_kept] == kept
        assert await count_rows(engine, RecommendationChange) == 1

    async def test_a_second_pass_removes_nothing(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await fill(store)
        await store.apply_retention(keep_days=30, today=TODAY)
        again = await store.apply_retention(keep_days=30, today=TODAY)
        assert (again.rows_deleted, again.partitions_dropped) == (0, ())
        assert await count_rows(engine, DailyCost) == await count_rows(engine, WorkloadUsageDaily) == 29
        assert await count_rows(engine, WorkloadDailyCost) == 29

    async def test_keeping_zero_days_keeps_today_only(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await fill(store)
        await store.apply_retention(keep_days=0, today=SPAN[-1])
        assert [row.day for row in await store.daily_costs("prod", SPAN[0], SPAN[-1])] == [SPAN[-1]]

    async def test_negative_days_are_refused(self, store: HistoryStore) -> None:
        with pytest.raises(ValueError, match="keep_days must be 0 or more, got -1"):
            await store.apply_retention(keep_days=-1)


class TestRetentionOnSqlite(RetentionContract):
    async def test_sqlite_deletes_row_by_row(self, store: HistoryStore) -> None:
        await fill(store)
        report = await store.apply_retention(keep_days=30, today=TODAY)
        assert (report.rows_deleted, report.partitions_dropped) == (3 * (75 - 29), ())


@pytest.mark.parametrize(
    ("day", "month", "following"),
    [
        (datetime.date(2026, 11, 17), datetime.date(2026, 11, 1), datetime.date(2026, 12, 1)),
        (datetime.date(2026, 12, 31), datetime.date(2026, 12, 1), datetime.date(2027, 1, 1)),
        (datetime.date(2028, 2, 29), datetime.date(2028, 2, 1), datetime.date(2028, 3, 1)),
        (datetime.date(2026, 1, 1), datetime.date(2026, 1, 1), datetime.date(2026, 2, 1)),
    ],
)
def test_month_bounds(day: datetime.date, month: datetime.date, following: datetime.date) -> None:
    assert partitions.month_of(day) == month
    assert partitions.next_month(month) == following


def test_partition_names_round_trip() -> None:
    name = partitions.partition_name("daily_costs", datetime.date(2026, 3, 1))
    assert name == "daily_costs_y2026m03"
    assert partitions.month_of_partition("daily_costs", name) == datetime.date(2026, 3, 1)
    assert partitions.month_of_partition("workload_usage_daily", name) is None
    assert partitions.month_of_partition("daily_costs", "daily_costs_default") is None


def test_exactly_the_daily_tables_are_partitioned_by_month() -> None:
    declared = {name for name, table in METADATA.tables.items() if table.dialect_options["postgresql"]["partition_by"]}
    assert (
        declared
        == set(partitions.partitioned_tables())
        == {"daily_costs", "workload_usage_daily", "workload_daily_costs"}
    )
    assert {str(model.__tablename__) for model in DAILY_TABLES} == declared
