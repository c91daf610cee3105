"""A rolling update gated by health, for workloads whose replica count is not kcost's to touch.

A Deployment scaled by a HorizontalPodAutoscaler keeps its replicas under the HPA's
control: a canary would have to take pods away from the original, and the HPA would
fight back. So the template is patched and the Deployment's own rolling update
(bounded by its maxUnavailable / maxSurge) replaces the pods; kcost then watches their
health for the strategy's total duration and restores the template if anything is
wrong. ``spec.replicas`` is never written.
"""

from __future__ import annotations

import datetime

from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus, StepRecord
from kcost.operator.rollout.canary import Action, ActionKind, World, observed, unhealthy


def total_duration(strategy: RolloutStrategy) -> datetime.timedelta:
    return sum((parse_duration(step.duration) for step in strategy.steps), datetime.timedelta())


def decide(status: RolloutStatus, strategy: RolloutStrategy, world: World) -> tuple[Action, RolloutStatus]:
    """The next action of a gated rolling update, from its status and what the cluster shows."""
    original = world.original
    if status.stage is RolloutStage.ROLLING_BACK:
        return _restore(status, world)
    if status.stage is RolloutStage.DONE:
        return Action(ActionKind.WAIT, message="finished"), status
    problem = unhealthy(world.health, strategy.health_checks) if original.has_new_values else None
    if problem:
        return _roll_back(status, world, problem)
    started = status.step_started_at or world.now
    if not original.has_new_values:
        return Action(ActionKind.PROMOTE), status.model_copy(update={"step_started_at": started})
    if status.stage is RolloutStage.SCALING:
        return _await_rollout(status, strategy, world, started)
    return _observe(status, strategy, world)


def _await_rollout(
    status: RolloutStatus, strategy: RolloutStrategy, world: World, started: datetime.datetime
) -> tuple[Action, RolloutStatus]:
    original = world.original
    # Available counts the old pods too: a surged new pod is "updated" before it is Ready, while the old one still
    # serves. The update is over when the new pods themselves are Ready.
    new_ready = world.health.ready >= original.replicas
    if (
        original.settled
        and original.updated >= original.replicas
        and original.available >= original.replicas
        and new_ready
    ):
        observing = status.model_copy(update={"stage": RolloutStage.OBSERVING, "step_started_at": world.now})
        return _observe(observing, strategy, world)
    deadline = strategy.progress_deadline
    if world.now - started > parse_duration(deadline) and strategy.health_checks.readiness:
        return _roll_back(status, world, f"the rolling update did not finish within {deadline}")
    message = f"rolling update: {original.updated}/{original.replicas} updated, {original.available} available"
    return Action(ActionKind.WAIT, message=message), status


def _observe(status: RolloutStatus, strategy: RolloutStrategy, world: World) -> tuple[Action, RolloutStatus]:
    replicas = world.original.replicas
    started = status.step_started_at or world.now
    if strategy.health_checks.readiness and world.health.ready < replicas:
        return _roll_back(status, world, f"{replicas - world.health.ready} pods not Ready")
    ends = started + total_duration(strategy)
    watched = observed(
        status, world.now, healthy=True, message=world.health.seen(f"{world.health.ready}/{replicas} pods Ready")
    )
    if world.now < ends:
        return Action(ActionKind.WAIT, message="healthy so far", until=ends), watched
    record = StepRecord(step=0, percent=100, started_at=started, finished_at=world.now)
    done = watched.model_copy(update={"stage": RolloutStage.DONE, "steps": [*watched.steps, record]})
    return Action(ActionKind.APPLIED, message="rolled out"), done


def _roll_back(status: RolloutStatus, world: World, reason: str) -> tuple[Action, RolloutStatus]:
    rolling_back = observed(status, world.now, healthy=False, message=reason).model_copy(
        update={"stage": RolloutStage.ROLLING_BACK, "reason": reason}
    )
    return _restore(rolling_back, world)


def _restore(status: RolloutStatus, world: World) -> tuple[Action, RolloutStatus]:
    if world.original.has_new_values:
        return Action(ActionKind.RESTORE, message=status.reason or ""), status
    done = status.model_copy(update={"stage": RolloutStage.DONE})
    return Action(ActionKind.ROLLED_BACK, message=status.reason or "rolled back"), done
