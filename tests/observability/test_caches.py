"""The gauges computed from the operator's watch caches, at scrape time."""

from __future__ import annotations

import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kcost.api import savings
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.observability import caches, metrics


def _rec(
    namespace: str, workload: str, rec_type: str, monthly_savings: float, phase: str | None = "Proposed"
) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": f"{workload}-{rec_type}", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload},
            "type": rec_type,
            "changes": {},
            "current": {},
            "estimatedMonthlySavings": monthly_savings,
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {"method": "test"},
        },
        "status": {"phase": phase} if phase else {},
    }


def _scrape(collector: caches.ClusterCollector, leading: bool = True) -> dict[str, list[tuple[dict[str, str], float]]]:
    collector.caches.leading = leading
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_potential_savings_sum_to_the_summary_rule() -> None:
    bodies = [
        _rec("shop", "web", "right-sizing", 10.25),
        _rec("shop", "web", "idle-workload", 25.5),  # an alternative for web: only the larger counts
        _rec("shop", "api", "right-sizing", 4.125),
        _rec("data", "etl", "right-sizing", 7.0),
        _rec("data", "old", "right-sizing", 99.0, phase="Applied"),  # realized, not potential
    ]
    cache = caches.Caches()
    for body in bodies:
        cache.recommendations.observe(None, body)
    scraped = _scrape(caches.ClusterCollector(cache))

    potential = {(s["namespace"], s["type"]): v for s, v in scraped["kcost_savings_potential_monthly_usd"]}
    assert potential == {
        ("shop", "idle-workload"): 25.5,
        ("shop", "right-sizing"): 4.125,
        ("data", "right-sizing"): 7.0,
    }
    summary = savings.potential_savings(OptimizationRecommendation.model_validate(b) for b in bodies)
    assert round(sum(potential.values()), 2) == summary.potential_monthly_savings
    phases = {(s["phase"], s["type"]): v for s, v in scraped["kcost_recommendations"]}
    assert phases == {("Proposed", "right-sizing"): 3, ("Proposed", "idle-workload"): 1, ("Applied", "right-sizing"): 1}


def test_deleted_recommendations_leave_the_gauges() -> None:
    cache = caches.Caches()
    body = _rec("shop", "web", "right-sizing", 10.0)
    cache.recommendations.observe("ADDED", body)
    cache.recommendations.observe("DELETED", body)
    assert _scrape(caches.ClusterCollector(cache))["kcost_savings_potential_monthly_usd"] == []


def test_a_rollout_end_is_counted_once_and_not_at_a_restart() -> None:
    counter = metrics.ROLLOUTS.labels("rolled-back")
    before = counter._value.get()
    cache = caches.Caches()
    cache.recommendations.observe(None, _rec("shop", "web", "right-sizing", 10.0, phase="RolledBack"))
    assert counter._value.get() == before, "already rolled back when first seen (a restart): not a new rollout"
    cache.recommendations.observe("MODIFIED", _rec("shop", "api", "right-sizing", 5.0, phase="Applying"))
    cache.recommendations.observe("MODIFIED", _rec("shop", "api", "right-sizing", 5.0, phase="RolledBack"))
    cache.recommendations.observe("MODIFIED", _rec("shop", "api", "right-sizing", 5.0, phase="RolledBack"))
    assert counter._value.get() == before + 1


def test_only_the_leader_reports() -> None:
    cache = caches.Caches()
    cache.recommendations.observe(None, _rec("shop", "web", "right-sizing", 10.0))
    assert "kcost_savings_potential_monthly_usd" not in _scrape(caches.ClusterCollector(cache), leading=False)


def _profile(**status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "ClusterCostProfile",
        "metadata": {"name": "default"},
        "spec": {
            "provider": "aws",
            "pricing": {"source": "catalog", "catalog": {"path": "/prices.csv"}},
            "prometheus": {"url": "http://prometheus:9090"},
            "budget": {"monthly": 1000, "alertThresholdsPercent": [80, 100]},
        },
        "status": status,
    }


def test_profile_gauges_cost_budget_and_price_age() -> None:
    cache = caches.Caches()
    as_of = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cache.profiles.observe(
        None,
        _profile(
            hourlyCost={"cpu": 0.5, "memory": 0.25, "idle": 1.0, "total": 1.75},
            monthToDateCost=850.0,
            projectedMonthlyCost=1200.0,
            pricesAsOf=as_of.isoformat(),
        ),
    )
    gauges = {
        family.name: family.samples
        for family in caches.profile_gauges(cache.profiles.items.values(), as_of.timestamp() + 90)
    }
    cost = {s.labels["resource"]: s.value for s in gauges["kcost_cluster_cost_hourly_usd"]}
    assert cost == {"cpu": 0.5, "memory": 0.25, "gpu": 0.0, "storage": 0.0, "network": 0.0, "idle": 1.0}
    assert [s.value for s in gauges["kcost_budget_used_ratio"]] == [0.85]
    assert [s.value for s in gauges["kcost_budget_forecast_ratio"]] == [1.2]
    assert sorted(s.value for s in gauges["kcost_budget_threshold_ratio"]) == [0.8, 1.0]
    [age] = gauges["kcost_pricing_age_seconds"]
    assert (age.labels, age.value) == ({"profile": "default", "provider": "aws", "source": "catalog"}, 90.0)


def test_the_budget_forecast_ratio_follows_the_learned_forecast_when_there_is_one() -> None:
    cache = caches.Caches()
    forecast = {
        "method": "prophet",
        "reason": "28 days of history",
        "historyDays": 28,
        "horizonDays": 30,
        "generatedAt": "2026-01-20T00:00:00Z",
        "monthEndCost": 1500.0,
        "monthEndCostLower": 1400.0,
        "monthEndCostUpper": 1600.0,
    }
    cache.profiles.observe(None, _profile(projectedMonthlyCost=1200.0, forecast=forecast))
    gauges = {family.name: family.samples for family in caches.profile_gauges(cache.profiles.items.values(), 0.0)}
    assert [s.value for s in gauges["kcost_budget_forecast_ratio"]] == [1.5]


def _analysis(phase: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": "nightly"},
        "spec": {"profileRef": {"name": "default"}, "schedule": "0 2 * * *"},
        "status": {"phase": phase, "runId": "r1", **status},
    }


def test_a_run_end_is_counted_and_returned_once() -> None:
    failed = metrics.ANALYSIS_RUNS.labels("failed")
    before = failed._value.get()
    cache = caches.Caches()
    assert cache.analyses.observe(None, _analysis("Running")) is None
    ended = cache.analyses.observe("MODIFIED", _analysis("Failed", finishedAt="2026-01-02T02:05:00Z"))
    assert ended is not None
    assert ended.name == "nightly"
    assert cache.analyses.observe("MODIFIED", _analysis("Failed", finishedAt="2026-01-02T02:05:00Z")) is None
    assert failed._value.get() == before + 1
    gauges = {f.name: f.samples for f in caches.analysis_gauges(cache.analyses.items.values())}
    assert [s.value for s in gauges["kcost_analysis_failed"]] == [1.0]
    assert [s.value for s in gauges["kcost_analysis_schedule_interval_seconds"]] == [86400.0]
    assert gauges["kcost_analysis_last_success_timestamp_seconds"] == []


def test_anomalous_workloads_of_an_analysis_become_gauges() -> None:
    anomalous = ["shop/Deployment/web", "jobs/StatefulSet/queue"]
    cache = caches.Caches()
    cache.analyses.observe(
        None,
        _analysis("Succeeded", analyzers={"rightsizing": {"phase": "Succeeded", "anomalousWorkloads": anomalous}}),
    )
    gauges = {f.name: f.samples for f in caches.anomaly_gauges(cache.analyses.items.values())}
    assert sorted(
        (s.labels["namespace"], s.labels["kind"], s.labels["workload"]) for s in gauges["kcost_workload_anomalous"]
    ) == [
        ("jobs", "StatefulSet", "queue"),
        ("shop", "Deployment", "web"),
    ]
    assert [(s.labels["analysis"], s.value) for s in gauges["kcost_anomalies"]] == [("nightly", 2.0)]
