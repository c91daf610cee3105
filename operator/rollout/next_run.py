"""A CronJob's change judged by its next run: from the rollout's status and that run, the one next action.

A CronJob has no pods between runs, so there is nothing to canary: its job template
gets the new values, and the first Job created from it afterwards (by its schedule, or
by hand as ``kubectl create job --from=cronjob/NAME`` does) is the health check. That
Job succeeding with healthy pods (no OOMKilled, restarts within ``maxRestarts``, the
policy's PromQL checks passing) makes the change Applied; the Job failing, or its pods
being unhealthy, restores the template and the change is RolledBack. Until a run
comes, the rollout waits. A suspended CronJob makes no run: the rollout still waits (the
change is not called Applied before a run has judged it), and says so in an observation
and the Ready condition, with how to resume or start a run by hand.

Pure and level-based: "the next run" is the newest Job the CronJob owns whose
template has the new values, so nothing but the status is remembered between calls.
"""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus, StepRecord
from kcost.operator.rollout.canary import Action, ActionKind, CanaryHealth, fit_reason, observed, unhealthy

# How often a run that has not come yet is looked for.
AWAIT_RUN_S = 10.0


@dataclasses.dataclass(frozen=True)
class JobRun:
    """The first Job on the new values: its outcome and its pods' health."""

    name: str
    started_at: datetime.datetime | None
    succeeded: bool
    failure: str | None  # why the Job failed (its Failed condition), if it did
    health: CanaryHealth


@dataclasses.dataclass(frozen=True)
class RunWorld:
    now: datetime.datetime
    has_new_values: bool  # the job template carries the proposed resources
    run: JobRun | None
    suspended: bool = False  # spec.suspend: no run comes until it is resumed
    cronjob: str = ""  # its name, for the hint to start a run by hand


def decide(status: RolloutStatus, strategy: RolloutStrategy, world: RunWorld) -> tuple[Action, RolloutStatus]:
    """The next action and the status to record with it."""
    if status.stage is RolloutStage.ROLLING_BACK:
        return _restore(status, world)
    if status.stage is RolloutStage.DONE:
        return Action(ActionKind.WAIT, message="finished"), status
    if not world.has_new_values:
        started = status.step_started_at or world.now
        return Action(ActionKind.PROMOTE, message="job template patched"), status.model_copy(
            update={"step_started_at": started}
        )
    waiting = status.model_copy(update={"stage": RolloutStage.OBSERVING})
    run = world.run
    if run is None:
        until = world.now + datetime.timedelta(seconds=AWAIT_RUN_S)
        if world.suspended:
            message = suspended_message(world.cronjob)
            return Action(ActionKind.WAIT, message=message, until=until), observed(
                waiting, world.now, healthy=True, message=message
            )
        return Action(ActionKind.WAIT, message="waiting for the next run", until=until), waiting
    return _judge(waiting, strategy, world, run)


def suspended_message(cronjob: str) -> str:
    """Why a rollout waits on a suspended CronJob, and how to move it on."""
    return (
        "CronJob suspended (spec.suspend: true): its job template has the new values, waiting for its next run to "
        f"judge them; resume it, or start a run: kubectl create job --from=cronjob/{cronjob} NAME"
    )


def _judge(
    status: RolloutStatus, strategy: RolloutStrategy, world: RunWorld, run: JobRun
) -> tuple[Action, RolloutStatus]:
    """The run decides: it failed or its pods are unhealthy (roll back), it is still going (wait), it succeeded."""
    problem = unhealthy(run.health, strategy.health_checks)
    if run.failure is not None:
        problem = "; ".join(p for p in (f"Job {run.name} failed: {run.failure}", problem) if p)
    if problem:
        return _roll_back(status, world, problem)
    if not run.succeeded:
        until = world.now + datetime.timedelta(seconds=AWAIT_RUN_S)
        return Action(ActionKind.WAIT, message=f"Job {run.name} running", until=until), status
    seen = run.health.seen(f"Job {run.name} succeeded")
    watched = observed(status, world.now, healthy=True, message=seen)
    record = StepRecord(step=0, percent=100, started_at=run.started_at or world.now, finished_at=world.now)
    done = watched.model_copy(update={"stage": RolloutStage.DONE, "steps": [*watched.steps, record]})
    return Action(ActionKind.APPLIED, message=f"Job {run.name} succeeded"), done


def _roll_back(status: RolloutStatus, world: RunWorld, reason: str) -> tuple[Action, RolloutStatus]:
    reason = fit_reason(reason)
    rolling_back = observed(status, world.now, healthy=False, message=reason).model_copy(
        update={"stage": RolloutStage.ROLLING_BACK, "reason": reason}
    )
    return _restore(rolling_back, world)


def _restore(status: RolloutStatus, world: RunWorld) -> tuple[Action, RolloutStatus]:
    if world.has_new_values:
        return Action(ActionKind.RESTORE, message=status.reason or ""), status
    done = status.model_copy(update={"stage": RolloutStage.DONE})
    return Action(ActionKind.ROLLED_BACK, message=status.reason or "rolled back"), done
