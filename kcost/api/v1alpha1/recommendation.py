"""OptimizationRecommendation: one proposed change with its evidence (namespaced, ``rec``).

One live object per (workload, type) with a deterministic name (``recommendation_name``),
so a re-run updates the pending proposal instead of piling up duplicates.
"""

from __future__ import annotations

import datetime
import hashlib
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field
from pydantic.config import JsonDict

from kcost.api.v1alpha1.common import (
    ApiModel,
    Condition,
    CrdInfo,
    Duration,
    Quantity,
    Resource,
    cel,
    conditions_field,
    validations,
)


class RecommendationType(StrEnum):
    RIGHT_SIZING = "right-sizing"
    REPLICAS = "replicas"
    IDLE_WORKLOAD = "idle-workload"
    SPOT = "spot"
    NODE_CONSOLIDATION = "node-consolidation"
    STORAGE = "storage"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class WorkloadClass(StrEnum):
    """How a container uses resources over time, as the workload-class model reads it (``kcost.ml.classes``)."""

    STEADY = "steady"
    DIURNAL = "diurnal"
    BURSTY = "bursty"
    BATCH = "batch"
    IDLE = "idle"
    LEAKING = "leaking"


class RecommendationPhase(StrEnum):
    PROPOSED = "Proposed"
    APPROVED = "Approved"
    APPLYING = "Applying"
    APPLIED = "Applied"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"
    REJECTED = "Rejected"
    SUPERSEDED = "Superseded"
    EXPIRED = "Expired"


class RecommendationReason(StrEnum):
    """Reasons of a recommendation's Ready condition (and of its Events): what moved it, for users and tests."""

    PROPOSED = "Proposed"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    NO_LONGER_QUALIFIES = "NoLongerQualifies"
    TARGET_GONE = "TargetGone"
    APPLYING = "Applying"
    APPLIED = "Applied"
    ROLLED_BACK = "RolledBack"
    ROLLBACK_REQUESTED = "RollbackRequested"
    UNSUPPORTED_TARGET = "UnsupportedTarget"
    GITOPS_PATCH = "GitOpsPatch"
    LOST_STATE = "LostState"


# What a stale recommendation becomes, by why it is stale.
STALE_PHASES = {
    RecommendationReason.NO_LONGER_QUALIFIES: RecommendationPhase.SUPERSEDED,
    RecommendationReason.TARGET_GONE: RecommendationPhase.EXPIRED,
}
# A newer run may rewrite a recommendation only while nobody acted on it.
OPEN_PHASES = frozenset({RecommendationPhase.PROPOSED, RecommendationPhase.SUPERSEDED, RecommendationPhase.EXPIRED})
# Workload kind → (apiVersion, plural) of the objects a recommendation can target.
TARGET_RESOURCES = {
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "CronJob": ("batch/v1", "cronjobs"),
    "Job": ("batch/v1", "jobs"),
    "Rollout": ("argoproj.io/v1alpha1", "rollouts"),
}
TARGET_KINDS = tuple(TARGET_RESOURCES)


class TargetRef(ApiModel):
    api_version: str = Field(pattern=r"^([a-z0-9.-]+/)?v[0-9]+((alpha|beta)[0-9]+)?$", description="e.g. apps/v1")
    kind: str = Field(json_schema_extra={"enum": list(TARGET_KINDS)}, description="the workload kind")
    name: str = Field(min_length=1, max_length=253, description="the workload, in the recommendation's namespace")


class ResourceValues(ApiModel):
    cpu: Quantity | None = Field(None, description="CPU, e.g. 250m")
    memory: Quantity | None = Field(None, description="memory, e.g. 512Mi")


def _request_within_limit_rule(resource: str) -> dict[str, str]:
    request, limit = f"self.requests.{resource}", f"self.limits.{resource}"
    return cel(
        f"!has(self.requests) || !has(self.limits) || !has({request}) || !has({limit})"
        f" || !isQuantity({request}) || !isQuantity({limit})"
        f" || quantity({request}).compareTo(quantity({limit})) <= 0",
        f"the {resource} request must not be above the {resource} limit",
        f".requests.{resource}",
    )


class ContainerResources(ApiModel):
    """One container's requests and limits."""

    model_config = validations(_request_within_limit_rule("cpu"), _request_within_limit_rule("memory"))

    name: str = Field(description="container name")
    requests: ResourceValues | None = Field(None, description="resource requests")
    limits: ResourceValues | None = Field(None, description="resource limits")


class WorkloadShape(ApiModel):
    """What a workload asks for: per container resources and replicas."""

    containers: list[ContainerResources] = Field(
        default_factory=list,
        max_length=64,
        description="per container values",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    replicas: int | None = Field(None, ge=0, description="desired replicas (0 scales to zero)")


class UsageStats(ApiModel):
    """Percentiles and peak of one resource over the window (cores, or bytes)."""

    p50: float | None = Field(None, ge=0, description="median")
    p90: float | None = Field(None, ge=0, description="90th percentile")
    p95: float | None = Field(None, ge=0, description="95th percentile")
    p99: float | None = Field(None, ge=0, description="99th percentile")
    max: float | None = Field(None, ge=0, description="peak")


class ContainerEvidence(ApiModel):
    """Usage of one container over the window."""

    name: str = Field(description="container name")
    cpu_cores: UsageStats | None = Field(None, description="CPU use in cores")
    memory_bytes: UsageStats | None = Field(None, description="working set in bytes")
    oom_events: int = Field(0, ge=0, description="OOM kills seen in the window")
    cpu_throttled_percent: float | None = Field(None, ge=0, le=100, description="share of CFS periods throttled")
    workload_class: WorkloadClass | None = Field(
        None, description="its usage class (steady, diurnal, bursty, batch, idle, leaking): it chose the settings"
    )


class UsageAnomaly(ApiModel):
    """Hours of the window whose usage was anomalous for this workload (``kcost.ml.anomaly``)."""

    method: str = Field(description="the detector, e.g. robust-z or isolation-forest")
    anomalous_hours: int = Field(ge=0, description="hourly windows flagged, left out of the sizing")
    first_at: datetime.datetime | None = Field(None, description="start of the first anomalous hour")
    last_at: datetime.datetime | None = Field(None, description="start of the last anomalous hour")
    ongoing: bool = Field(
        False, description="the last hours of the window are anomalous: auto-apply holds the change meanwhile"
    )


class Evidence(ApiModel):
    window: Duration | None = Field(None, description="the window the numbers cover, e.g. 14d")
    window_start: datetime.datetime | None = Field(
        None, description="where the queries started reading: the window aligned to the query step"
    )
    window_end: datetime.datetime | None = Field(
        None, description="when the queries were evaluated: the window's end floored to the query step"
    )
    sample_count: int = Field(0, ge=0, description="samples behind the numbers")
    method: str = Field(description="the strategy and its settings, e.g. kcost(p95+15%, half-life 48h)")
    containers: list[ContainerEvidence] = Field(default_factory=list, max_length=64, description="per container usage")
    network_bytes_per_second: float | None = Field(None, ge=0, description="traffic, for idle workloads")
    usage_sparkline: list[float] = Field(default_factory=list, max_length=64, description="daily CPU use, cores")
    notes: list[str] = Field(default_factory=list, max_length=20, description="caveats worth reading")
    anomaly: UsageAnomaly | None = Field(None, description="anomalous usage found in the window, if any")
    workload_class: WorkloadClass | None = Field(
        None, description="the usage class of the first container, which chose its right-sizing settings"
    )


class AnalysisRef(ApiModel):
    name: str = Field(description="the Analysis that produced this")
    run_id: str = Field(description="its run")
    analyzer: str = Field(description="the analyzer that produced this")


class Approval(ApiModel):
    """Set by a user (``approved``); ``approvedBy``/``approvedAt`` are stamped by the webhook, never trusted."""

    approved: bool = Field(False, description="true to apply the change")
    rejected: bool = Field(False, description="true to dismiss it")
    rollback: bool = Field(False, description="true to undo a change that was applied")
    approved_by: str | None = Field(None, description="stamped from the requesting user")
    approved_at: datetime.datetime | None = Field(None, description="stamped when approved")
    reason: str | None = Field(None, max_length=1024, description="why it was approved or rejected")


# Parts of a spec the analyzer writes, each always whole: server-side apply tracks each as one field,
# not leaf by leaf (an edit of one is replaced whole when a run rewrites the proposal). The leaf-by-leaf
# field sets and managedFields made a quarter of the API server's CPU per new recommendation.
ANALYZER_WHOLE: JsonDict = {"x-kubernetes-map-type": "atomic"}


class OptimizationRecommendationSpec(ApiModel):
    target_ref: TargetRef = Field(description="the workload to change", json_schema_extra=ANALYZER_WHOLE)
    type: RecommendationType = Field(description="what kind of change")
    changes: WorkloadShape = Field(description="the proposed values", json_schema_extra=ANALYZER_WHOLE)
    current: WorkloadShape = Field(description="the values they replace", json_schema_extra=ANALYZER_WHOLE)
    estimated_monthly_savings: float = Field(ge=0, description="estimated savings per month, in the profile's currency")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of the savings")
    confidence: float = Field(ge=0, le=1, description="0 to 1: how sure kcost is")
    risk_level: RiskLevel = Field(description="low, medium or high")
    evidence: Evidence = Field(description="what the numbers rest on", json_schema_extra=ANALYZER_WHOLE)
    analysis_ref: AnalysisRef | None = Field(
        None,
        description="which run last wrote this proposal (a later run that proposes the same leaves it)",
        json_schema_extra=ANALYZER_WHOLE,
    )
    approval: Approval = Field(default_factory=Approval)

    def proposed_message(self) -> str:
        """The Ready condition's message while the recommendation waits for a decision."""
        return f"saves {self.estimated_monthly_savings:.2f} {self.currency}/month; approve to apply"


class RolloutObservation(ApiModel):
    """One health check during a rollout."""

    time: datetime.datetime = Field(description="when it was checked")
    step: int = Field(ge=0, description="the canary step")
    healthy: bool = Field(description="whether every check passed")
    message: str = Field("", description="what was seen")


class RolloutStage(StrEnum):
    """Where a rollout is within its current step; the apply engine decides from it and the cluster."""

    SCALING = "Scaling"
    OBSERVING = "Observing"
    PROMOTING = "Promoting"
    ROLLING_BACK = "RollingBack"
    DONE = "Done"


class StepRecord(ApiModel):
    """One finished canary step."""

    step: int = Field(ge=0, description="the step's index")
    percent: int = Field(ge=0, le=100, description="share of pods on the new values")
    started_at: datetime.datetime = Field(description="when its pods were in place")
    finished_at: datetime.datetime = Field(description="when it passed")


class RolloutStatus(ApiModel):
    """Where an approved change's rollout is; kept here so a restarted operator resumes it."""

    strategy: str | None = Field(
        None, description="canary, partition, rolling, next-run or in-place: how this change is applied"
    )
    stage: RolloutStage = Field(RolloutStage.SCALING, description="where the rollout is within its step")
    original_replicas: int | None = Field(None, ge=0, description="the workload's replicas when the rollout began")
    original_partition: int | None = Field(
        None, ge=0, description="a StatefulSet's rollingUpdate.partition when the rollout began: restored at its end"
    )
    reason: str | None = Field(None, max_length=1024, description="why it was rolled back, when it was")
    steps: list[StepRecord] = Field(default_factory=list, max_length=20, description="steps passed so far")
    target: WorkloadShape | None = Field(
        None, description="the values being applied: the proposal within the governing policy's constraints"
    )
    step: int = Field(0, ge=0, description="current canary step")
    canary_name: str | None = Field(None, description="the canary workload, if one was made")
    started_at: datetime.datetime | None = Field(None, description="when the rollout started")
    step_started_at: datetime.datetime | None = Field(None, description="when the current step started")
    observations: list[RolloutObservation] = Field(
        default_factory=list, max_length=50, description="health seen so far"
    )


class StaleMark(ApiModel):
    """A run's finding that this proposal is stale; the Analysis writes it, the recommendation controller acts on it.

    It holds for the proposal it judged (``proposedInRunId``): once a later run proposes the
    recommendation again (a new ``spec.analysisRef.runId``), the mark no longer applies.
    """

    run_id: str = Field(description="the Analysis run that found it stale")
    proposed_in_run_id: str | None = Field(None, description="spec.analysisRef.runId of the proposal it judged")
    reason: Literal[RecommendationReason.NO_LONGER_QUALIFIES, RecommendationReason.TARGET_GONE] = Field(
        description="NoLongerQualifies (becomes Superseded) or TargetGone (becomes Expired)"
    )
    message: str = Field("", max_length=1024, description="what the run found")

    def applies_to(self, spec: OptimizationRecommendationSpec) -> bool:
        """Whether the mark is about the proposal ``spec`` holds now (not an older one, proposed again since)."""
        current = spec.analysis_ref.run_id if spec.analysis_ref else None
        return self.proposed_in_run_id == current


# The condition the verification owns on a recommendation, and its reasons.
# The operator's finalizer on a recommendation whose rollout leaves its workload half-changed
# until the rollout ends (operator/rollout/finalizer.py); the uninstall hook waits for it.
ROLLOUT_FINALIZER = "kcost.dev/rollout"

SAVINGS_REALIZED_CONDITION = "SavingsRealized"
REALIZED_MEASURED = "Measured"
REALIZED_REGRESSION = "Regression"
REALIZED_NOT_MEASURED = "NotMeasured"


class Regressions(ApiModel):
    """What got worse over the verify window after the change, against the same length of time before it."""

    oom_kills: int = Field(0, ge=0, description="OOM kills after the change")
    restarts_before: int = Field(0, ge=0, description="container restarts in the window before the change")
    restarts_after: int = Field(0, ge=0, description="container restarts in the window after the change")
    cpu_throttled_percent_before: float | None = Field(
        None, ge=0, le=100, description="share of CFS periods throttled before the change"
    )
    cpu_throttled_percent_after: float | None = Field(
        None, ge=0, le=100, description="share of CFS periods throttled after the change"
    )
    found: list[str] = Field(default_factory=list, max_length=10, description="each regression, said plainly")


class RealizedSavings(ApiModel):
    """Savings measured over the verify window after the change, against the same window before it.

    Written only by the operator's verification (field manager ``kcost-verify``), once the
    window after ``appliedAt`` has passed; absent until then.
    """

    window: Duration = Field(description="the verify window (the governing policy's verifyWindow)")
    measured_at: datetime.datetime = Field(description="when it was measured")
    monthly_savings_usd: float | None = Field(None, description="monthly cost before minus after (negative: dearer)")
    monthly_cost_before_usd: float | None = Field(None, ge=0, description="max(request, usage) × node prices, before")
    monthly_cost_after_usd: float | None = Field(None, ge=0, description="max(request, usage) × node prices, after")
    estimate_error_percent: float | None = Field(
        None, description="(realized − estimated) / estimated × 100; negative: less was saved than estimated"
    )
    prices: str | None = Field(None, max_length=1024, description="where the node prices came from")
    regressions: Regressions | None = Field(None, description="what got worse after the change")
    message: str | None = Field(None, max_length=1024, description="why it could not be measured, when it could not")


class OptimizationRecommendationStatus(ApiModel):
    observed_generation: int | None = Field(None, ge=0, description="the generation the phase was set from")
    # The schema's default: a new recommendation is born Proposed, with no status write of its own.
    phase: RecommendationPhase | None = Field(
        None,
        description="where the recommendation is in its lifecycle (a new one is Proposed)",
        json_schema_extra={"default": "Proposed"},
    )
    rollout: RolloutStatus | None = Field(None, description="the rollout of an approved change")
    previous: WorkloadShape | None = Field(
        None, description="the workload's values when the rollout began: what a rollback restores"
    )
    applied_at: datetime.datetime | None = Field(None, description="when the change was promoted")
    gitops_patch: str | None = Field(
        None, description="for a workload managed by Argo CD or Flux: the kustomize patch to commit instead"
    )
    realized: RealizedSavings | None = Field(None, description="savings measured after the change (kcost-verify)")
    stale: StaleMark | None = Field(
        None, description="written by the Analysis whose run no longer proposes this; the phase follows from it"
    )
    conditions: list[Condition] = conditions_field("Ready, and what the rollout reports")


class OptimizationRecommendation(Resource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="OptimizationRecommendation",
        plural="optimizationrecommendations",
        singular="optimizationrecommendation",
        short_names=["rec"],
        scope="Namespaced",
        printer_columns=[
            {"name": "Target", "type": "string", "jsonPath": ".spec.targetRef.name"},
            {"name": "Kind", "type": "string", "jsonPath": ".spec.targetRef.kind", "priority": 1},
            {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
            {
                "name": "Savings",
                "type": "number",
                "jsonPath": ".spec.estimatedMonthlySavings",
                "description": "per month",
            },
            {"name": "Confidence", "type": "number", "jsonPath": ".spec.confidence"},
            {"name": "Risk", "type": "string", "jsonPath": ".spec.riskLevel"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {
                "name": "Realized",
                "type": "number",
                "jsonPath": ".status.realized.monthlySavingsUsd",
                "description": "measured savings per month",
                "priority": 1,
            },
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: str = "OptimizationRecommendation"
    spec: OptimizationRecommendationSpec
    # The API server fills in ``status: {phase: Proposed}`` when it reads an object without one
    # (a create drops the status): born Proposed, one write per new recommendation.
    status: OptimizationRecommendationStatus = Field(
        default_factory=OptimizationRecommendationStatus, json_schema_extra={"default": {}}
    )

    def open_proposal(self) -> bool:
        """Proposed (or not given a phase yet) and not found stale: what a run confirms by leaving it as it is."""
        stale = self.status.stale
        live = stale is None or not stale.applies_to(self.spec)
        return self.status.phase in (None, RecommendationPhase.PROPOSED) and live


def recommendation_name(kind: str, workload: str, recommendation_type: str) -> str:
    """Deterministic object name for (workload, type): ``deployment-web-right-sizing``.

    Long names are cut and keep a hash of the whole, so two workloads never share one.
    """
    name = f"{kind}-{workload}-{recommendation_type}".lower()
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-.')}-{digest}"
