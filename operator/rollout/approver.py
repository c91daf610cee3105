"""The policy engine's hand in the operator: approve what an auto-apply policy allows, say why not otherwise.

An approval is written to ``spec.approval`` by its own field manager (``kcost-policy``)
with ``approvedBy: policy/<name>``; the rollout then proceeds as for a person's
approval. A recommendation the policy holds back (confidence, risk, type, change
size, exclusion, cooldown, maintenance window, anomalous usage) or that two policies claim equally
gets the ``AutoApproval`` condition saying so, and is looked at again when the
reason may have passed.
"""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api import matching
from kcost.api.v1alpha1.common import Conditions, ConditionStatus
from kcost.api.v1alpha1.policy import PolicyMode
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.operator import recommendation
from kcost.webhooks.policy import approval

POLICY_FIELD_MANAGER = "kcost-policy"
AUTO_APPROVAL = recommendation.AUTO_APPROVAL_CONDITION
HELD = "Held"
CONFLICT = "PolicyConflict"
INVALID_POLICY = "InvalidPolicy"
# A held recommendation is looked at again at least this often (windows open, policies change).
RECHECK_HELD_S = 300.0


@dataclasses.dataclass(frozen=True)
class Decision:
    """Approve (with the approval to write), or hold (with the status to write), and when to look again."""

    approval: dict[str, object] | None = None
    held: OptimizationRecommendation | None = None
    recheck_after_s: float | None = None


def decide(
    rec: OptimizationRecommendation,
    governing: matching.Governing,
    now: datetime.datetime,
    last_change_at: datetime.datetime | None,
) -> Decision:
    if rec.spec.approval.approved or rec.spec.approval.rejected:
        return Decision()
    if governing.conflict:
        return _hold(rec, CONFLICT, governing.describe_conflict(), None, now)
    policy = governing.policy
    if policy is None or policy.spec.mode is not PolicyMode.AUTO_APPLY:
        return Decision()
    try:
        verdict = approval.auto_approval(policy, rec, now, last_change_at)
    except ValueError as error:  # an invalid window: the policy's own Ready says so too
        return _hold(rec, INVALID_POLICY, f"policy {policy.name}: {error}", None, now)
    if verdict.allowed:
        return Decision(
            approval={
                "approved": True,
                "approvedBy": f"policy/{policy.name}",
                "approvedAt": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reason": verdict.message(),
            }
        )
    return _hold(rec, HELD, verdict.message(), verdict.retry_at, now)


def _hold(
    rec: OptimizationRecommendation,
    reason: str,
    message: str,
    retry_at: datetime.datetime | None,
    now: datetime.datetime,
) -> Decision:
    recheck = RECHECK_HELD_S if retry_at is None else max(1.0, (retry_at - now).total_seconds())
    conditions = Conditions.set(
        rec.status.conditions, AUTO_APPROVAL, ConditionStatus.FALSE, reason, message, generation=rec.generation
    )
    before = Conditions.find(rec.status.conditions, AUTO_APPROVAL)
    if before is not None and (before.status, before.reason, before.message) == (
        ConditionStatus.FALSE,
        reason,
        message,
    ):
        return Decision(recheck_after_s=min(recheck, RECHECK_HELD_S))
    status = rec.status.model_copy(update={"conditions": conditions})
    return Decision(held=rec.model_copy(update={"status": status}), recheck_after_s=min(recheck, RECHECK_HELD_S))
