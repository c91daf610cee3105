"""Reconcile an OptimizationRecommendation's lifecycle up to approval.

Proposed (new, or re-proposed by a run) → Approved when a user approves (the webhook
checks who may) → the rollout engine takes over; Rejected when dismissed; Expired
when its workload is gone. Superseded is set by the Analysis that no longer proposes
it (see ``analysis._sweep``).
"""

from __future__ import annotations

import logging
from typing import Any

from kcost.api.v1alpha1.recommendation import (
    OPEN_PHASES,
    TARGET_RESOURCES,
    OptimizationRecommendation,
    RecommendationPhase,
)
from kcost.kube.client import KubeClient
from kcost.operator import status as status_io

log = logging.getLogger("kcost.operator.recommendation")
# Written by the policy engine's approver, which runs in the operator.
AUTO_APPROVAL_CONDITION = "AutoApproval"
ROLLOUT_FIELDS = {"gitops_patch", "rollout", "previous", "applied_at"}


def operator_part(rec: OptimizationRecommendation) -> dict[str, Any]:
    """The status fields the operator owns on a recommendation, complete."""
    owned = {status_io.READY, AUTO_APPROVAL_CONDITION}
    part: dict[str, Any] = {"conditions": status_io.owned_conditions(rec.status.conditions, owned)}
    if rec.status.phase is not None:
        part["phase"] = rec.status.phase.value
    if rec.status.observed_generation is not None:
        part["observedGeneration"] = rec.status.observed_generation
    # The rollout's fields too: server-side apply drops what a manager stops sending.
    part.update(rec.status.model_dump(mode="json", by_alias=True, exclude_none=True, include=ROLLOUT_FIELDS))
    return part


def transition(
    rec: OptimizationRecommendation, phase: RecommendationPhase, ready: bool, reason: str, message: str
) -> OptimizationRecommendation:
    status = rec.status.model_copy(deep=True)
    status.phase = phase
    status.observed_generation = rec.generation
    status.conditions = status_io.ready(status.conditions, ready, reason, message, rec.generation)
    return rec.model_copy(update={"status": status})


async def target_exists(kube: KubeClient, rec: OptimizationRecommendation) -> bool:
    target = rec.spec.target_ref
    plural = TARGET_RESOURCES.get(target.kind, ("", target.kind.lower() + "s"))[1]
    return await kube.get_workload(target.api_version, plural, rec.namespace or "", target.name) is not None


def decide(rec: OptimizationRecommendation, exists: bool) -> OptimizationRecommendation | None:
    """The next state, or None when there is nothing to change."""
    phase = rec.status.phase
    approval = rec.spec.approval
    target = f"{rec.spec.target_ref.kind} {rec.namespace}/{rec.spec.target_ref.name}"
    if phase in OPEN_PHASES or phase is None:
        if approval.rejected:
            return transition(
                rec, RecommendationPhase.REJECTED, True, "Rejected", approval.reason or "dismissed by a user"
            )
        if not exists:
            if phase is RecommendationPhase.EXPIRED:
                return None
            return transition(rec, RecommendationPhase.EXPIRED, False, "TargetGone", f"{target} no longer exists")
        if approval.approved and phase is not RecommendationPhase.SUPERSEDED:
            who = approval.approved_by or "a user"
            return transition(
                rec, RecommendationPhase.APPROVED, True, "Approved", f"approved by {who}; waiting for rollout"
            )
        ready = next((c for c in rec.status.conditions if c.type == status_io.READY), None)
        if phase is None or (phase is RecommendationPhase.PROPOSED and (ready is None or ready.reason != "Proposed")):
            # New, or proposed again by a later run after being superseded or expired.
            return transition(
                rec,
                RecommendationPhase.PROPOSED,
                True,
                "Proposed",
                rec.spec.proposed_message(),
            )
    return None


async def reconcile(
    kube: KubeClient, body: dict[str, Any], *, check_target: bool = True
) -> OptimizationRecommendation | None:
    """Move the recommendation on; ``check_target`` also expires it when its workload is gone.

    The operator reacts to every change without checking the target: a run marks what it no
    longer proposes Superseded or Expired anyway, and one read per change of ten thousand
    recommendations would cost more than it tells.
    """
    rec = status_io.parse(OptimizationRecommendation, body)
    updated = decide(rec, await target_exists(kube, rec) if check_target else True)
    if updated is None:
        return None
    await status_io.apply_status(kube, updated, operator_part(updated))
    ready = next(c for c in updated.status.conditions if c.type == status_io.READY)
    if ready.reason == "Proposed":
        return updated  # a run proposes thousands; an Event each would bury the ones that matter
    try:
        await kube.event(
            body,
            reason=ready.reason,
            message=ready.message,
            event_type="Normal" if ready.status.value == "True" else "Warning",
        )
    except Exception:
        log.warning("could not record an event on %s", updated.display_name, exc_info=True)
    return updated
