"""What the operator's watches have seen, kept in memory, and the ``kcost_*`` gauges computed from it.

The operator already watches every kind; each event is handed to ``observe`` here, so
a scrape reads memory and never lists objects. Only the leading replica reports the
cluster gauges (``Caches.leading``): two replicas would otherwise double every sum.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from croniter import croniter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import ValidationError

from kcost.api import savings
from kcost.api.v1alpha1.analysis import Analysis, AnalysisPhase
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase
from kcost.observability import metrics, tracing

Key = tuple[str, str]
# A recommendation entering one of these phases ends a rollout; the counter's label says which.
ROLLOUT_RESULTS = {
    RecommendationPhase.APPLIED.value: "applied",
    RecommendationPhase.ROLLED_BACK.value: "rolled-back",
    RecommendationPhase.FAILED.value: "failed",
}
# The phase label of a recommendation not given a phase yet.
NEW = "New"
APPLIED = RecommendationPhase.APPLIED.value
COST_RESOURCES = ("cpu", "memory", "gpu", "storage", "network", "idle")


def _key(body: Mapping[str, Any]) -> Key:
    metadata = body.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


class Entry(NamedTuple):
    """What the gauges need of one recommendation: a few fields, not the whole object (there can be 10,000s)."""

    proposal: savings.Proposal
    phase: str
    realized_monthly_savings: float | None


@dataclass
class RecommendationCache:
    """Every recommendation as last seen; phase changes into a rollout's end counted once.

    ``version`` changes with every change, so the gauges are recomputed only then.
    """

    items: dict[Key, Entry] = field(default_factory=dict)
    version: int = 0

    def observe(
        self, event_type: str | None, body: Mapping[str, Any], parsed: OptimizationRecommendation | None = None
    ) -> None:
        """One watch event (``None`` or ``""`` for the initial listing); ``parsed``: its object, if already parsed."""
        key = _key(body)
        self.version += 1
        if event_type == "DELETED":
            self.items.pop(key, None)
            return
        try:
            rec = parsed if parsed is not None else OptimizationRecommendation.model_validate(body)
        except ValidationError:
            return  # the operator reports an invalid object in its status; it has no savings to count
        phase = rec.status.phase.value if rec.status.phase else NEW
        before = self.items.get(key)
        self.items[key] = Entry(
            savings.proposal_of(rec), phase, rec.status.realized.monthly_savings_usd if rec.status.realized else None
        )
        result = ROLLOUT_RESULTS.get(phase)
        if result and before is not None and before.phase != phase:
            metrics.ROLLOUTS.labels(result).inc()


@dataclass
class ProfileCache:
    """Every ClusterCostProfile as last seen."""

    items: dict[str, ClusterCostProfile] = field(default_factory=dict)

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """One watch event (``None`` or ``""`` for the initial listing)."""
        name = _key(body)[1]
        if event_type == "DELETED":
            self.items.pop(name, None)
            return
        try:
            self.items[name] = ClusterCostProfile.model_validate(body)
        except ValidationError:
            return


@dataclass
class AnalysisCache:
    """Every Analysis as last seen; a run's end (Running → Succeeded | Failed) counted once."""

    items: dict[str, Analysis] = field(default_factory=dict)

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> Analysis | None:
        """One watch event (``None`` or ``""`` for the initial listing); returns the Analysis if a run just ended."""
        name = _key(body)[1]
        if event_type == "DELETED":
            self.items.pop(name, None)
            return None
        try:
            analysis = Analysis.model_validate(body)
        except ValidationError:
            return None
        before = self.items.get(name)
        self.items[name] = analysis
        ended = analysis.status.phase in (AnalysisPhase.SUCCEEDED, AnalysisPhase.FAILED)
        if not ended or before is None or before.status.phase is not AnalysisPhase.RUNNING:
            return None
        metrics.ANALYSIS_RUNS.labels(str(analysis.status.phase).lower()).inc()
        return analysis


def emit_run_span(analysis: Analysis) -> None:
    """The root span of the run that just ended (its analyzers' spans are already its children)."""
    status = analysis.status
    if status.trace_id and status.started_at and status.finished_at:
        tracing.emit_run_span(
            status.trace_id,
            "analysis run",
            status.started_at,
            status.finished_at,
            **{"kcost.analysis": analysis.name, "kcost.run_id": status.run_id or "", "kcost.phase": str(status.phase)},
        )


@dataclass
class Caches:
    """The operator's caches, fed from its watch handlers, and whether this replica leads (last seen)."""

    recommendations: RecommendationCache = field(default_factory=RecommendationCache)
    profiles: ProfileCache = field(default_factory=ProfileCache)
    analyses: AnalysisCache = field(default_factory=AnalysisCache)
    leading: bool = False


class ClusterCollector(Collector):
    """The cluster gauges, computed from ``caches`` at each scrape (by the leading replica only)."""

    def __init__(self, caches: Caches) -> None:
        self.caches = caches
        self._recommendation_gauges: tuple[int, list[GaugeMetricFamily]] = (-1, [])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.caches.leading:
            return
        recommendations = self.caches.recommendations
        version, gauges = self._recommendation_gauges
        if version != recommendations.version:
            # Unchanged since the last scrape (the usual case between analyses): the same answer.
            gauges = list(recommendation_gauges(recommendations.items.values()))
            self._recommendation_gauges = (recommendations.version, gauges)
        yield from gauges
        yield from profile_gauges(self.caches.profiles.items.values(), time.time())
        yield from analysis_gauges(self.caches.analyses.items.values())
        yield from anomaly_gauges(self.caches.analyses.items.values())


def recommendation_gauges(entries: Collection[Entry]) -> Iterator[GaugeMetricFamily]:
    """Potential and realized savings, and recommendations by phase and type."""
    potential = GaugeMetricFamily(
        "kcost_savings_potential_monthly_usd",
        "Savings per month still to be had from open recommendations (Proposed, Approved), each workload "
        "counted once as in an Analysis summary; the type is that of the workload's largest proposal.",
        labels=["namespace", "type"],
    )
    by_group: dict[tuple[str, str], float] = {}
    for (namespace, _, _), proposal in savings.best_by_workload(entry.proposal for entry in entries).items():
        group = (namespace, proposal.type)
        by_group[group] = by_group.get(group, 0.0) + proposal.monthly_savings
    for (namespace, kind), value in sorted(by_group.items()):
        potential.add_metric([namespace, kind], value)
    yield potential

    realized = GaugeMetricFamily(
        "kcost_savings_realized_monthly_usd",
        "Savings per month measured after applied recommendations.",
        labels=["namespace"],
    )
    by_namespace: dict[str, float] = {}
    counts: dict[tuple[str, str], int] = {}
    for proposal, phase, realized_usd in entries:
        counts[(phase, proposal.type)] = counts.get((phase, proposal.type), 0) + 1
        if phase == APPLIED and realized_usd is not None:
            namespace = proposal.workload[0]
            by_namespace[namespace] = by_namespace.get(namespace, 0.0) + realized_usd
    for namespace, value in sorted(by_namespace.items()):
        realized.add_metric([namespace], value)
    yield realized

    phases = GaugeMetricFamily(
        "kcost_recommendations", "Recommendations by phase (New: not given one yet) and type.", labels=["phase", "type"]
    )
    for (phase, kind), count in sorted(counts.items()):
        phases.add_metric([phase, kind], count)
    yield phases


def profile_gauges(profiles: Any, now_s: float) -> Iterator[GaugeMetricFamily]:
    """Cluster cost by resource, budget ratios and the age of the prices, per ClusterCostProfile."""
    cost = GaugeMetricFamily(
        "kcost_cluster_cost_hourly_usd", "The cluster's cost per hour by resource.", labels=["profile", "resource"]
    )
    used = GaugeMetricFamily(
        "kcost_budget_used_ratio", "Month-to-date cost over the monthly budget.", labels=["profile"]
    )
    forecast = GaugeMetricFamily(
        "kcost_budget_forecast_ratio",
        "Forecast cost of the month (status.forecast, else the run-rate projection) over the monthly budget.",
        labels=["profile"],
    )
    thresholds = GaugeMetricFamily(
        "kcost_budget_threshold_ratio",
        "The budget's alert thresholds (spec.budget.alertThresholdsPercent) as ratios.",
        labels=["profile", "percent"],
    )
    age = GaugeMetricFamily(
        "kcost_pricing_age_seconds",
        "Age of the oldest price in use (status.pricesAsOf).",
        labels=["profile", "provider", "source"],
    )
    for profile in profiles:
        spec, status = profile.spec, profile.status
        if status.hourly_cost is not None:
            for resource in COST_RESOURCES:
                cost.add_metric([profile.name, resource], getattr(status.hourly_cost, resource))
        if spec.budget is not None:
            if status.month_to_date_cost is not None:
                used.add_metric([profile.name], status.month_to_date_cost / spec.budget.monthly)
            # The learned forecast when there is one; the cost analyzer's run rate until history exists.
            projected = status.forecast.month_end_cost if status.forecast else status.projected_monthly_cost
            if projected is not None:
                forecast.add_metric([profile.name], projected / spec.budget.monthly)
            for percent in spec.budget.alert_thresholds_percent:
                thresholds.add_metric([profile.name, str(percent)], percent / 100)
        if status.prices_as_of is not None:
            labels = [profile.name, spec.provider.value, spec.pricing.source.value]
            age.add_metric(labels, max(now_s - status.prices_as_of.timestamp(), 0.0))
    yield from (cost, used, forecast, thresholds, age)


def analysis_gauges(analyses: Any) -> Iterator[GaugeMetricFamily]:
    """When each Analysis last succeeded, how often it is scheduled, and whether its last run failed."""
    succeeded = GaugeMetricFamily(
        "kcost_analysis_last_success_timestamp_seconds",
        "When the Analysis last finished successfully (Unix seconds).",
        labels=["analysis"],
    )
    interval = GaugeMetricFamily(
        "kcost_analysis_schedule_interval_seconds",
        "Seconds between two scheduled runs of the Analysis (spec.schedule).",
        labels=["analysis"],
    )
    failed = GaugeMetricFamily(
        "kcost_analysis_failed", "1 when the Analysis's last run failed, else 0.", labels=["analysis"]
    )
    for analysis in analyses:
        status = analysis.status
        last = _last_success(analysis)
        if last is not None:
            succeeded.add_metric([analysis.name], last.timestamp())
        if analysis.spec.schedule and not analysis.spec.suspend:
            interval.add_metric([analysis.name], schedule_interval_s(analysis.spec.schedule))
        if status.phase in (AnalysisPhase.SUCCEEDED, AnalysisPhase.FAILED):
            failed.add_metric([analysis.name], 1.0 if status.phase is AnalysisPhase.FAILED else 0.0)
    yield from (succeeded, interval, failed)


def _last_success(analysis: Analysis) -> datetime.datetime | None:
    status = analysis.status
    if status.phase is AnalysisPhase.SUCCEEDED and status.finished_at is not None:
        return status.finished_at
    finished = [
        run.finished_at
        for run in status.past_runs
        if run.phase is AnalysisPhase.SUCCEEDED and run.finished_at is not None
    ]
    return max(finished, default=None)


def schedule_interval_s(schedule: str) -> float:
    """The seconds between the next two runs of a cron ``schedule``."""
    runs = croniter(schedule, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    first: datetime.datetime = runs.get_next(datetime.datetime)
    second: datetime.datetime = runs.get_next(datetime.datetime)
    return (second - first).total_seconds()


def anomaly_gauges(analyses: Any) -> Iterator[GaugeMetricFamily]:
    """The workloads whose usage an Analysis's last run found anomalous at its window's end."""
    anomalous = GaugeMetricFamily(
        "kcost_workload_anomalous",
        "1 for each workload whose usage is anomalous at the end of the Analysis's window (auto-apply holds it).",
        labels=["analysis", "namespace", "kind", "workload"],
    )
    counts = GaugeMetricFamily(
        "kcost_anomalies", "Workloads whose usage the Analysis's last run found anomalous.", labels=["analysis"]
    )
    for analysis in analyses:
        found = sorted({w for section in analysis.status.analyzers.values() for w in section.anomalous_workloads})
        for workload in found:
            namespace, kind, name = workload.split("/", 2)
            anomalous.add_metric([analysis.name, namespace, kind, name], 1.0)
        if analysis.status.phase is AnalysisPhase.SUCCEEDED:
            counts.add_metric([analysis.name], float(len(found)))
    yield from (anomalous, counts)
