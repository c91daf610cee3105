"""Take an approved recommendation through its rollout, one decision per call.

``advance`` reads the recommendation's rollout state and the cluster, lets the state
machine choose one action, does it, and returns the recommendation as it should now
be recorded (the caller writes it, as the operator's one status writer) with when to
look again. Approved → Applying (``status.previous`` records what a rollback restores)
→ Applied | RolledBack | Failed.
"""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.policy import RolloutStrategy, RolloutType
from kcost.api.v1alpha1.recommendation import (
    OptimizationRecommendation,
    RecommendationPhase,
    RolloutStage,
    RolloutStatus,
)
from kcost.kube.workloads import WorkloadClient
from kcost.operator import status as status_io
from kcost.operator.rollout import canary, deployment
from kcost.operator.rollout.canary import ActionKind

# How soon to look again while pods move; a step's observation waits until its end, at most this.
MOVING_RECHECK_S = 1.0
OBSERVING_RECHECK_S = 5.0
ALL_AT_ONCE = RolloutStrategy.model_validate({"type": "canary", "steps": [{"replicas": "100%", "duration": "0s"}]})

# Reasons on the Ready condition, for users and for tests.
APPLYING = "Applying"
APPLIED = "Applied"
ROLLED_BACK = "RolledBack"
UNSUPPORTED = "UnsupportedTarget"
TARGET_GONE = "TargetGone"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The recommendation to record (None: nothing changed) and when to call again (None: done)."""

    recommendation: OptimizationRecommendation | None
    recheck_after_s: float | None
    event: tuple[str, str, str] | None = None  # reason, message, type


def effective_strategy(strategy: RolloutStrategy) -> RolloutStrategy:
    return (
        ALL_AT_ONCE.model_copy(update={"health_checks": strategy.health_checks})
        if (strategy.type is RolloutType.ALL_AT_ONCE)
        else strategy
    )


def _with(
    rec: OptimizationRecommendation,
    *,
    phase: RecommendationPhase,
    rollout: RolloutStatus | None,
    ready: bool,
    reason: str,
    message: str,
    **fields: object,
) -> OptimizationRecommendation:
    status = rec.status.model_copy(deep=True)
    status.phase = phase
    status.rollout = rollout
    status.observed_generation = rec.generation
    status.conditions = status_io.ready(status.conditions, ready, reason, message, rec.generation)
    for name, value in fields.items():
        setattr(status, name, value)
    return rec.model_copy(update={"status": status})


async def start(workloads: WorkloadClient, rec: OptimizationRecommendation, now: datetime.datetime) -> Outcome:
    """Approved → Applying: record what a rollback restores, or say why this cannot be applied."""
    target = rec.spec.target_ref
    if target.kind != "Deployment":
        message = f"applying to a {target.kind} is not supported yet; use `kubectl cost patch {rec.name}`"
        failed = _with(
            rec, phase=RecommendationPhase.FAILED, rollout=None, ready=False, reason=UNSUPPORTED, message=message
        )
        return Outcome(failed, None, (UNSUPPORTED, message, "Warning"))
    original = await workloads.get(deployment.target(rec))
    if original is None:
        message = f"{target.kind} {rec.namespace}/{target.name} no longer exists"
        failed = _with(
            rec, phase=RecommendationPhase.FAILED, rollout=None, ready=False, reason=TARGET_GONE, message=message
        )
        return Outcome(failed, None, (TARGET_GONE, message, "Warning"))
    replicas = int(original["spec"].get("replicas", 1))
    rollout = RolloutStatus(
        strategy="canary",
        original_replicas=replicas,
        started_at=now,
        step_started_at=None,
        canary_name=deployment.canary_name(target.name),
    )
    previous = deployment.live_shape(original)
    message = f"rolling out to {target.kind} {rec.namespace}/{target.name} ({replicas} replicas)"
    applying = _with(
        rec,
        phase=RecommendationPhase.APPLYING,
        rollout=rollout,
        ready=False,
        reason=APPLYING,
        message=message,
        previous=previous,
    )
    return Outcome(applying, 0.0, (APPLYING, message, "Normal"))


async def advance(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    strategy: RolloutStrategy,
    now: datetime.datetime,
    failed_checks: tuple[str, ...] = (),
) -> Outcome:
    """One decision of an Applying recommendation's rollout."""
    rollout = rec.status.rollout
    if rollout is None or rec.status.previous is None:
        return await start(workloads, rec, now)
    strategy = effective_strategy(strategy)
    replicas = rollout.original_replicas or 0
    world = await deployment.observe(workloads, rec, replicas, now, failed_checks)
    if world is None:
        target = rec.spec.target_ref
        message = f"{target.kind} {rec.namespace}/{target.name} was deleted during the rollout"
        failed = _with(
            rec, phase=RecommendationPhase.FAILED, rollout=rollout, ready=False, reason=TARGET_GONE, message=message
        )
        return Outcome(failed, None, (TARGET_GONE, message, "Warning"))
    action, decided = canary.decide(rollout, strategy, world)
    if action.kind is ActionKind.APPLIED:
        message = f"promoted after {len(decided.steps)} step(s)"
        applied = _with(
            rec,
            phase=RecommendationPhase.APPLIED,
            rollout=decided,
            ready=True,
            reason=APPLIED,
            message=message,
            applied_at=now,
        )
        return Outcome(applied, None, (APPLIED, message, "Normal"))
    if action.kind is ActionKind.ROLLED_BACK:
        message = f"rolled back: {decided.reason}"
        rolled_back = _with(
            rec,
            phase=RecommendationPhase.ROLLED_BACK,
            rollout=decided,
            ready=False,
            reason=ROLLED_BACK,
            message=message,
        )
        return Outcome(rolled_back, None, (ROLLED_BACK, message, "Warning"))
    if action.kind is not ActionKind.WAIT:
        await deployment.act(workloads, rec, action, world, rec.status.previous)
    recheck = MOVING_RECHECK_S
    if decided.stage is RolloutStage.OBSERVING and action.until is not None:
        recheck = min(OBSERVING_RECHECK_S, max(MOVING_RECHECK_S, (action.until - now).total_seconds()))
    step = f"step {decided.step + 1}/{len(strategy.steps)} ({strategy.steps[decided.step].replicas})"
    message = f"{step}: {action.message or action.kind.value}"
    if decided.stage is RolloutStage.ROLLING_BACK:
        message = f"rolling back: {decided.reason}"
    updated = _with(
        rec, phase=RecommendationPhase.APPLYING, rollout=decided, ready=False, reason=APPLYING, message=message
    )
    # Progress messages alone are not worth a write: record when the rollout or the phase moved.
    moved = decided != rollout or rec.status.phase is not RecommendationPhase.APPLYING
    return Outcome(updated if moved else None, recheck)
