"""In-place resize (``pods/resize``, GA in Kubernetes 1.35): the one next action, from the status and the pods.

Every running pod of the workload is resized to the new values without a restart; once
the kubelets have actuated every resize (``status.containerStatuses[].resources``
equals the spec), the pods are watched for the strategy's total duration (Ready,
restarts, OOMKilled, the policy's PromQL checks). Healthy: the template is patched so
that new pods match. Unhealthy: the pods are resized back in place (a pod that cannot
be is deleted, and its controller recreates it from the template, which never changed).

A resize is not always possible, and then the change falls back to the kind's rolling
update (``fallback``), with the reason recorded:
- the new values would change a pod's QoS class, which the API server refuses;
- a kubelet answers ``PodResizePending`` (``Deferred``: not now; ``Infeasible``: never
  on that node) or ``PodResizeInProgress`` with reason ``Error``;
- the resizes are not actuated within the strategy's total duration (a memory limit
  decrease stays in progress while the container uses more than the new limit).

What it costs: on a workload whose controller rolls pods when its template changes
(a Deployment, a StatefulSet or DaemonSet with RollingUpdate), the final template
patch still replaces the pods, with the values they already run with. The gain is
that the change is live and judged on every pod without a restart, and undone
without one.

Pure and level-based like the other state machines.
"""

from __future__ import annotations

import dataclasses
import datetime

from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import RolloutStage, RolloutStatus, StepRecord
from kcost.operator.rollout.canary import Action, ActionKind, CanaryHealth, fit_reason, observed, unhealthy
from kcost.operator.rollout.rolling import total_duration


@dataclasses.dataclass(frozen=True)
class PodSize:
    """One running pod's resize: what its spec asks, whether its kubelet has actuated it, and why not."""

    name: str
    on_new_values: bool  # its spec has the proposed values
    on_old_values: bool  # its spec has the values a rollback restores
    actuated: bool  # its status reports the resources its spec asks for
    refused: str | None = None  # while not actuated: PodResizePending (Deferred, Infeasible) or a failed resize


@dataclasses.dataclass(frozen=True)
class ResizeWorld:
    now: datetime.datetime
    pods: tuple[PodSize, ...]
    template_new: bool  # the workload's template has the proposed values
    health: CanaryHealth  # of the pods on the new values
    qos_change: str | None  # why the new values cannot be set in place, if they cannot
    fallback: str  # the rollout strategy to fall back to

    def pending(self, *, new: bool) -> list[PodSize]:
        """Pods not yet on the values wanted (new, or old for a rollback)."""
        return [pod for pod in self.pods if not (pod.on_new_values if new else pod.on_old_values)]


def decide(status: RolloutStatus, strategy: RolloutStrategy, world: ResizeWorld) -> tuple[Action, RolloutStatus]:
    """The next action and the status to record with it."""
    if status.stage is RolloutStage.DONE:
        return Action(ActionKind.WAIT, message="finished"), status
    finishing = {RolloutStage.ROLLING_BACK: _roll_back, RolloutStage.PROMOTING: _promote}.get(status.stage)
    if finishing is not None:
        return finishing(status, world)
    refused = next((f"pod {pod.name}: {pod.refused}" for pod in world.pods if pod.refused), None)
    if world.qos_change or refused:
        return fall_back(status, world, world.qos_change or refused or "")
    problem = unhealthy(world.health, strategy.health_checks) if any(p.on_new_values for p in world.pods) else None
    if problem:
        return _start_rollback(status, world, problem)
    started = status.step_started_at or world.now
    if status.stage is RolloutStage.SCALING:
        return _resize(status.model_copy(update={"step_started_at": started}), strategy, world)
    return _observe(status, strategy, world)


def _resize(status: RolloutStatus, strategy: RolloutStrategy, world: ResizeWorld) -> tuple[Action, RolloutStatus]:
    if world.pending(new=True):
        return Action(ActionKind.RESIZE, message=f"resizing {len(world.pending(new=True))} pod(s) in place"), status
    waiting = [pod.name for pod in world.pods if not pod.actuated]
    started = status.step_started_at or world.now
    deadline = strategy.progress_deadline
    if waiting and world.now - started > parse_duration(deadline):
        return fall_back(status, world, f"{len(waiting)} resize(s) not actuated within {deadline}")
    if waiting:
        return Action(ActionKind.WAIT, message=f"{len(world.pods) - len(waiting)}/{len(world.pods)} resized"), status
    observing = status.model_copy(update={"stage": RolloutStage.OBSERVING, "step_started_at": world.now})
    return _observe(observing, strategy, world)


def _observe(status: RolloutStatus, strategy: RolloutStrategy, world: ResizeWorld) -> tuple[Action, RolloutStatus]:
    pods = len(world.pods)
    started = status.step_started_at or world.now
    if strategy.health_checks.readiness and world.health.ready < pods:
        return _start_rollback(status, world, f"{pods - world.health.ready} resized pods not Ready")
    ends = started + total_duration(strategy)
    seen = world.health.seen(f"{world.health.ready}/{pods} pods resized in place and Ready")
    watched = observed(status, world.now, healthy=True, message=seen)
    if world.now < ends:
        return Action(ActionKind.WAIT, message="healthy so far", until=ends), watched
    record = StepRecord(step=0, percent=100, started_at=started, finished_at=world.now)
    promoting = watched.model_copy(
        update={"stage": RolloutStage.PROMOTING, "steps": [*watched.steps, record], "step_started_at": world.now}
    )
    return _promote(promoting, world)


def _promote(status: RolloutStatus, world: ResizeWorld) -> tuple[Action, RolloutStatus]:
    """The template gets the values the pods already run with, so new pods match."""
    if not world.template_new:
        return Action(ActionKind.PROMOTE, message="template patched to match the resized pods"), status
    return Action(ActionKind.APPLIED, message="resized in place"), status.model_copy(
        update={"stage": RolloutStage.DONE}
    )


def fall_back(status: RolloutStatus, world: ResizeWorld, why: str) -> tuple[Action, RolloutStatus]:
    """Resizing in place is not possible: the kind's rolling update takes over from its start."""
    reason = fit_reason(f"in-place resize not possible ({why}); falling back to {world.fallback}")
    noted = observed(status, world.now, healthy=True, message=reason)
    fallback = noted.model_copy(
        update={"strategy": world.fallback, "stage": RolloutStage.SCALING, "step": 0, "step_started_at": None}
    )
    return Action(ActionKind.WAIT, message=reason), fallback


def _start_rollback(status: RolloutStatus, world: ResizeWorld, reason: str) -> tuple[Action, RolloutStatus]:
    reason = fit_reason(reason)
    rolling_back = observed(status, world.now, healthy=False, message=reason).model_copy(
        update={"stage": RolloutStage.ROLLING_BACK, "reason": reason}
    )
    return _roll_back(rolling_back, world)


def _roll_back(status: RolloutStatus, world: ResizeWorld) -> tuple[Action, RolloutStatus]:
    """Pods resized back in place (those that cannot be, deleted) and the template as it was."""
    if world.template_new or world.pending(new=False):
        return Action(ActionKind.RESTORE, message=status.reason or ""), status
    if any(pod.refused for pod in world.pods):
        return Action(ActionKind.DELETE_CANARY, message="pods that cannot be resized back are replaced"), status
    if any(not pod.actuated for pod in world.pods):
        return Action(ActionKind.WAIT, message="waiting for the resizes back"), status
    done = status.model_copy(update={"stage": RolloutStage.DONE})
    return Action(ActionKind.ROLLED_BACK, message=status.reason or "rolled back"), done
