"""The canary state machine: from the rollout's status and what the cluster shows, the one next action.

Level-based and pure: ``decide`` never remembers anything between calls, so an operator
killed between deciding and acting (or between acting and writing the status) simply
decides again from the cluster and the status, and arrives at the same place. Each
action is idempotent: creating a canary that exists, or scaling to the count it has,
changes nothing.

One step: the canary is scaled to the step's share and must be available; then the
original is scaled down by the same count (never below the availability floor); then
health is watched for the step's duration. After the last step the original's template
is patched with the new values at its full replica count and the canary removed.
Anything unhealthy at any point rolls back: the original's template and replicas are
restored, then the canary is removed.
"""

from __future__ import annotations

import dataclasses
import datetime
from enum import StrEnum

from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import HealthChecks, RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutObservation, RolloutStage, RolloutStatus, StepRecord
from kcost.operator.rollout import plan

MAX_OBSERVATIONS = 50
# status.rollout.reason's limit in the schema: a longer one would make the status unwritable.
MAX_REASON_CHARS = 1024


@dataclasses.dataclass(frozen=True)
class WorkloadState:
    """A Deployment as the engine needs to see it (the original or the canary)."""

    replicas: int
    available: int
    updated: int = 0
    settled: bool = True  # the controller has observed the latest generation
    has_new_values: bool = False  # its template carries the proposed resources


@dataclasses.dataclass(frozen=True)
class CanaryHealth:
    """What the canary's pods show, and the policy's PromQL checks: why each failed, or the value each passed with."""

    ready: int = 0
    restarts: int = 0
    oom_killed: int = 0
    failed_checks: tuple[str, ...] = ()
    passed_checks: tuple[str, ...] = ()

    def seen(self, pods: str) -> str:
        """An observation: what the pods show, then the value of each passing check (``error_rate=0.002 ≤ 0.05``)."""
        return "; ".join((pods, *self.passed_checks))


@dataclasses.dataclass(frozen=True)
class World:
    now: datetime.datetime
    original: WorkloadState
    canary: WorkloadState | None
    health: CanaryHealth
    floor: int  # the fewest available pods allowed at any moment (PDB, maxUnavailable)


class ActionKind(StrEnum):
    CREATE_CANARY = "CreateCanary"
    SCALE_CANARY = "ScaleCanary"
    SCALE_ORIGINAL = "ScaleOriginal"
    PROMOTE = "Promote"  # the original's template gets the new values, at its full replicas
    RESTORE = "Restore"  # the original's template and replicas as they were
    DELETE_CANARY = "DeleteCanary"
    # Kinds without a canary workload (StatefulSet partition, pods resized in place).
    PATCH_TEMPLATE = "PatchTemplate"  # the template gets the new values behind a partition that holds every pod
    PARTITION = "Partition"  # a StatefulSet's partition set to ``replicas``
    MARK_CANARY = "MarkCanary"  # the pods on the new values get the canary label
    UNMARK_CANARY = "UnmarkCanary"
    RESIZE = "Resize"  # pods resized in place (``pods/resize``) to the new values, or back
    WAIT = "Wait"
    APPLIED = "Applied"
    ROLLED_BACK = "RolledBack"


@dataclasses.dataclass(frozen=True)
class Action:
    kind: ActionKind
    replicas: int | None = None
    message: str = ""
    until: datetime.datetime | None = None  # for WAIT: when deciding again is worth it


def unhealthy(health: CanaryHealth, checks: HealthChecks) -> str | None:
    """Why the canary is unhealthy, or None."""
    problems = []
    if checks.oom_killed and health.oom_killed:
        problems.append(f"{health.oom_killed} canary container(s) OOMKilled")
    if health.restarts > checks.max_restarts:
        problems.append(f"{health.restarts} canary restarts, more than maxRestarts {checks.max_restarts}")
    problems.extend(health.failed_checks)
    return fit_reason("; ".join(problems)) or None


def fit_reason(reason: str) -> str:
    """A reason cut to what the schema allows (a longer one would make the status unwritable)."""
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def decide(status: RolloutStatus, strategy: RolloutStrategy, world: World) -> tuple[Action, RolloutStatus]:
    """The next action and the status to record with it."""
    replicas = status.original_replicas or 0
    if status.stage is RolloutStage.ROLLING_BACK:
        return _roll_back(status, world, replicas)
    if status.stage is RolloutStage.PROMOTING:
        return _promote(status, world, replicas)
    if status.stage is RolloutStage.DONE:
        return Action(ActionKind.WAIT, message="finished"), status
    problem = unhealthy(world.health, strategy.health_checks) if world.canary else None
    if problem:
        return _start_rollback(status, world, problem)
    step = strategy.steps[min(status.step, len(strategy.steps) - 1)]
    split = plan.canary_split(replicas, step.percent)
    if status.stage is RolloutStage.SCALING:
        return _scale(status, strategy, world, split)
    return _observe(status, strategy, world, split)


def _scale(
    status: RolloutStatus, strategy: RolloutStrategy, world: World, split: plan.Split
) -> tuple[Action, RolloutStatus]:
    if status.step_started_at is None:
        status = status.model_copy(update={"step_started_at": world.now})
    canary = world.canary
    if canary is None:
        return Action(ActionKind.CREATE_CANARY, replicas=split.canary), status
    if canary.replicas != split.canary:
        return Action(ActionKind.SCALE_CANARY, replicas=split.canary), status
    if canary.available < split.canary:
        return _await_canary(status, strategy=strategy, world=world, canary=canary, split=split)
    if world.original.replicas > split.original:
        if plan.may_scale_down_original(world.original.available, canary.available, split.original, world.floor):
            return Action(ActionKind.SCALE_ORIGINAL, replicas=split.original), status
        return Action(ActionKind.WAIT, message=f"waiting to keep {world.floor} pods available"), status
    observing = status.model_copy(update={"stage": RolloutStage.OBSERVING, "step_started_at": world.now})
    return _observe(observing, strategy, world, split)


def _await_canary(
    status: RolloutStatus,
    *,
    strategy: RolloutStrategy,
    world: World,
    canary: WorkloadState,
    split: plan.Split,
) -> tuple[Action, RolloutStatus]:
    """Wait for the canary's pods; pods not Ready within the strategy's progress deadline fail the step."""
    started = status.step_started_at or world.now
    deadline = strategy.progress_deadline
    if world.now - started > parse_duration(deadline) and strategy.health_checks.readiness:
        why = f"{split.canary - canary.available} of {split.canary} canary pods not Ready within {deadline}"
        return _start_rollback(status, world, why)
    return Action(ActionKind.WAIT, message=f"canary {canary.available}/{split.canary} available"), status


def _observe(
    status: RolloutStatus, strategy: RolloutStrategy, world: World, split: plan.Split
) -> tuple[Action, RolloutStatus]:
    step = strategy.steps[status.step]
    started = status.step_started_at or world.now
    canary = world.canary
    if strategy.health_checks.readiness and canary is not None and world.health.ready < split.canary:
        return _start_rollback(status, world, f"{split.canary - world.health.ready} canary pods not Ready")
    ends = started + parse_duration(step.duration)
    watched = observed(
        status,
        world.now,
        healthy=True,
        message=world.health.seen(f"{world.health.ready}/{split.canary} canary pods Ready"),
    )
    if world.now < ends:
        return Action(ActionKind.WAIT, message=f"step {status.step + 1} healthy so far", until=ends), watched
    record = StepRecord(step=status.step, percent=step.percent, started_at=started, finished_at=world.now)
    passed = watched.model_copy(update={"steps": [*watched.steps, record]})
    if status.step + 1 >= len(strategy.steps):
        promoting = passed.model_copy(update={"stage": RolloutStage.PROMOTING, "step_started_at": world.now})
        return _promote(promoting, world, status.original_replicas or 0)
    following = passed.model_copy(
        update={"step": status.step + 1, "stage": RolloutStage.SCALING, "step_started_at": world.now}
    )
    return decide(following, strategy, world)


def _promote(status: RolloutStatus, world: World, replicas: int) -> tuple[Action, RolloutStatus]:
    original = world.original
    if not original.has_new_values or original.replicas != replicas:
        return Action(ActionKind.PROMOTE, replicas=replicas), status
    if not (original.settled and original.updated >= replicas and original.available >= replicas):
        return Action(ActionKind.WAIT, message=f"original {original.available}/{replicas} available"), status
    if world.canary is not None:
        return Action(ActionKind.DELETE_CANARY), status
    return Action(ActionKind.APPLIED, message="promoted"), status.model_copy(update={"stage": RolloutStage.DONE})


def _start_rollback(status: RolloutStatus, world: World, reason: str) -> tuple[Action, RolloutStatus]:
    rolling_back = observed(status, world.now, healthy=False, message=reason).model_copy(
        update={"stage": RolloutStage.ROLLING_BACK, "reason": reason}
    )
    return _roll_back(rolling_back, world, status.original_replicas or 0)


def _roll_back(status: RolloutStatus, world: World, replicas: int) -> tuple[Action, RolloutStatus]:
    original = world.original
    if original.has_new_values or original.replicas != replicas:
        return Action(ActionKind.RESTORE, replicas=replicas, message=status.reason or ""), status
    if world.canary is not None and original.available < min(replicas, max(world.floor, 1)):
        return Action(ActionKind.WAIT, message=f"original {original.available}/{replicas} available"), status
    if world.canary is not None:
        return Action(ActionKind.DELETE_CANARY), status
    done = status.model_copy(update={"stage": RolloutStage.DONE})
    return Action(ActionKind.ROLLED_BACK, message=status.reason or "rolled back"), done


def observed(status: RolloutStatus, now: datetime.datetime, *, healthy: bool, message: str) -> RolloutStatus:
    """The status with this observation recorded, unless it repeats the last one."""
    last = status.observations[-1] if status.observations else None
    if last is not None and last.step == status.step and last.healthy == healthy and last.message == message:
        return status
    observation = RolloutObservation(time=now, step=status.step, healthy=healthy, message=message)
    return status.model_copy(update={"observations": [*status.observations, observation][-MAX_OBSERVATIONS:]})
