"""OptimizationPolicy: what may be applied automatically, and how (cluster-scoped, ``kpol``)."""

from __future__ import annotations

import datetime
import itertools
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, model_validator

from kcost.api.v1alpha1.common import (
    ApiModel,
    Condition,
    CrdInfo,
    CronSchedule,
    Duration,
    LabelSelector,
    Quantity,
    Resource,
    cel,
    conditions_field,
    validations,
)
from kcost.api.v1alpha1.recommendation import RecommendationType, RiskLevel

MAX_CANARY_STEPS = 10


class PolicyMode(StrEnum):
    RECOMMEND = "recommend"
    AUTO_APPLY = "auto-apply"
    GITOPS = "gitops"


class RolloutType(StrEnum):
    CANARY = "canary"
    ALL_AT_ONCE = "all-at-once"
    # Running pods resized through pods/resize, watched for the steps' total duration, then the template patched.
    IN_PLACE = "in-place"


class AutoApprove(ApiModel):
    min_confidence: float = Field(0.9, ge=0, le=1, description="approve only at or above this confidence")
    max_risk_level: RiskLevel = Field(RiskLevel.LOW, description="approve only up to this risk")
    types: list[RecommendationType] = Field(
        default_factory=lambda: [RecommendationType.RIGHT_SIZING], description="types that may be approved"
    )
    max_change_percent: float = Field(50, gt=0, le=100, description="approve only changes of at most this size")


class ExcludedWorkload(ApiModel):
    """A workload kcost must never change."""

    kind: str = Field(description="e.g. Deployment")
    name: str = Field(description="its name")
    namespace: str = Field(description="its namespace")


class Constraints(ApiModel):
    """Limits every change must respect."""

    min_cpu: Quantity | None = Field(None, description="no container gets a CPU request below this")
    min_memory: Quantity | None = Field(None, description="no container gets a memory request below this")
    max_reduction_percent: float = Field(50, gt=0, le=100, description="no single change cuts a value by more")
    excluded_workloads: list[ExcludedWorkload] = Field(
        default_factory=list, max_length=500, description="never changed"
    )


class Hysteresis(ApiModel):
    """How big a change must be to be proposed: smaller ones are churn, a rollout for nothing.

    A change is proposed only when it moves some request or limit by at least
    ``minChangePercent`` of its current value and the monthly cost by at least
    ``minMonthlySavingsUsd``; the same band keeps an open proposal as it is while later
    runs differ from it only inside the band. Raising memory after an OOM kill is always
    proposed.
    """

    min_change_percent: float = Field(
        10, ge=0, le=100, description="smallest change of a request or limit worth proposing, in % of its value"
    )
    min_monthly_savings_usd: float = Field(
        1.0, ge=0, description="smallest change of the monthly cost worth proposing, in USD (either direction)"
    )


class CanaryStep(ApiModel):
    model_config = validations(
        cel(
            "int(self.replicas.replace('%', '')) > 0 && int(self.replicas.replace('%', '')) <= 100",
            "replicas must be a share in (0%, 100%], e.g. 20%",
            ".replicas",
        )
    )

    replicas: str = Field(
        pattern=r"^[0-9]{1,3}%$", max_length=4, description="share of pods on the new values, e.g. 20%"
    )
    duration: Duration = Field("5m", description="how long health is watched at this step")

    @property
    def percent(self) -> int:
        return int(self.replicas.rstrip("%"))


class PromQLCheck(ApiModel):
    model_config = validations(cel("has(self.maxValue) || has(self.minValue)", "give maxValue or minValue"))

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]+$", description="shown in rollout observations")
    query: str = Field(min_length=1, description="PromQL returning one number; $namespace and $workload are filled in")
    max_value: float | None = Field(None, description="unhealthy above this")
    min_value: float | None = Field(None, description="unhealthy below this")

    @model_validator(mode="after")
    def _one_bound(self) -> Self:
        if self.max_value is None and self.min_value is None:
            raise ValueError(f"health check {self.name!r}: give maxValue or minValue")
        return self


class HealthChecks(ApiModel):
    """What decides that a rollout step is healthy."""

    readiness: bool = Field(True, description="every pod on the new values must be Ready")
    max_restarts: int = Field(0, ge=0, description="container restarts tolerated per step")
    oom_killed: bool = Field(True, description="any OOMKilled fails the step")
    promql: list[PromQLCheck] = Field(default_factory=list, max_length=10, description="extra checks in PromQL")


def _steps_rule() -> str:
    def percent(index: str) -> str:
        return f"int(self.steps[{index}].replicas.replace('%', ''))"

    increasing = [
        f"(self.steps.size() <= {i + 1} || {percent(str(i))} < {percent(str(i + 1))})"
        for i in range(MAX_CANARY_STEPS - 1)
    ]
    return f"self.type != 'canary' || ({percent('self.steps.size() - 1')} == 100 && " + " && ".join(increasing) + ")"


class RolloutStrategy(ApiModel):
    """How an approved change reaches the workload."""

    model_config = validations(cel(_steps_rule(), "canary steps must increase and end at 100%", ".steps"))

    type: RolloutType = Field(
        RolloutType.CANARY,
        description=(
            "canary (steps below), all-at-once, or in-place: running pods resized without a restart "
            "(pods/resize), watched for the steps' total duration, then the template patched; "
            "a resize the nodes cannot make falls back to a rolling update"
        ),
    )
    steps: list[CanaryStep] = Field(
        default_factory=lambda: [
            CanaryStep(replicas="20%", duration="5m"),
            CanaryStep(replicas="100%", duration="10m"),
        ],
        min_length=1,
        max_length=MAX_CANARY_STEPS,
        description="canary steps, increasing to 100%",
    )
    health_checks: HealthChecks = Field(default_factory=HealthChecks, description="watched during every step")
    progress_deadline: Duration = Field(
        "10m",
        description=(
            "how long new pods may take to become Ready (or a rolling update to finish, or resizes to be "
            "made) before the rollout is rolled back; the steps' durations are how long healthy pods are "
            "watched, and start once they are Ready"
        ),
    )

    @model_validator(mode="after")
    def _steps_increase_to_100(self) -> Self:
        percents = [step.percent for step in self.steps]
        increasing = all(a < b for a, b in itertools.pairwise(percents))
        if self.type is RolloutType.CANARY and not (increasing and percents[-1] == 100):
            raise ValueError(f"rolloutStrategy.steps: replicas must increase and end at 100%, got {percents}")
        return self


class MaintenanceWindow(ApiModel):
    schedule: CronSchedule = Field(description="when a window opens (cron)")
    duration: Duration = Field(description="how long it stays open")
    time_zone: str = Field("UTC", description="IANA time zone of the schedule")


class OptimizationPolicySpec(ApiModel):
    namespace_selector: LabelSelector | None = Field(None, description="namespaces the policy covers by label")
    namespaces: list[str] = Field(default_factory=list, max_length=1000, description="namespaces by name")
    workload_selector: LabelSelector | None = Field(None, description="workloads the policy covers by label")
    mode: PolicyMode = Field(
        PolicyMode.RECOMMEND, description="recommend only, apply approved changes, or publish patches"
    )
    auto_approve: AutoApprove | None = Field(None, description="what is approved without a person (auto-apply)")
    constraints: Constraints = Field(default_factory=Constraints, description="limits every change respects")
    rollout_strategy: RolloutStrategy = Field(default_factory=RolloutStrategy, description="how changes are rolled out")
    maintenance_windows: list[MaintenanceWindow] = Field(
        default_factory=list, max_length=20, description="changes start only inside one; none means any time"
    )
    cooldown: Duration = Field("24h", description="at least this long between two changes of one workload")
    hysteresis: Hysteresis = Field(
        default_factory=Hysteresis,
        description="changes smaller than this are not proposed, and do not replace an open proposal",
    )
    verify_window: Duration = Field(
        "7d", description="after a change is applied, how long usage is watched before its savings are measured"
    )


class PolicyCounts(ApiModel):
    """The recommendations of the workloads this policy governs, by outcome."""

    pending: int = Field(0, ge=0, description="approved, waiting for or under rollout (Approved, Applying)")
    applied: int = Field(0, ge=0, description="applied")
    rolled_back: int = Field(0, ge=0, description="rolled back")
    failed: int = Field(0, ge=0, description="failed")
    held: int = Field(0, ge=0, description="proposals the policy holds back (AutoApproval False: see its message)")
    auto_approved: int = Field(0, ge=0, description="approved by this policy itself (approvedBy policy/<name>)")


class OptimizationPolicyStatus(ApiModel):
    observed_generation: int | None = Field(None, ge=0, description="the generation this status was computed from")
    matched_namespaces: list[str] = Field(default_factory=list, description="namespaces the policy covers now")
    governed_workloads: int | None = Field(
        None, ge=0, description="workloads with recommendations for which this policy is the governing one"
    )
    counts: PolicyCounts | None = Field(None, description="outcomes so far, over the workloads it governs")
    next_window: datetime.datetime | None = Field(
        None, description="when changes may next start: the next maintenance window opening (absent without windows)"
    )
    conditions: list[Condition] = conditions_field("Ready, and Conflict (another policy is as specific)")


class OptimizationPolicy(Resource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="OptimizationPolicy",
        plural="optimizationpolicies",
        singular="optimizationpolicy",
        short_names=["kpol"],
        scope="Cluster",
        printer_columns=[
            {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
            {"name": "Rollout", "type": "string", "jsonPath": ".spec.rolloutStrategy.type"},
            {"name": "Namespaces", "type": "string", "jsonPath": ".status.matchedNamespaces", "priority": 1},
            {"name": "Workloads", "type": "integer", "jsonPath": ".status.governedWorkloads"},
            {"name": "Applied", "type": "integer", "jsonPath": ".status.counts.applied"},
            {"name": "Next Window", "type": "string", "jsonPath": ".status.nextWindow", "priority": 1},
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: str = "OptimizationPolicy"
    spec: OptimizationPolicySpec
    status: OptimizationPolicyStatus = Field(default_factory=OptimizationPolicyStatus)
