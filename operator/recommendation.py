"""Reconcile an OptimizationRecommendation's lifecycle up to approval: the one writer of its phase and Ready.

Proposed (new, or proposed again by a run) → Approved when a user or a policy approves
(the webhook checks who may) → the rollout engine takes over; Rejected when dismissed.
A run that no longer proposes it leaves a ``status.stale`` mark (written by the Analysis,
see ``analysis._sweep``): the mark becomes Superseded, or Expired when the workload is
gone, until a later run proposes it again. Analyzers write only the spec; the phase,
the Ready condition and the rollout's fields are written here, with one field manager.

A new recommendation is born Proposed: the CRD's schema defaults ``status.phase``, and
this controller writes nothing for it until it moves (approved, rejected, stale, gone).
Ready appears with the first transition; from then on it is kept true to the spec.
"""

from __future__ import annotations

import logging
from typing import Any

from kcost.api.v1alpha1.common import Conditions, ConditionStatus
from kcost.api.v1alpha1.recommendation import (
    OPEN_PHASES,
    STALE_PHASES,
    TARGET_RESOURCES,
    OptimizationRecommendation,
    RecommendationPhase,
    RecommendationReason,
)
from kcost.kube.client import KubeClient
from kcost.operator import status as status_io

log = logging.getLogger("kcost.operator.recommendation")
# Written by the policy engine's approver, which runs in the operator.
AUTO_APPROVAL_CONDITION = "AutoApproval"
ROLLOUT_FIELDS = {"gitops_patch", "rollout", "previous", "applied_at"}
# Transitions a run makes by the thousand: said once, by the Analysis, not in an Event each.
QUIET_REASONS = frozenset(
    {RecommendationReason.PROPOSED, RecommendationReason.NO_LONGER_QUALIFIES, RecommendationReason.TARGET_GONE}
)


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


# What a recommendation should show: phase, Ready's status, reason and message.
State = tuple[RecommendationPhase, bool, str, str]


def wanted(rec: OptimizationRecommendation, exists: bool) -> State | None:
    """The state the recommendation should be in; None once it is out of this controller's hands."""
    phase = rec.status.phase
    approval = rec.spec.approval
    if phase is not None and phase not in OPEN_PHASES:
        return None  # acted on: the rollout engine's from here
    if approval.rejected:
        return (
            RecommendationPhase.REJECTED,
            True,
            RecommendationReason.REJECTED,
            approval.reason or "dismissed by a user",
        )
    if not exists:
        target = f"{rec.spec.target_ref.kind} {rec.namespace}/{rec.spec.target_ref.name}"
        gone = f"{target} no longer exists"
        return (
            None
            if phase is RecommendationPhase.EXPIRED
            else (RecommendationPhase.EXPIRED, False, RecommendationReason.TARGET_GONE, gone)
        )
    stale = rec.status.stale
    if stale is not None and stale.applies_to(rec.spec):
        return STALE_PHASES[stale.reason], False, stale.reason, stale.message
    if approval.approved:
        who = approval.approved_by or "a user"
        return (
            RecommendationPhase.APPROVED,
            True,
            RecommendationReason.APPROVED,
            f"approved by {who}; waiting for rollout",
        )
    # New, changed, or proposed again by a later run after it went stale.
    return RecommendationPhase.PROPOSED, True, RecommendationReason.PROPOSED, rec.spec.proposed_message()


def decide(rec: OptimizationRecommendation, exists: bool) -> OptimizationRecommendation | None:
    """The next state, or None when the recommendation already shows it (nothing to write)."""
    state = wanted(rec, exists)
    if state is None:
        return None
    phase, ready, reason, message = state
    current = Conditions.find(rec.status.conditions, status_io.READY)
    if phase is RecommendationPhase.PROPOSED and rec.status.phase is phase and current is None:
        # Born Proposed (the schema's default) and never moved: a run creates thousands, and a
        # status write each would double what a new recommendation costs the API server.
        return None
    shown = (ConditionStatus.TRUE if ready else ConditionStatus.FALSE, reason, message)
    if rec.status.phase is phase and current is not None and (current.status, current.reason, current.message) == shown:
        return None
    return transition(rec, phase, ready, reason, message)


async def reconcile(
    kube: KubeClient,
    body: dict[str, Any],
    *,
    check_target: bool = True,
    parsed: OptimizationRecommendation | None = None,
) -> OptimizationRecommendation | None:
    """Move the recommendation on; ``check_target`` also expires it when its workload is gone.

    The operator reacts to every change without checking the target: a run marks what it no
    longer proposes stale anyway (Expired when its workload is gone), and one read per change
    of ten thousand recommendations would cost more than it tells. ``parsed``: ``body`` already
    parsed by the caller.
    """
    rec = parsed if parsed is not None else status_io.parse(OptimizationRecommendation, body)
    updated = decide(rec, await target_exists(kube, rec) if check_target else True)
    if updated is None:
        return None
    await status_io.apply_status(kube, updated, operator_part(updated))
    ready = next(c for c in updated.status.conditions if c.type == status_io.READY)
    if ready.reason in QUIET_REASONS:
        return updated  # a run proposes and retires thousands; an Event each would bury the ones that matter
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
