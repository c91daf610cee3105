"""Analysis: one run, or with a schedule a recurring run, over a scope and a window (cluster-scoped, ``kca``)."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import Field, model_validator

from kcost.api.v1alpha1.common import (
    ApiModel,
    Condition,
    CrdInfo,
    CronSchedule,
    DnsLabel,
    Duration,
    LabelSelector,
    Resource,
    cel,
    conditions_field,
    duration_seconds_cel,
    validations,
)

DEFAULT_ANALYZERS = ("rightsizing", "idle")


class AnalysisPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class AnalyzerPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class AnalyzerSpec(ApiModel):
    name: DnsLabel = Field(description="the analyzer, e.g. rightsizing, idle, cost")
    enabled: bool = Field(True, description="false skips it")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
        description="the analyzer's own settings (see `kcost analyzer <name> --help`)",
    )


class ProfileRef(ApiModel):
    name: str = Field(description="name of the ClusterCostProfile")


class AnalysisSpec(ApiModel):
    model_config = validations(
        cel(
            "!has(self.schedule) || !has(self.ttlAfterFinished)",
            "a scheduled Analysis is never deleted: drop ttlAfterFinished",
            ".ttlAfterFinished",
        ),
        cel(f"{duration_seconds_cel('self.window')} > 0.0", "window must be longer than 0, e.g. 14d", ".window"),
        cel(
            f"{duration_seconds_cel('self.resolution')} > 0.0",
            "resolution must be longer than 0, e.g. 5m",
            ".resolution",
        ),
        cel(
            f"{duration_seconds_cel('self.resolution')} <= {duration_seconds_cel('self.window')}",
            "resolution must not be longer than window",
            ".resolution",
        ),
    )

    profile_ref: ProfileRef = Field(description="the ClusterCostProfile that prices this cluster")
    namespaces: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="namespaces in scope; empty: all (or those the selector picks)",
    )
    namespace_selector: LabelSelector | None = Field(None, description="namespaces in scope by label")
    workload_selector: LabelSelector | None = Field(None, description="workloads in scope by label")
    window: Duration = Field("14d", description="how far back the metrics are read")
    resolution: Duration = Field("5m", description="step of the metric queries")
    analyzers: list[AnalyzerSpec] = Field(
        default_factory=lambda: [AnalyzerSpec(name=name) for name in DEFAULT_ANALYZERS],
        min_length=1,
        max_length=32,
        description="which analyzers run, each with its settings",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    timeout: Duration = Field("30m", description="a run fails when an analyzer has not finished by then")
    schedule: CronSchedule | None = Field(None, description="re-run on this cron schedule (UTC)")
    suspend: bool = Field(False, description="with a schedule: start no new runs")
    ttl_after_finished: Duration | None = Field(
        None, description="delete the Analysis this long after it finished (not with a schedule)"
    )

    @model_validator(mode="after")
    def _ttl_without_schedule(self) -> Self:
        if self.schedule and self.ttl_after_finished:
            raise ValueError("ttlAfterFinished: a scheduled Analysis is never deleted")
        return self

    def enabled_analyzers(self) -> list[AnalyzerSpec]:
        return [analyzer for analyzer in self.analyzers if analyzer.enabled]


class AnalyzerStatus(ApiModel):
    """One analyzer's part of the status; only that analyzer writes it (its own field manager)."""

    phase: AnalyzerPhase = Field(AnalyzerPhase.PENDING, description="Pending, Running, Succeeded or Failed")
    run_id: str | None = Field(None, description="the run this section belongs to")
    claimed_by: str | None = Field(None, description="the analyzer instance working on it")
    heartbeat_time: datetime.datetime | None = Field(None, description="last sign of life of the claimant")
    started_at: datetime.datetime | None = Field(None, description="when it claimed the run")
    finished_at: datetime.datetime | None = Field(None, description="when it reported")
    duration_seconds: float | None = Field(None, ge=0, description="how long it worked")
    workloads: int | None = Field(None, ge=0, description="workloads analyzed")
    recommendations: int | None = Field(None, ge=0, description="recommendations the run proposed (new or again)")
    recommendations_written: int | None = Field(
        None, ge=0, description="of those, the ones written: new or changed (an unchanged one is not written again)"
    )
    withdrawn: list[str] = Field(
        default_factory=list,
        description=(
            "namespace/name of this Analysis's open recommendations from this analyzer that the run no longer "
            "proposes; the Analysis marks them stale"
        ),
    )
    prometheus_requests: int | None = Field(
        None,
        ge=0,
        description=(
            "every HTTP request the run made to Prometheus: instant and range queries and series lookups, "
            "retries included (grows with namespaces, not with workloads)"
        ),
    )
    prometheus_requests_by_endpoint: dict[str, int] = Field(
        default_factory=dict, description="the same requests by API endpoint: query, query_range, series"
    )
    window_start: datetime.datetime | None = Field(
        None,
        description=(
            "the first step its queries read: the Analysis's window aligned to the query step, so that "
            "runs over the same data read the same samples"
        ),
    )
    window_end: datetime.datetime | None = Field(
        None, description="the time its queries were evaluated at: the window's end floored to the query step"
    )
    monthly_savings: float | None = Field(None, ge=0, description="their estimated savings per month")
    scope_monthly_cost: float | None = Field(None, ge=0, description="current monthly cost of what it looked at")
    skipped: dict[str, int] = Field(
        default_factory=dict, description="workloads left out, by reason (e.g. NotEnoughData)"
    )
    error: str | None = Field(None, max_length=4096, description="why it failed, for a person to read")
    anomalous_workloads: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description=(
            "namespace/Kind/name of the workloads whose usage is anomalous at the window's end; auto-apply holds "
            "their changes until a run finds their usage normal"
        ),
    )


class Progress(ApiModel):
    """How far the run is."""

    workloads_total: int = Field(0, ge=0, description="workloads the analyzers reported so far")
    workloads_done: int = Field(0, ge=0, description="of those, the ones whose analyzer finished")


class Summary(ApiModel):
    """What the run found, from the recommendations it made."""

    current_monthly_cost: float | None = Field(None, ge=0, description="monthly cost of the scope today")
    optimized_monthly_cost: float | None = Field(None, ge=0, description="after every recommendation")
    potential_monthly_savings: float = Field(0, ge=0, description="sum of the recommendations' savings")
    recommendations: int = Field(0, ge=0, description="recommendations made or confirmed by this run")
    recommendations_by_type: dict[str, int] = Field(default_factory=dict, description="their count by type")
    savings_by_type: dict[str, float] = Field(default_factory=dict, description="their savings by type")


class PastRun(ApiModel):
    """A finished run, kept for the record."""

    run_id: str = Field(description="its id")
    phase: AnalysisPhase = Field(description="how it ended")
    finished_at: datetime.datetime | None = Field(None, description="when it ended")
    potential_monthly_savings: float = Field(0, ge=0, description="what it found")
    reason: str | None = Field(None, description="the Ready reason it ended with")


class AnalysisStatus(ApiModel):
    observed_generation: int | None = Field(None, ge=0, description="the generation the current run started from")
    phase: AnalysisPhase | None = Field(None, description="Pending, Running, Succeeded or Failed")
    run_id: str | None = Field(None, description="identifies the current run; frozen while it runs")
    trace_id: str | None = Field(
        None, pattern="^[0-9a-f]{32}$", description="the OpenTelemetry trace of the current run (its spans and logs)"
    )
    window_start: datetime.datetime | None = Field(None, description="every analyzer reads metrics from here…")
    window_end: datetime.datetime | None = Field(None, description="…to here")
    started_at: datetime.datetime | None = Field(None, description="when the current run started")
    finished_at: datetime.datetime | None = Field(None, description="when it ended")
    next_run_at: datetime.datetime | None = Field(None, description="with a schedule: when the next run starts")
    progress: Progress | None = Field(None, description="workloads analyzed so far")
    analyzers: dict[str, AnalyzerStatus] = Field(default_factory=dict, description="one section per analyzer")
    summary: Summary | None = Field(None, description="what the last finished run found")
    past_runs: list[PastRun] = Field(default_factory=list, max_length=10, description="the latest finished runs")
    conditions: list[Condition] = conditions_field("<Analyzer>Complete for each analyzer, and Ready")


class Analysis(Resource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="Analysis",
        plural="analyses",
        singular="analysis",
        short_names=["kca"],
        scope="Cluster",
        printer_columns=[
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Window", "type": "string", "jsonPath": ".spec.window"},
            {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule", "priority": 1},
            {"name": "Recs", "type": "integer", "jsonPath": ".status.summary.recommendations"},
            {
                "name": "Savings",
                "type": "number",
                "jsonPath": ".status.summary.potentialMonthlySavings",
                "description": "per month",
            },
            {"name": "Run", "type": "string", "jsonPath": ".status.runId", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: str = "Analysis"
    spec: AnalysisSpec
    status: AnalysisStatus = Field(default_factory=AnalysisStatus)


def complete_condition_type(analyzer: str) -> str:
    """``rightsizing`` → ``RightsizingComplete``; ``node-consolidation`` → ``NodeConsolidationComplete``."""
    return "".join(part.capitalize() for part in analyzer.split("-")) + "Complete"
