"""Per-workload daily costs: idempotent writes, and sums by workload and by label value."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from kcost.history.grouping import GroupBy, Grouping
from kcost.history.models import WorkloadDailyCost
from kcost.history.store import HistoryStore
from tests.history.harness import StoreHarness, count_rows, days, workload_cost

WEEK = days(7)
BY_WORKLOAD = Grouping(GroupBy.WORKLOAD)
NAME_KEY = "app.kubernetes.io/name"


async def a_week_of_workloads(store: HistoryStore) -> None:
    """shop/web (team a) costs n USD on day n, shop/db (team b) 10, bank/api (team a) 100, bank/cron no team 1000;
    staging's shop/web 5."""
    await store.upsert_workload_costs(
        [workload_cost("web", day, total_usd=n, labels={"team": "a", NAME_KEY: "web"}) for n, day in enumerate(WEEK, 1)]
        + [workload_cost("db", day, total_usd=10, labels={"team": "b"}) for day in WEEK]
        + [workload_cost("api", day, namespace="bank", total_usd=100) for day in WEEK]
        + [workload_cost("cron", day, namespace="bank", kind="CronJob", total_usd=1000, labels={}) for day in WEEK]
        + [workload_cost("web", day, cluster="staging", total_usd=5) for day in WEEK]
    )


class WorkloadCostContract(StoreHarness):
    async def test_writing_a_day_again_replaces_it(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await store.upsert_workload_costs([workload_cost(total_usd=3.0)])
        await store.upsert_workload_costs([workload_cost(total_usd=4.5, labels={"team": "b"})])
        assert await count_rows(engine, WorkloadDailyCost) == 1
        [row] = await store.grouped_costs("prod", WEEK[0], WEEK[0], Grouping(GroupBy.LABEL, "team"))
        assert (row.label_value, row.total_usd) == ("b", 4.5)

    async def test_summed_per_workload_and_day_within_the_range(self, store: HistoryStore) -> None:
        await a_week_of_workloads(store)
        rows = await store.grouped_costs("prod", WEEK[1], WEEK[2], BY_WORKLOAD)
        assert [(r.namespace, r.workload_kind, r.workload_name, r.day, r.total_usd) for r in rows] == [
            ("bank", "CronJob", "cron", WEEK[1], 1000.0),
            ("bank", "CronJob", "cron", WEEK[2], 1000.0),
            ("bank", "Deployment", "api", WEEK[1], 100.0),
            ("bank", "Deployment", "api", WEEK[2], 100.0),
            ("shop", "Deployment", "db", WEEK[1], 10.0),
            ("shop", "Deployment", "db", WEEK[2], 10.0),
            ("shop", "Deployment", "web", WEEK[1], 2.0),
            ("shop", "Deployment", "web", WEEK[2], 3.0),
        ]

    async def test_summed_per_label_value_with_the_unlabelled_apart(self, store: HistoryStore) -> None:
        await a_week_of_workloads(store)
        team = Grouping(GroupBy.LABEL, "team")
        rows = await store.grouped_costs("prod", WEEK[0], WEEK[-1], team, per_day=False)
        named = sorted((r.namespace or "", team.group_of(r), r.total_usd) for r in rows)
        assert named == [
            ("bank", "__unallocated__", 7000.0),
            ("bank", "a", 700.0),
            ("shop", "a", 28.0),
            ("shop", "b", 70.0),
        ]
        assert {(r.workload_kind, r.workload_name, r.day) for r in rows} == {(None, None, None)}

    async def test_a_prefixed_label_key_and_a_namespace_filter(self, store: HistoryStore) -> None:
        await a_week_of_workloads(store)
        by_name = Grouping(GroupBy.LABEL, NAME_KEY)
        rows = await store.grouped_costs("prod", WEEK[0], WEEK[-1], by_name, per_day=False, namespaces=["shop"])
        assert sorted((by_name.group_of(r), r.total_usd) for r in rows) == [("__unallocated__", 70.0), ("web", 28.0)]

    async def test_every_grouping_sums_to_the_same_total(self, store: HistoryStore) -> None:
        await a_week_of_workloads(store)
        for grouping in (BY_WORKLOAD, Grouping(GroupBy.LABEL, "team")):
            rows = await store.grouped_costs("prod", WEEK[0], WEEK[-1], grouping, per_day=False)
            assert sum(row.total_usd for row in rows) == 28 + 70 + 700 + 7000

    async def test_an_empty_range_answers_nothing(self, store: HistoryStore) -> None:
        assert await store.grouped_costs("prod", WEEK[0], WEEK[-1], BY_WORKLOAD) == []


class TestWorkloadCostsOnSqlite(WorkloadCostContract):
    pass
