"""A gated rolling update lists its pods where a listing can tell something, not at every change of its Deployment.

A one-replica Deployment under an HPA, its template already patched, is rolled by its
controller on a made-up clock: its status moves as a real one's does (the new template
observed, the new pod created, Ready, the old pod gone), with some status churn
besides, and each change wakes the rollout a second later as the worker's watch does;
each status write of kcost's wakes it again at once (its own watch event). Faults
(an OOM-killed new pod, a restart, a pod turning unready) must still roll it back, for
the same reason as when every look listed the pods.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import (
    OptimizationRecommendation,
    RecommendationPhase,
    RolloutStage,
    RolloutStatus,
)
from kcost.kube.workloads import WorkloadRef
from kcost.operator.rollout import controller, pod_looks
from kcost.operator.rollout.pod_looks import NewPods
from tests.operator.test_rollout_realized import recommendation, shape

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
STRATEGY = RolloutStrategy.model_validate({"steps": [{"replicas": "100%", "duration": "30s"}]})
OLD, NEW = {"cpu": "500m", "memory": "512Mi"}, {"cpu": "250m", "memory": "256Mi"}
# The worker looks this long after a Deployment's change (WORKLOAD_SETTLE_S).
SETTLE_S = 1.0


@dataclasses.dataclass
class RollingUpdate:
    """The Deployment's controller at work, second by second; pods listed, and looks taken."""

    new_pod_at_s: float = 3.0
    ready_at_s: float | None = 12.0  # None: the new pod never turns Ready
    oom_at_s: float | None = None  # the new pod OOM-killed (and restarting) from then on
    restart_at_s: float | None = None  # the new pod restarts but stays Ready
    unready_at_s: float | None = None  # the new pod turns unready
    churn_every_s: float = 2.0  # status updates meanwhile (conditions' times) while the update runs
    listings: int = 0
    looks: int = 0
    template: dict[str, str] = dataclasses.field(default_factory=lambda: dict(OLD))  # patched by the first look

    def changes(self, until_s: float) -> list[float]:
        """When the Deployment's status changes: each wakes its rollout."""
        moments = [0.5, 1.0, self.new_pod_at_s]
        end = self.ready_at_s if self.ready_at_s is not None else until_s
        moments += _range(self.new_pod_at_s, end, self.churn_every_s)
        if self.ready_at_s is not None:
            moments += [self.ready_at_s, self.ready_at_s + 3]
        if self.unready_at_s is not None:
            moments.append(self.unready_at_s)
        return sorted(moments)

    def status(self, t: float) -> dict[str, Any]:
        if t < 1.0:
            return {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1}
        if t < self.new_pod_at_s:
            return {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 0, "readyReplicas": 1}
        new_ready = self._new_pod_ready(t)
        old_gone = self.ready_at_s is not None and t >= self.ready_at_s + 3
        pods = 1 if old_gone else 2
        ready = (0 if old_gone else 1) + new_ready
        return {"observedGeneration": 2, "replicas": pods, "updatedReplicas": 1, "readyReplicas": ready}

    def _new_pod_ready(self, t: float) -> bool:
        if self.unready_at_s is not None and t >= self.unready_at_s:
            return False
        if self.oom_at_s is not None and t >= self.oom_at_s:
            return False
        return self.ready_at_s is not None and t >= self.ready_at_s

    def at(self, t: float) -> _Cluster:
        return _Cluster(self, t)


class _Cluster:
    """The WorkloadClient a look sees at one moment."""

    def __init__(self, update: RollingUpdate, t: float) -> None:
        self.update, self.t = update, t

    async def get(self, ref: WorkloadRef) -> dict[str, Any]:
        status = self.update.status(self.t)
        return {
            "metadata": {"name": ref.name, "namespace": ref.namespace, "generation": 2},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "spec": {"containers": [{"name": "app", "resources": {"requests": self.update.template}}]}
                },
            },
            "status": status | {"availableReplicas": status["readyReplicas"]},
        }

    async def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self.update.listings += 1
        update, t = self.update, self.t
        if t < update.new_pod_at_s:
            return []
        container: dict[str, Any] = {"name": "app", "restartCount": 0, "state": {"running": {}}}
        if update.oom_at_s is not None and t >= update.oom_at_s:
            container |= {"restartCount": 1, "lastState": {"terminated": {"reason": "OOMKilled"}}}
        if update.restart_at_s is not None and t >= update.restart_at_s:
            container |= {"restartCount": 1, "lastState": {"terminated": {"reason": "Error"}}}
        ready = "True" if update._new_pod_ready(t) else "False"
        return [
            {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "resources": {"requests": NEW}}]},
                "status": {"conditions": [{"type": "Ready", "status": ready}], "containerStatuses": [container]},
            }
        ]

    async def apply_containers(self, ref: WorkloadRef, path: tuple[str, ...], containers: list[Any]) -> dict[str, Any]:
        self.update.template = dict(containers[0]["resources"]["requests"])
        return await self.get(ref)

    async def annotate(self, ref: WorkloadRef, annotations: dict[str, str]) -> None:
        pass


def _range(start: float, stop: float, step: float) -> list[float]:
    values, value = [], start + step
    while value < stop:
        values.append(value)
        value += step
    return values


def patched() -> OptimizationRecommendation:
    """Applying by rolling update: the first look patches the template."""
    rec = recommendation().model_copy(deep=True)
    rec.status.phase = RecommendationPhase.APPLYING
    rec.status.previous = shape("500m", "512Mi", replicas=1)
    rec.status.rollout = RolloutStatus(
        strategy="rolling", original_replicas=1, target=shape("250m", "256Mi", replicas=1), started_at=START
    )
    rec.status.rollout.step_started_at = START
    return rec


async def roll(
    update: RollingUpdate, looks: pod_looks.PodLooks | None, until_s: float = 200.0
) -> tuple[OptimizationRecommendation, float]:
    """Look as the worker does until the rollout ends (or rolls back): after each of the Deployment's changes, after
    each status write, and when the last look asked to be called again. The recommendation, and when it ended."""
    rec, t, due = patched(), 0.0, 0.0
    wakes = [moment + SETTLE_S for moment in update.changes(until_s)]
    while t < until_s:
        t = min([due, *(w for w in wakes if w > t)])
        update.looks += 1
        cluster: Any = update.at(t)  # the WorkloadClient calls a rolling update's look makes
        outcome = await controller.advance(cluster, rec, STRATEGY, START + datetime.timedelta(seconds=t), looks=looks)
        if outcome.recommendation is not None:
            rec = outcome.recommendation
        rollout = rec.status.rollout
        if outcome.recheck_after_s is None or (rollout is not None and rollout.stage is RolloutStage.ROLLING_BACK):
            return rec, t
        due = t + (0.05 if outcome.recommendation is not None else outcome.recheck_after_s)
    raise AssertionError("the rollout never ended")


async def test_a_healthy_rolling_update_lists_its_pods_once_ready_and_once_per_interval_while_watched() -> None:
    every_look, remembered = RollingUpdate(), RollingUpdate()
    before, _ = await roll(every_look, None)
    after, ended_s = await roll(remembered, pod_looks.PodLooks())
    assert before.status.phase is after.status.phase is RecommendationPhase.APPLIED
    assert before.status.rollout == after.status.rollout  # the same observations, steps and times
    assert every_look.listings == every_look.looks - 1 >= 10, every_look  # (the look that promotes lists none)
    # Ready at 12 s (a churn event looks then): the listing that starts the watch, one 15 s later, one at its end.
    assert remembered.listings == 3, remembered
    assert ended_s == pytest.approx(12 + 30)


async def test_a_new_pod_oom_killed_before_it_is_ready_is_still_rolled_back_for_it() -> None:
    """It never turns Ready, so the Deployment's status stays as it was: a listing per interval finds it."""
    update = RollingUpdate(ready_at_s=None, oom_at_s=5.0)
    rec, ended_s = await roll(update, pod_looks.PodLooks())
    assert rec.status.rollout is not None
    assert "OOMKilled" in (rec.status.rollout.reason or "")
    # Listed 15 s after the new pod was first seen (created at 3 s, seen at 4 s), as the poll found it before.
    assert ended_s <= update.new_pod_at_s + SETTLE_S + controller.WATCHED_ROLLING_RECHECK_S
    assert update.listings == 1


async def test_a_restart_of_a_pod_that_stays_ready_is_found_within_an_interval_while_watched() -> None:
    update = RollingUpdate(restart_at_s=25.0)
    rec, ended_s = await roll(update, pod_looks.PodLooks())
    assert rec.status.rollout is not None
    assert "restarts" in (rec.status.rollout.reason or "")
    assert ended_s <= 12 + controller.WATCHED_ROLLING_RECHECK_S


async def test_a_pod_turning_unready_while_watched_is_listed_at_once() -> None:
    update = RollingUpdate(unready_at_s=30.0)
    rec, ended_s = await roll(update, pod_looks.PodLooks())
    assert rec.status.rollout is not None
    assert rec.status.rollout.reason == "1 pods not Ready"
    assert ended_s == pytest.approx(30 + SETTLE_S)


@pytest.mark.parametrize(
    ("status", "generation", "says"),
    [
        ({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1}, 2, NewPods.NOT_READY),
        ({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 0, "readyReplicas": 1}, 2, NewPods.NONE_YET),
        ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1}, 2, NewPods.NOT_READY),
        ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 2}, 2, NewPods.READY),
        ({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1}, 2, NewPods.READY),
        ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 2}, 2, NewPods.NOT_READY),
    ],
)
def test_the_deployments_status_says_whether_its_new_pods_exist_and_are_all_ready(
    status: dict[str, int], generation: int, says: NewPods
) -> None:
    replicas = 2 if status["replicas"] == 3 else 1
    body = {"metadata": {"generation": generation}, "spec": {"replicas": replicas}, "status": status}
    assert pod_looks.new_pods(body) is says
