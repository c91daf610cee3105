"""Whether a policy lets a recommendation be approved without a person, and why not.

Every rule that fails is reported, not only the first, so a user reading the
recommendation's condition sees everything that holds it back.
"""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import OptimizationPolicy, PolicyMode
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RiskLevel, UsageAnomaly
from kcost.webhooks.policy import changes, windows


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The policy's answer: ``allowed`` or the reasons it is not, and when to ask again."""

    policy: str
    reasons: tuple[str, ...] = ()
    retry_at: datetime.datetime | None = None

    @property
    def allowed(self) -> bool:
        return not self.reasons

    def message(self) -> str:
        if self.allowed:
            return f"policy {self.policy} allows it"
        return f"policy {self.policy}: " + "; ".join(self.reasons)


def excluded(policy: OptimizationPolicy, rec: OptimizationRecommendation) -> bool:
    target = rec.spec.target_ref
    return any(
        w.kind == target.kind and w.name == target.name and w.namespace == rec.namespace
        for w in policy.spec.constraints.excluded_workloads
    )


def approval_rules(policy: OptimizationPolicy, rec: OptimizationRecommendation) -> list[str]:
    """The rules any approval must respect, a person's included (what the admission webhook enforces)."""
    reasons: list[str] = []
    if excluded(policy, rec):
        reasons.append(f"{rec.spec.target_ref.kind} {rec.namespace}/{rec.spec.target_ref.name} is excluded")
    _, raised = changes.constrained(rec.spec.current, rec.spec.changes, policy.spec.constraints)
    reasons.extend(f"below constraints: {note}" for note in raised)
    return reasons


def anomalous_usage_reason(anomaly: UsageAnomaly) -> str:
    """Why a workload whose usage is anomalous now is not changed without a person."""
    since = f" since {anomaly.first_at:%Y-%m-%dT%H:%M:%SZ}" if anomaly.first_at is not None else ""
    return (
        f"its usage is anomalous{since} ({anomaly.anomalous_hours} hours flagged by {anomaly.method}); "
        "held until an analysis finds it normal"
    )


def auto_approval(
    policy: OptimizationPolicy,
    rec: OptimizationRecommendation,
    now: datetime.datetime,
    last_change_at: datetime.datetime | None = None,
) -> Verdict:
    """May the operator approve ``rec`` now on the policy's behalf?

    ``last_change_at`` is when kcost last changed or rolled back the same workload (cooldown).
    Changes the constraints would reduce are not auto-approved as proposed: the operator
    applies the constrained values (see ``changes.constrained``), so only exclusion blocks here.
    """
    spec = policy.spec
    reasons: list[str] = []
    retry_at: datetime.datetime | None = None
    if spec.mode is not PolicyMode.AUTO_APPLY:
        reasons.append(f"mode is {spec.mode.value}, not auto-apply")
    rules = spec.auto_approve
    if rules is None:
        reasons.append("it has no autoApprove rules")
    else:
        if rec.spec.confidence < rules.min_confidence:
            reasons.append(f"confidence {rec.spec.confidence:.2f} is below minConfidence {rules.min_confidence:.2f}")
        if RiskLevel(rec.spec.risk_level).rank > RiskLevel(rules.max_risk_level).rank:
            reasons.append(f"risk {rec.spec.risk_level.value} is above maxRiskLevel {rules.max_risk_level.value}")
        if rec.spec.type not in rules.types:
            allowed = ", ".join(t.value for t in rules.types) or "none"
            reasons.append(f"type {rec.spec.type.value} is not among the allowed types ({allowed})")
        size = changes.change_percent(rec.spec.current, rec.spec.changes)
        if size > rules.max_change_percent:
            reasons.append(f"the change is {size:.0f}%, above maxChangePercent {rules.max_change_percent:.0f}%")
    if excluded(policy, rec):
        reasons.append(f"{rec.spec.target_ref.kind} {rec.namespace}/{rec.spec.target_ref.name} is excluded")
    anomaly = rec.spec.evidence.anomaly
    if anomaly is not None and anomaly.ongoing:
        reasons.append(anomalous_usage_reason(anomaly))
    if last_change_at is not None:
        cooldown_ends = last_change_at + parse_duration(spec.cooldown)
        if now < cooldown_ends:
            reasons.append(f"the workload is in its cooldown until {cooldown_ends:%Y-%m-%dT%H:%M:%SZ}")
            retry_at = cooldown_ends
    if not windows.is_open(spec.maintenance_windows, now):
        opening = windows.next_opening(spec.maintenance_windows, now)
        reasons.append(f"outside its maintenance windows (next opens {opening:%Y-%m-%dT%H:%M:%SZ})")
        retry_at = max(filter(None, (retry_at, opening)))
    return Verdict(policy=policy.name, reasons=tuple(reasons), retry_at=retry_at)
