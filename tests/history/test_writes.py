"""Writes are checked, then upserted: the same write twice is one row holding the second write's values."""

from __future__ import annotations

import datetime
import math
import re

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from kcost.api.v1alpha1.analysis import AnalysisPhase
from kcost.api.v1alpha1.profile import Provider
from kcost.history import upserts
from kcost.history.models import (
    AnalysisRecord,
    ClusterRecord,
    DailyCost,
    HistoryTable,
    InstancePrice,
    RealizedSavingsRecord,
    RecommendationChange,
    WorkloadUsageDaily,
)
from kcost.history.store import HistoryStore
from kcost.history.validation import validated
from tests.history.harness import (
    DAY0,
    T0,
    Fields,
    StoreHarness,
    analysis,
    change,
    cluster,
    count_rows,
    daily_cost,
    days,
    price,
    usage,
)

HOUR = datetime.timedelta(hours=1)
WITHOUT_A_DAY: Fields = {"cluster": "prod", "namespace": "shop"}


def realized(at: datetime.datetime, **values: object) -> RealizedSavingsRecord:
    """A measurement of what recommendation ``shop/web-rightsizing`` saved: 38 of an estimated 42.5 USD/month."""
    fields: dict[str, object] = {
        "cluster": "prod",
        "namespace": "shop",
        "name": "web-rightsizing",
        "measured_at": at,
        "target_kind": "Deployment",
        "target_name": "web",
        "type": "right-sizing",
        "window_seconds": 7 * 86400,
        "estimated_monthly_savings_usd": 42.5,
        "realized_monthly_savings_usd": 38.0,
        "monthly_cost_before_usd": 100.0,
        "monthly_cost_after_usd": 62.0,
    }
    return RealizedSavingsRecord.model_validate(fields | values)


class WriteContract(StoreHarness):
    async def test_the_same_daily_cost_twice_is_one_row_with_the_new_values(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await store.upsert_daily_costs([daily_cost(cpu_usd=1.0)])
        await store.upsert_daily_costs([daily_cost(cpu_usd=1.5, total_usd=3.5)])
        assert await count_rows(engine, DailyCost) == 1
        [row] = await store.daily_costs("prod", DAY0, DAY0)
        assert (row.cpu_usd, row.memory_usd, row.total_usd) == (1.5, 2.0, 3.5)

    async def test_the_same_workload_day_twice_is_one_row_with_the_new_values(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await store.upsert_workload_usage([usage()])
        await store.upsert_workload_usage([usage(cpu_max_cores=1.5, memory_max_bytes=2**40)])
        assert await count_rows(engine, WorkloadUsageDaily) == 1
        [row] = await store.workload_usage("prod", "shop", "Deployment", "web", start_day=DAY0, end_day=DAY0)
        assert (row.cpu_max_cores, row.memory_max_bytes) == (1.5, 2**40)

    async def test_a_retried_phase_change_is_one_row_and_a_new_phase_another(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await store.record_recommendation_change(change("Proposed", estimated_monthly_savings_usd=40.0))
        await store.record_recommendation_change(change("Proposed", estimated_monthly_savings_usd=41.0))
        await store.record_recommendation_change(change("Approved", T0 + HOUR))
        assert await count_rows(engine, RecommendationChange) == 2
        proposed, approved = await store.recommendation_history("prod", "shop", "web-rightsizing")
        assert (proposed.phase, proposed.estimated_monthly_savings_usd) == ("Proposed", 41.0)
        assert (approved.phase, approved.changed_at) == ("Approved", T0 + HOUR)

    async def test_a_realized_saving_is_kept_per_measurement_and_may_be_negative(self, store: HistoryStore) -> None:
        first = realized(T0, realized_monthly_savings_usd=-3.5, regression=True)
        await store.write([first, first, realized(T0 + datetime.timedelta(days=7))])
        rows = await store.realized_savings("prod", "shop", "web-rightsizing")
        assert [(row.realized_monthly_savings_usd, row.regression) for row in rows] == [(-3.5, True), (38.0, False)]

    async def test_an_analysis_run_is_updated_as_it_progresses(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await store.upsert_analysis(analysis("Running"))
        await store.upsert_analysis(
            analysis("Succeeded", finished_at=T0 + HOUR, potential_monthly_savings_usd=512.25, recommendation_count=7)
        )
        assert await count_rows(engine, AnalysisRecord) == 1
        [run] = await store.analyses("prod")
        assert run.phase is AnalysisPhase.SUCCEEDED
        assert (run.finished_at, run.potential_monthly_savings_usd, run.recommendation_count) == (T0 + HOUR, 512.25, 7)

    async def test_a_cluster_keeps_its_first_sighting(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await store.upsert_cluster(cluster())
        await store.upsert_cluster(cluster(region="eu-central-1", created_at=T0 + 24 * HOUR))
        await store.upsert_cluster(cluster(name="staging", provider="gcp", region="europe-west1"))
        assert await count_rows(engine, ClusterRecord) == 2
        prod, staging = await store.clusters()
        assert (prod.name, prod.region, prod.created_at) == ("prod", "eu-central-1", T0)
        assert (staging.name, staging.provider) == ("staging", Provider.GCP)

    async def test_a_newer_price_wins_and_an_older_one_is_ignored(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        await store.upsert_prices([price(usd_per_hour=0.096)])
        await store.upsert_prices([price(usd_per_hour=0.090, fetched_at=T0 + HOUR)])
        await store.upsert_prices([price(usd_per_hour=0.500, fetched_at=T0 - HOUR)])
        assert await count_rows(engine, InstancePrice) == 1
        [latest] = await store.latest_prices(Provider.AWS)
        assert (latest.usd_per_hour, latest.fetched_at) == (0.090, T0 + HOUR)
        await store.upsert_prices([price(usd_per_hour=0.091, fetched_at=T0 + HOUR)])
        [again] = await store.latest_prices(Provider.AWS)
        assert again.usd_per_hour == 0.091

    async def test_duplicates_within_one_write_keep_the_last(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await store.upsert_daily_costs([daily_cost(cpu_usd=1.0), daily_cost(cpu_usd=2.0), daily_cost(cpu_usd=3.0)])
        [row] = await store.daily_costs("prod", DAY0, DAY0)
        assert row.cpu_usd == 3.0

    async def test_one_write_spans_tables(self, store: HistoryStore, engine: AsyncEngine) -> None:
        await store.write([cluster(), daily_cost(), usage(), change(), analysis(), price()])
        for model in (
            ClusterRecord,
            DailyCost,
            WorkloadUsageDaily,
            RecommendationChange,
            AnalysisRecord,
            InstancePrice,
        ):
            assert await count_rows(engine, model) == 1, model.__name__

    async def test_a_write_larger_than_one_statement_is_complete(
        self, store: HistoryStore, engine: AsyncEngine
    ) -> None:
        namespaces = [f"team-{number}" for number in range(100)]
        rows = [daily_cost(namespace, day) for namespace in namespaces for day in days(45)]
        assert len(rows) * len(DailyCost.model_fields) > upserts.MAX_PARAMETERS_PER_STATEMENT
        await store.upsert_daily_costs(rows)
        assert await count_rows(engine, DailyCost) == 4500

    async def test_an_invalid_row_stops_the_whole_write(self, store: HistoryStore, engine: AsyncEngine) -> None:
        with pytest.raises(ValueError, match=r"daily_costs\.gpu_usd"):
            await store.upsert_daily_costs([daily_cost("fine"), daily_cost("broken", gpu_usd=-0.01)])
        assert await count_rows(engine, DailyCost) == 0

    async def test_timestamps_come_back_as_the_same_instant_in_utc(self, store: HistoryStore) -> None:
        paris = datetime.timezone(datetime.timedelta(hours=1))
        await store.record_recommendation_change(change(at=datetime.datetime(2026, 11, 1, 13, 0, tzinfo=paris)))
        [stored] = await store.recommendation_history("prod", "shop", "web-rightsizing")
        assert stored.changed_at == T0
        assert stored.changed_at.tzinfo == datetime.UTC


class TestWritesOnSqlite(WriteContract):
    pass


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (daily_cost(cpu_usd=-1.0), "daily_costs.cpu_usd: Input should be greater than or equal to 0 (got -1.0)"),
        (daily_cost(memory_usd=math.nan), "daily_costs.memory_usd: Input should be a finite number (got nan)"),
        (daily_cost(total_usd=math.inf), "daily_costs.total_usd: Input should be a finite number (got inf)"),
        (change("Bogus"), "recommendations.phase: Input should be 'Proposed', 'Approved'"),
        (change(confidence=1.5), "recommendations.confidence: Input should be less than or equal to 1 (got 1.5)"),
        (change(at=datetime.datetime(2026, 11, 1)), "recommendations.changed_at: Input should have timezone info"),
        (change(type="cheaper"), "recommendations.type: Input should be 'right-sizing'"),
        (analysis("Done"), "analyses.phase: Input should be 'Pending', 'Running', 'Succeeded' or 'Failed'"),
        (analysis(recommendation_count=-1), "analyses.recommendation_count: Input should be greater than or equal"),
        (usage(memory_p50_bytes=-1, memory_p95_bytes=-1), "workload_usage_daily.memory_p50_bytes: Input should be"),
        (usage(cpu_p95_cores=2.0), "workload_usage_daily: cpu_p50_cores <= cpu_p95_cores <= cpu_max_cores must hold"),
        (price(capacity_type="reserved"), "pricing.capacity_type: Input should be 'on-demand' or 'spot'"),
        (price(usd_per_hour=math.nan), "pricing.usd_per_hour: Input should be a finite number"),
        (cluster(provider="hetzner"), "clusters.provider: Input should be 'aws', 'gcp', 'azure' or 'onprem'"),
        (DailyCost(**WITHOUT_A_DAY), "daily_costs.day: Field required"),
    ],
)
def test_bad_input_names_the_table_and_field(row: HistoryTable, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        validated(row)


async def test_bad_input_is_refused_before_any_connection() -> None:
    with pytest.raises(ValueError, match=r"recommendations\.phase"):
        await HistoryStore().record_recommendation_change(change("Bogus"))


def test_validation_coerces_plain_strings_to_the_enumerations() -> None:
    row = validated(change("Approved"))
    assert row.phase == "Approved"
    assert type(row.phase).__name__ == "RecommendationPhase"
