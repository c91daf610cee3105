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
from typing import Any

from kcost.api import gitops
from kcost.api.v1alpha1.policy import OptimizationPolicy, PolicyMode, RolloutStrategy, RolloutType
from kcost.api.v1alpha1.recommendation import (
    OptimizationRecommendation,
    RecommendationPhase,
    RecommendationReason,
    RolloutStage,
    RolloutStatus,
)
from kcost.kube.workloads import WorkloadClient
from kcost.operator import status as status_io
from kcost.operator.rollout import (
    canary,
    context,
    cronjob,
    daemonset,
    deployment,
    pod_looks,
    promql_checks,
    resize,
    rolling,
    statefulset,
)
from kcost.operator.rollout.canary import Action, ActionKind
from kcost.webhooks.policy import changes as constraints

# How soon to look again while pods move; a step's observation waits until its end, at most this.
MOVING_RECHECK_S = 1.0
OBSERVING_RECHECK_S = 5.0
# A rolling update is the workload controller's to carry out (seconds per pod, more under load): looked at as often
# as its health is, not every second; a thousand of them polled each second starve the API server.
ROLLING_RECHECK_S = OBSERVING_RECHECK_S
# A Deployment's change wakes its rollout (the worker watches them): the poll is only a backstop.
WATCHED_ROLLING_RECHECK_S = 15.0
# How long a listing of a watched rolling update's pods serves the looks its Deployment's changes wake, where its
# status says nothing a listing would add (pod_looks): restarts and OOM kills are seen this often, as the poll saw them.
POD_LISTING_SERVES = datetime.timedelta(seconds=WATCHED_ROLLING_RECHECK_S)
ALL_AT_ONCE = RolloutStrategy.model_validate({"type": "canary", "steps": [{"replicas": "100%", "duration": "0s"}]})

# Reasons on the Ready condition, for users and for tests.
APPLYING = RecommendationReason.APPLYING
APPLIED = RecommendationReason.APPLIED
ROLLED_BACK = RecommendationReason.ROLLED_BACK
UNSUPPORTED = RecommendationReason.UNSUPPORTED_TARGET
GITOPS = RecommendationReason.GITOPS_PATCH
# When kcost last changed or rolled back a workload: its cooldown counts from here.
LAST_CHANGE_ANNOTATION = "kcost.dev/last-change-at"
TARGET_GONE = RecommendationReason.TARGET_GONE
# Pods resized through pods/resize, where the policy asks for it and the kind has long-running pods.
IN_PLACE = "in-place"
# How each kind is rolled out (RolloutStatus.strategy); a Deployment scaled by an HPA is "rolling" instead.
STRATEGY_OF_KIND = {"Deployment": "canary", "StatefulSet": "partition", "DaemonSet": "rolling", "CronJob": "next-run"}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The recommendation to record (None: nothing changed) and when to call again (None: done)."""

    recommendation: OptimizationRecommendation | None
    recheck_after_s: float | None
    event: tuple[str, str, str] | None = None  # reason, message, type


def effective_strategy(strategy: RolloutStrategy) -> RolloutStrategy:
    return (
        ALL_AT_ONCE.model_copy(
            update={"health_checks": strategy.health_checks, "progress_deadline": strategy.progress_deadline}
        )
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


async def start(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    policy: OptimizationPolicy | None,
    now: datetime.datetime,
    *,
    original: dict[str, Any] | None = None,
) -> Outcome:
    """Approved → Applying: record what a rollback restores, or say why this is not applied live.
    ``original``: the target as the caller just read it (read here otherwise)."""
    target = rec.spec.target_ref
    ref = deployment.target(rec)
    original = original or await workloads.get(ref)
    if original is None:
        return _failed(rec, None, TARGET_GONE, f"{ref} no longer exists")
    owner = gitops.gitops_owner(original.get("metadata") or {})
    if owner is not None or (policy is not None and policy.spec.mode is PolicyMode.GITOPS):
        return _gitops(rec, owner or f"policy {policy.name if policy else ''} (mode gitops)")
    strategy = STRATEGY_OF_KIND.get(target.kind)
    if strategy is None:
        message = f"applying to a {target.kind} is not supported yet; commit `kubectl cost patch {rec.name}` instead"
        return _failed(rec, None, UNSUPPORTED, message)
    if target.kind in ("StatefulSet", "DaemonSet") and statefulset.on_delete(original):
        message = (
            f"{ref} has spec.updateStrategy.type OnDelete: its pods change only when deleted, so kcost cannot gate "
            f"a rollout; set RollingUpdate, or commit `kubectl cost patch {rec.name}` and delete its pods yourself"
        )
        return _failed(rec, None, UNSUPPORTED, message)
    previous = deployment.live_shape(cronjob.as_workload(original) if target.kind == "CronJob" else original)
    if target.kind in ("DaemonSet", "CronJob"):  # no replica count: one pod per node, or one Job per run
        previous = previous.model_copy(update={"replicas": None})
    if target.kind == "Deployment" and await deployment.autoscaled(workloads, ref):
        strategy = "rolling"
    in_place = policy is not None and policy.spec.rollout_strategy.type is RolloutType.IN_PLACE
    if in_place and target.kind in resize.FALLBACK_OF_KIND:
        strategy = IN_PLACE
    changes, notes = rec.spec.changes, list[str]()
    if policy is not None:
        changes, notes = constraints.constrained(previous, rec.spec.changes, policy.spec.constraints)
    rollout = RolloutStatus(
        strategy=strategy,
        original_replicas=previous.replicas,
        target=changes,
        started_at=now,
        # A rolling update's one step starts with the rollout: recorded now, it costs no write of its own.
        step_started_at=now if strategy == "rolling" else None,
        canary_name=deployment.canary_name(target.name) if strategy == "canary" else None,
        original_partition=statefulset.current_partition(original) if target.kind == "StatefulSet" else None,
    )
    replicas = "" if previous.replicas is None else f"{previous.replicas} replicas, "
    message = f"rolling out to {ref} ({replicas}{strategy})"
    if strategy == "rolling" and target.kind == "Deployment":
        message += ": an HPA scales it, so its own rolling update is gated instead of a canary"
    if notes:
        message += "; within policy constraints: " + ", ".join(notes)
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


def _failed(rec: OptimizationRecommendation, rollout: RolloutStatus | None, reason: str, message: str) -> Outcome:
    failed = _with(rec, phase=RecommendationPhase.FAILED, rollout=rollout, ready=False, reason=reason, message=message)
    return Outcome(failed, None, (reason, message, "Warning"))


def _gitops(rec: OptimizationRecommendation, owner: str) -> Outcome:
    """Published, not applied: the patch is in the status and ``kubectl cost patch`` prints it."""
    patch = gitops.patch_yaml(rec)
    if rec.status.gitops_patch == patch:
        return Outcome(None, None)
    message = (
        f"managed by {owner}: kcost does not change it live; commit the patch "
        f"(kubectl cost patch {rec.name} -n {rec.namespace})"
    )
    published = _with(
        rec,
        phase=RecommendationPhase.APPROVED,
        rollout=None,
        ready=True,
        reason=GITOPS,
        message=message,
        gitops_patch=patch,
    )
    return Outcome(published, None, (GITOPS, message, "Normal"))


def request_rollback(rec: OptimizationRecommendation, now: datetime.datetime, because: str | None = None) -> Outcome:
    """Applied → Applying (rolling back): a person asked to undo the change, or the verification found a regression
    (``because``); the template is restored in place."""
    if rec.status.rollout is None or rec.status.previous is None:
        return _failed(rec, rec.status.rollout, RecommendationReason.LOST_STATE, "nothing recorded to roll back to")
    why = rec.spec.approval.reason
    asked = f"rollback requested: {why}" if why else "rollback requested"
    reason = canary.fit_reason(because or asked)
    rollout = rec.status.rollout.model_copy(
        update={"strategy": "rolling", "stage": RolloutStage.ROLLING_BACK, "reason": reason, "step_started_at": now}
    )
    message = f"rolling back: {reason}"
    rolling_back = _with(
        rec, phase=RecommendationPhase.APPLYING, rollout=rollout, ready=False, reason=APPLYING, message=message
    )
    return Outcome(rolling_back, 0.0, (RecommendationReason.ROLLBACK_REQUESTED, message, "Normal"))


def abandon(rec: OptimizationRecommendation, reason: str) -> Outcome:
    """An Applying rollout turned into its own rollback (the strategy's, as a failed check would), for ``reason``."""
    rollout = rec.status.rollout
    if rollout is None or rollout.stage is RolloutStage.ROLLING_BACK:
        return Outcome(None, 0.0)
    rolling_back = rollout.model_copy(update={"stage": RolloutStage.ROLLING_BACK, "reason": canary.fit_reason(reason)})
    message = f"rolling back: {reason}"
    updated = _with(
        rec, phase=RecommendationPhase.APPLYING, rollout=rolling_back, ready=False, reason=APPLYING, message=message
    )
    return Outcome(updated, 0.0, (RecommendationReason.ROLLBACK_REQUESTED, message, "Normal"))


async def advance(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    strategy: RolloutStrategy,
    now: datetime.datetime,
    checks: tuple[promql_checks.CheckResult, ...] = (),
    *,
    looks: pod_looks.PodLooks | None = None,
) -> Outcome:
    """One decision of an Applying recommendation's rollout; ``checks``: the policy's PromQL checks, just evaluated;
    ``looks``: the last look at each rolling update's pods (None: they are listed at every look)."""
    rollout = rec.status.rollout
    previous = rec.status.previous
    if rollout is None or previous is None:
        return _failed(
            rec,
            rollout,
            RecommendationReason.LOST_STATE,
            "the rollout's recorded state is missing; approve again to retry",
        )
    strategy = effective_strategy(strategy)
    step = context.StepContext(
        rec=rec,
        rollout=rollout,
        previous=previous,
        strategy=strategy,
        now=now,
        failed_checks=tuple(check.message for check in checks if not check.passed),
        passed_checks=tuple(check.message for check in checks if check.passed),
        looks=looks,
    )
    kinds = {"StatefulSet": statefulset.advance, "DaemonSet": daemonset.advance, "CronJob": cronjob.advance}
    advance_kind = kinds.get(rec.spec.target_ref.kind, _deployment_step)
    stepped = await (resize.advance if rollout.strategy == IN_PLACE else advance_kind)(workloads, step)
    if stepped is None:
        target = rec.spec.target_ref
        return _failed(
            rec, rollout, TARGET_GONE, f"{target.kind} {rec.namespace}/{target.name} was deleted during the rollout"
        )
    action, decided = stepped
    if action.kind in (ActionKind.APPLIED, ActionKind.ROLLED_BACK):
        await workloads.annotate(deployment.target(rec), {LAST_CHANGE_ANNOTATION: now.strftime("%Y-%m-%dT%H:%M:%SZ")})
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
    recheck = MOVING_RECHECK_S
    watched = decided.strategy == "rolling" and rec.spec.target_ref.kind == "Deployment"
    if decided.strategy == "rolling":
        recheck = WATCHED_ROLLING_RECHECK_S if watched else ROLLING_RECHECK_S
    if decided.stage is RolloutStage.OBSERVING and action.until is not None:
        # A watched Deployment's pod turning unready changes its status, which wakes the look at once: the poll is a
        # backstop for restarts and PromQL checks (the look at the window's end reads them all regardless).
        interval = WATCHED_ROLLING_RECHECK_S if watched else OBSERVING_RECHECK_S
        recheck = min(interval, max(MOVING_RECHECK_S, (action.until - now).total_seconds()))
    listing_due = None
    if looks is not None and watched:
        listing_due = looks.due((rec.namespace or "", rec.name), POD_LISTING_SERVES)
    if listing_due is not None and decided.stage in (RolloutStage.SCALING, RolloutStage.OBSERVING):
        # Looks that reuse a listing do not put off the next one: it is due an interval after the last.
        recheck = min(recheck, max(MOVING_RECHECK_S, (listing_due - now).total_seconds()))
    message = f"{_step_label(decided, strategy)}: {action.message or action.kind.value}"
    if decided.stage is RolloutStage.ROLLING_BACK:
        message = f"rolling back: {decided.reason}"
    updated = _with(
        rec, phase=RecommendationPhase.APPLYING, rollout=decided, ready=False, reason=APPLYING, message=message
    )
    # Progress messages alone are not worth a write: record when the rollout or the phase moved.
    moved = decided != rollout or rec.status.phase is not RecommendationPhase.APPLYING
    return Outcome(updated if moved else None, recheck)


def _step_label(rollout: RolloutStatus, strategy: RolloutStrategy) -> str:
    """Where a rollout is, as its progress messages begin."""
    if rollout.strategy == "rolling":
        return "rolling update"
    if rollout.strategy == "next-run":
        return "next run"
    if rollout.strategy == IN_PLACE:
        return "in-place resize"
    step = min(rollout.step, len(strategy.steps) - 1)
    return f"step {step + 1}/{len(strategy.steps)} ({strategy.steps[step].replicas})"


async def _deployment_step(workloads: WorkloadClient, step: context.StepContext) -> tuple[Action, RolloutStatus] | None:
    """A Deployment's canary, or its gated rolling update under an HPA: observe, decide and act once."""
    rec, rollout, changes = step.rec, step.rollout, step.changes
    rolling_update = rollout.strategy == "rolling"
    gate = None
    if rolling_update and step.looks is not None:
        started = rollout.step_started_at if rollout.stage is RolloutStage.OBSERVING else None
        window_ends = started + rolling.total_duration(step.strategy) if started is not None else None
        key = (rec.namespace or "", rec.name)
        gate = pod_looks.Gate(step.looks, key, rollout.stage, POD_LISTING_SERVES, window_ends)
    world = await deployment.observe(
        workloads,
        rec,
        changes=changes,
        replicas=rollout.original_replicas or 0,
        now=step.now,
        failed_checks=step.failed_checks,
        passed_checks=step.passed_checks,
        rolling=rolling_update,
        pods=gate,
    )
    if world is None:
        return None
    decide = rolling.decide if rolling_update else canary.decide
    action, decided = decide(rollout, step.strategy, world)
    if action.kind not in (ActionKind.WAIT, ActionKind.APPLIED, ActionKind.ROLLED_BACK):
        await deployment.act(workloads, rec, action, world, changes=changes, previous=step.previous)
    return action, decided
