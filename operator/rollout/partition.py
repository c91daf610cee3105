"""The StatefulSet canary by ``partition``: from the rollout's status and what the cluster shows, the one next action.

A StatefulSet updates only the pods whose ordinal is at or above its
``spec.updateStrategy.rollingUpdate.partition``, so the canary is the highest ordinals.
The partition is first raised to ``replicas`` (no pod may move), the template gets the
new values, then each step lowers the partition so that the step's share of pods is
recreated on them; those pods get the canary label, must be Ready, and are watched for
the step's duration. A StatefulSet cannot surge, so every ordinal moved takes a pod
down: the partition is lowered one ordinal at a time, each once the pods moved so far
are Ready and one more may be down without going below the PodDisruptionBudgets'
floor. After the last step (partition 0) the partition is set back to what it was and
the canary labels are removed.

Rollback restores the template, then the partition; a canary pod that is not Ready
would stop a StatefulSet with ``OrderedReady`` pods from ever replacing it (the
documented "forced rollback"), so once the controller has seen the restored template
such pods are deleted and it recreates them on the old values.

Pure and level-based like ``canary.decide``: nothing is remembered between calls but
the status, so a killed operator decides again from the status and the cluster.
"""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus, StepRecord
from kcost.operator.rollout import plan
from kcost.operator.rollout.canary import Action, ActionKind, CanaryHealth, fit_reason, observed, unhealthy


@dataclasses.dataclass(frozen=True)
class PartitionWorld:
    """A StatefulSet as the partition canary needs to see it."""

    now: datetime.datetime
    replicas: int
    partition: int
    has_new_values: bool  # its template carries the proposed resources
    settled: bool  # the controller has observed the latest generation
    canary_pods: tuple[str, ...]  # pods on the new values (not terminating)
    unmarked: tuple[str, ...]  # canary pods without the canary label
    marked: tuple[str, ...]  # pods that carry the canary label
    unready_canary: tuple[str, ...]  # canary pods that are not Ready
    health: CanaryHealth  # of the canary pods
    available: int = 0  # the StatefulSet's available pods
    floor: int = 0  # the fewest available pods its PodDisruptionBudgets allow


def decide(status: RolloutStatus, strategy: RolloutStrategy, world: PartitionWorld) -> tuple[Action, RolloutStatus]:
    """The next action and the status to record with it."""
    if status.stage is RolloutStage.DONE:
        return Action(ActionKind.WAIT, message="finished"), status
    finishing = {RolloutStage.ROLLING_BACK: _roll_back, RolloutStage.PROMOTING: _promote}.get(status.stage)
    if finishing is not None:
        return finishing(status, world)
    problem = unhealthy(world.health, strategy.health_checks) if world.canary_pods else None
    if problem:
        return _start_rollback(status, world, problem)
    if not world.has_new_values:
        return _hold(status, world)
    step = strategy.steps[min(status.step, len(strategy.steps) - 1)]
    split = plan.canary_split(world.replicas, step.percent)
    if status.stage is RolloutStage.SCALING:
        return _scale(status, strategy, world, split)
    return _observe(status, strategy, world, split)


def _hold(status: RolloutStatus, world: PartitionWorld) -> tuple[Action, RolloutStatus]:
    """Before the template changes, the partition holds every pod where it is."""
    if world.partition < world.replicas:
        return Action(ActionKind.PARTITION, replicas=world.replicas, message="holding every pod"), status
    return Action(ActionKind.PATCH_TEMPLATE, message="new values behind the partition"), status


def _scale(
    status: RolloutStatus, strategy: RolloutStrategy, world: PartitionWorld, split: plan.Split
) -> tuple[Action, RolloutStatus]:
    if status.step_started_at is None:
        status = status.model_copy(update={"step_started_at": world.now})
    if world.partition > split.original:
        return _lower(status, world, split)
    if world.unmarked:
        return Action(ActionKind.MARK_CANARY, message=f"{len(world.unmarked)} new canary pod(s)"), status
    if len(world.canary_pods) < split.canary or world.health.ready < split.canary:
        started = status.step_started_at or world.now
        deadline = strategy.progress_deadline
        if world.now - started > parse_duration(deadline) and strategy.health_checks.readiness:
            why = f"{split.canary - world.health.ready} of {split.canary} canary pods not Ready within {deadline}"
            return _start_rollback(status, world, why)
        message = f"canary {world.health.ready}/{split.canary} Ready (partition {world.partition})"
        return Action(ActionKind.WAIT, message=message), status
    observing = status.model_copy(update={"stage": RolloutStage.OBSERVING, "step_started_at": world.now})
    return _observe(observing, strategy, world, split)


def _lower(status: RolloutStatus, world: PartitionWorld, split: plan.Split) -> tuple[Action, RolloutStatus]:
    """One ordinal more on the new values, once the pods moved so far are Ready and one more may be down.

    A StatefulSet cannot surge, so each lowering takes a pod down: never below the PodDisruptionBudgets' floor.
    """
    if world.floor >= world.replicas:
        why = f"its PodDisruptionBudgets allow no pod down ({world.floor} of {world.replicas} must stay available)"
        return _start_rollback(status, world, why)
    moved = len(world.canary_pods) >= world.replicas - world.partition and not world.unready_canary
    if moved and world.available - 1 >= world.floor:
        message = f"{world.replicas - world.partition + 1}/{split.canary} canary pod(s)"
        return Action(ActionKind.PARTITION, replicas=world.partition - 1, message=message), status
    return Action(ActionKind.WAIT, message=f"waiting to keep {world.floor} pods available"), status


def _observe(
    status: RolloutStatus, strategy: RolloutStrategy, world: PartitionWorld, split: plan.Split
) -> tuple[Action, RolloutStatus]:
    step = strategy.steps[status.step]
    started = status.step_started_at or world.now
    if strategy.health_checks.readiness and world.health.ready < split.canary:
        return _start_rollback(status, world, f"{split.canary - world.health.ready} canary pods not Ready")
    ends = started + parse_duration(step.duration)
    seen = world.health.seen(f"{world.health.ready}/{split.canary} canary pods Ready (partition {world.partition})")
    watched = observed(status, world.now, healthy=True, message=seen)
    if world.now < ends:
        return Action(ActionKind.WAIT, message=f"step {status.step + 1} healthy so far", until=ends), watched
    record = StepRecord(step=status.step, percent=step.percent, started_at=started, finished_at=world.now)
    passed = watched.model_copy(update={"steps": [*watched.steps, record]})
    if status.step + 1 >= len(strategy.steps):
        promoting = passed.model_copy(update={"stage": RolloutStage.PROMOTING, "step_started_at": world.now})
        return _promote(promoting, world)
    following = passed.model_copy(
        update={"step": status.step + 1, "stage": RolloutStage.SCALING, "step_started_at": world.now}
    )
    return decide(following, strategy, world)


def _promote(status: RolloutStatus, world: PartitionWorld) -> tuple[Action, RolloutStatus]:
    """Every pod is on the new values: the partition as it was, the canary labels gone."""
    original = status.original_partition or 0
    if world.partition != original:
        return Action(ActionKind.PARTITION, replicas=original, message="partition restored"), status
    if world.marked:
        return Action(ActionKind.UNMARK_CANARY, message="canary labels removed"), status
    return Action(ActionKind.APPLIED, message="promoted"), status.model_copy(update={"stage": RolloutStage.DONE})


def _start_rollback(status: RolloutStatus, world: PartitionWorld, reason: str) -> tuple[Action, RolloutStatus]:
    reason = fit_reason(reason)
    rolling_back = observed(status, world.now, healthy=False, message=reason).model_copy(
        update={"stage": RolloutStage.ROLLING_BACK, "reason": reason}
    )
    return _roll_back(rolling_back, world)


def _roll_back(status: RolloutStatus, world: PartitionWorld) -> tuple[Action, RolloutStatus]:
    """Template first (a lower partition would otherwise spread the new values), then the partition, then
    the canary pods that are not Ready, once the controller has seen the restored template."""
    original = status.original_partition or 0
    if world.has_new_values:
        return Action(ActionKind.RESTORE, message=status.reason or ""), status
    if world.partition != original:
        return Action(ActionKind.PARTITION, replicas=original, message="partition restored"), status
    if not world.settled:
        return Action(ActionKind.WAIT, message="waiting for the StatefulSet to see its restored template"), status
    if world.unready_canary:
        return Action(ActionKind.DELETE_CANARY, message=f"{len(world.unready_canary)} canary pod(s) not Ready"), status
    done = status.model_copy(update={"stage": RolloutStage.DONE})
    return Action(ActionKind.ROLLED_BACK, message=status.reason or "rolled back"), done
