"""Reads: daily costs by namespace over a range, grouped or not; cost history; prices; a recommendation's history."""

from __future__ import annotations

import datetime

import pytest

from kcost.api.v1alpha1.profile import Provider
from kcost.history.models import CapacityType
from kcost.history.queries import CostGroup
from kcost.history.store import HistoryStore
from tests.history.harness import DAY0, T0, StoreHarness, analysis, change, daily_cost, days, price, usage

WEEK = days(7)
HOUR = datetime.timedelta(hours=1)


async def two_clusters_of_costs(store: HistoryStore) -> None:
    """A week of costs: prod's shop costs 1 USD of CPU on day n (n from 1), search twice that; staging's shop 100."""
    await store.upsert_daily_costs(
        [daily_cost("shop", day, cpu_usd=n, total_usd=n) for n, day in enumerate(WEEK, start=1)]
        + [daily_cost("search", day, cpu_usd=2 * n, total_usd=2 * n) for n, day in enumerate(WEEK, start=1)]
        + [daily_cost("shop", day, cluster="staging", cpu_usd=100, total_usd=100) for day in WEEK]
    )


class ReadContract(StoreHarness):
    async def test_daily_costs_per_namespace_and_day_within_the_range(self, store: HistoryStore) -> None:
        await two_clusters_of_costs(store)
        rows = await store.daily_costs("prod", WEEK[1], WEEK[2])
        assert [(row.cluster, row.namespace, row.day, row.cpu_usd) for row in rows] == [
            ("prod", "search", WEEK[1], 4.0),
            ("prod", "search", WEEK[2], 6.0),
            ("prod", "shop", WEEK[1], 2.0),
            ("prod", "shop", WEEK[2], 3.0),
        ]
        assert {row.memory_usd for row in rows} == {2.0}

    async def test_daily_costs_summed_per_namespace(self, store: HistoryStore) -> None:
        await two_clusters_of_costs(store)
        rows = await store.daily_costs("prod", WEEK[0], WEEK[-1], group_by=[CostGroup.NAMESPACE])
        assert [(row.namespace, row.day, row.cpu_usd, row.memory_usd) for row in rows] == [
            ("search", None, 56.0, 14.0),
            ("shop", None, 28.0, 14.0),
        ]

    async def test_daily_costs_summed_per_day_of_some_namespaces(self, store: HistoryStore) -> None:
        await two_clusters_of_costs(store)
        await store.upsert_daily_costs([daily_cost("batch", day, cpu_usd=1000) for day in WEEK])
        rows = await store.daily_costs(
            "prod", WEEK[0], WEEK[1], namespaces=["shop", "search"], group_by=[CostGroup.DAY]
        )
        assert [(row.namespace, row.day, row.cpu_usd, row.total_usd) for row in rows] == [
            (None, WEEK[0], 3.0, 3.0),
            (None, WEEK[1], 6.0, 6.0),
        ]

    async def test_cost_history_per_cluster_and_day(self, store: HistoryStore) -> None:
        await two_clusters_of_costs(store)
        history = await store.cost_history(WEEK[5], WEEK[-1])
        assert [(row.cluster, row.day, row.total_usd) for row in history] == [
            ("prod", WEEK[5], 18.0),
            ("prod", WEEK[6], 21.0),
            ("staging", WEEK[5], 100.0),
            ("staging", WEEK[6], 100.0),
        ]
        only_staging = await store.cost_history(WEEK[0], WEEK[-1], clusters=["staging"])
        assert {row.cluster for row in only_staging} == {"staging"}
        assert len(only_staging) == 7

    async def test_a_range_ending_before_it_starts_is_refused(self, store: HistoryStore) -> None:
        with pytest.raises(ValueError, match="end_day 2026-10-31 is before start_day 2026-11-01"):
            await store.daily_costs("prod", DAY0, DAY0 - datetime.timedelta(days=1))

    async def test_an_empty_database_answers_empty_lists(self, store: HistoryStore) -> None:
        assert await store.daily_costs("prod", DAY0, WEEK[-1]) == []
        assert await store.cost_history(DAY0, WEEK[-1]) == []
        assert await store.latest_prices(Provider.AWS) == []
        assert await store.recommendation_history("prod", "shop", "web") == []

    async def test_latest_prices_by_provider_region_and_capacity(self, store: HistoryStore) -> None:
        await store.upsert_prices(
            [
                price("m5.large"),
                price("m5.large", capacity_type="spot", usd_per_hour=0.035),
                price("m5.large", region="us-east-1", usd_per_hour=0.092),
                price("e2-standard-2", provider="gcp", region="europe-west1", usd_per_hour=0.074),
            ]
        )
        aws = await store.latest_prices(Provider.AWS)
        assert [(row.region, row.capacity_type) for row in aws] == [
            ("eu-west-1", "on-demand"),
            ("eu-west-1", "spot"),
            ("us-east-1", "on-demand"),
        ]
        [spot] = await store.latest_prices(Provider.AWS, "eu-west-1", CapacityType.SPOT)
        assert spot.usd_per_hour == 0.035
        [gcp] = await store.latest_prices(Provider.GCP)
        assert gcp.instance_type == "e2-standard-2"

    async def test_the_history_of_one_recommendation_in_time_order(self, store: HistoryStore) -> None:
        await store.write(
            [
                change("Applied", T0 + 3 * HOUR),
                change("Proposed", T0),
                change("Applying", T0 + 2 * HOUR),
                change("Approved", T0 + HOUR),
                change("Proposed", T0, name="db-rightsizing"),
                change("Proposed", T0, namespace="other"),
            ]
        )
        history = await store.recommendation_history("prod", "shop", "web-rightsizing")
        assert [(step.phase, step.changed_at) for step in history] == [
            ("Proposed", T0),
            ("Approved", T0 + HOUR),
            ("Applying", T0 + 2 * HOUR),
            ("Applied", T0 + 3 * HOUR),
        ]

    async def test_a_workloads_usage_over_a_range(self, store: HistoryStore) -> None:
        await store.upsert_workload_usage(
            [usage("web", day, cpu_max_cores=1.0 + n) for n, day in enumerate(WEEK)] + [usage("db", DAY0)]
        )
        rows = await store.workload_usage("prod", "shop", "Deployment", "web", start_day=WEEK[2], end_day=WEEK[4])
        assert [(row.day, row.cpu_max_cores) for row in rows] == [(WEEK[2], 3.0), (WEEK[3], 4.0), (WEEK[4], 5.0)]

    async def test_analyses_newest_first(self, store: HistoryStore) -> None:
        await store.write(
            [analysis(run_id=f"r{n}", started_at=T0 + n * HOUR, phase="Succeeded") for n in range(5)]
            + [analysis(cluster="staging")]
        )
        runs = await store.analyses("prod", limit=3)
        assert [run.run_id for run in runs] == ["r4", "r3", "r2"]


class TestReadsOnSqlite(ReadContract):
    pass
