"""In-place resize: pods resized, actuated, watched, then the template; refusals fall back, failures resize back."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from typing import Any

from kcost.api.v1alpha1.policy import RolloutStrategy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RolloutStage, RolloutStatus, WorkloadShape
from kcost.kube.workloads import ResizeRefused, WorkloadClient, WorkloadRef
from kcost.operator.rollout import context, in_place, resize
from kcost.operator.rollout.canary import ActionKind, CanaryHealth

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
STRATEGY = RolloutStrategy.model_validate({"type": "in-place", "steps": [{"replicas": "100%", "duration": "1m"}]})


@dataclasses.dataclass
class Pods:
    """Three pods and a kubelet that actuates each resize one tick later, unless told to refuse."""

    spec_new: list[bool] = dataclasses.field(default_factory=lambda: [False] * 3)
    status_new: list[bool] = dataclasses.field(default_factory=lambda: [False] * 3)
    template_new: bool = False
    refuse: str | None = None
    oom_after_s: float | None = None

    def world(self, now: datetime.datetime, qos_change: str | None = None) -> in_place.ResizeWorld:
        sizes = tuple(
            in_place.PodSize(
                name=f"web-{i}",
                on_new_values=new,
                on_old_values=not new,
                actuated=new == self.status_new[i],
                refused=self.refuse if new != self.status_new[i] else None,
            )
            for i, new in enumerate(self.spec_new)
        )
        elapsed_s = (now - START).total_seconds()
        oom = int(self.oom_after_s is not None and elapsed_s > self.oom_after_s and any(self.status_new))
        health = CanaryHealth(ready=sum(self.spec_new), oom_killed=oom)
        return in_place.ResizeWorld(now, sizes, self.template_new, health, qos_change, fallback="rolling")

    def tick(self) -> None:
        if self.refuse is None:
            self.status_new = list(self.spec_new)


def run(pods: Pods, qos_change: str | None = None) -> tuple[ActionKind, RolloutStatus, list[ActionKind]]:
    status = RolloutStatus(strategy="in-place", started_at=START)
    actions: list[ActionKind] = []
    now = START
    for _ in range(100):
        action, status = in_place.decide(status, STRATEGY, pods.world(now, qos_change))
        actions.append(action.kind)
        if action.kind in (ActionKind.APPLIED, ActionKind.ROLLED_BACK) or status.strategy != "in-place":
            return action.kind, status, actions
        if action.kind is ActionKind.RESIZE:
            pods.spec_new = [True] * 3
        elif action.kind is ActionKind.RESTORE:
            pods.spec_new, pods.template_new = [False] * 3, False
        elif action.kind is ActionKind.PROMOTE:
            pods.template_new = True
        pods.tick()
        now += datetime.timedelta(seconds=10)
    raise AssertionError(f"never settled: {actions[-5:]}")


def test_pods_are_resized_watched_then_the_template_follows() -> None:
    pods = Pods()
    result, status, actions = run(pods)
    assert result is ActionKind.APPLIED
    assert actions.index(ActionKind.RESIZE) < actions.index(ActionKind.PROMOTE)
    assert pods.status_new == [True] * 3
    assert pods.template_new
    assert status.steps[0].finished_at - status.steps[0].started_at >= datetime.timedelta(minutes=1)
    assert any(o.message == "3/3 pods resized in place and Ready" for o in status.observations)


def test_an_infeasible_resize_falls_back_to_a_rolling_update() -> None:
    result, status, _ = run(Pods(refuse="PodResizePending Infeasible: Node didn't have enough capacity"))
    assert result is ActionKind.WAIT
    assert status.strategy == "rolling"
    assert status.stage is RolloutStage.SCALING
    assert "pod web-0: PodResizePending Infeasible" in status.observations[-1].message
    assert status.observations[-1].message.endswith("falling back to rolling")


def test_a_qos_class_change_is_never_tried_in_place() -> None:
    _, status, actions = run(Pods(), qos_change="the QoS class would change from Guaranteed to Burstable")
    assert ActionKind.RESIZE not in actions
    assert status.strategy == "rolling"
    assert "Guaranteed to Burstable" in status.observations[-1].message


def test_an_oom_after_the_resize_resizes_back_without_touching_the_template() -> None:
    pods = Pods(oom_after_s=20)
    result, status, actions = run(pods)
    assert result is ActionKind.ROLLED_BACK
    assert "OOMKilled" in (status.reason or "")
    assert ActionKind.PROMOTE not in actions
    assert pods.spec_new == [False] * 3
    assert pods.status_new == [False] * 3


def container(resources: dict[str, Any]) -> dict[str, Any]:
    return {"name": "app", "resources": resources}


def test_qos_classes_as_the_api_server_computes_them() -> None:
    assert resize.qos_class([container({})]) == "BestEffort"
    guaranteed = {"limits": {"cpu": "1", "memory": "1Gi"}}
    assert resize.qos_class([container(guaranteed)]) == "Guaranteed"
    assert resize.qos_class([container({**guaranteed, "requests": {"cpu": "1000m", "memory": "1Gi"}})]) == "Guaranteed"
    assert resize.qos_class([container({**guaranteed, "requests": {"cpu": "500m"}})]) == "Burstable"
    assert resize.qos_class([container({"requests": {"cpu": "1"}}), container({})]) == "Burstable"


def test_a_resize_is_actuated_when_the_status_reports_what_the_spec_asks() -> None:
    spec = {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"memory": "384Mi"}}
    pod = {
        "spec": {"containers": [container(spec)]},
        "status": {"containerStatuses": [{"name": "app", "resources": {**spec, "requests": {"cpu": "0.25"}}}]},
    }
    assert not resize.actuated(pod), "memory request not reported yet"
    pod["status"]["containerStatuses"][0]["resources"] = {**spec, "requests": {"cpu": "0.25", "memory": "384Mi"}}
    assert resize.actuated(pod)
    pending = {"type": "PodResizePending", "status": "True", "reason": "Deferred", "message": "node is full"}
    assert resize.refusal({"status": {"conditions": [pending]}}) == "PodResizePending Deferred: node is full"
    assert resize.refusal({"status": {"conditions": [{**pending, "status": "False"}]}}) is None


class RefusingWorkloads(WorkloadClient):
    """A Deployment of one running pod whose resize the API server refuses."""

    def __init__(self) -> None:
        template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container(OLD)]}}
        self.deployment = {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template},
        }
        self.pod = {
            "metadata": {"name": "web-1", "labels": {"app": "web"}},
            "spec": {"containers": [container(OLD)]},
            "status": {"containerStatuses": [{"name": "app", "resources": OLD}]},
        }

    async def get(self, ref: WorkloadRef) -> dict[str, Any] | None:
        return self.deployment

    async def pods(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        return [self.pod]

    async def resize_pod(self, namespace: str, name: str, containers: list[dict[str, Any]]) -> None:
        raise ResizeRefused(f"the API server refused to resize pod {namespace}/{name}: forbidden")


OLD = {"requests": {"cpu": "500m", "memory": "512Mi"}}


def test_a_resize_the_api_server_refuses_falls_back_instead_of_retrying() -> None:
    rec = OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "type": "right-sizing",
                "changes": {"containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "384Mi"}}]},
                "current": {"containers": []},
                "estimatedMonthlySavings": 1.0,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "test"},
            },
        }
    )
    step = context.StepContext(
        rec=rec,
        rollout=RolloutStatus(strategy="in-place", started_at=START),
        previous=WorkloadShape.model_validate({"containers": [{"name": "app", "requests": OLD["requests"]}]}),
        strategy=STRATEGY,
        now=START,
    )
    stepped = asyncio.run(resize.advance(RefusingWorkloads(), step))
    assert stepped is not None
    action, status = stepped
    assert action.kind is ActionKind.WAIT
    assert status.strategy == "rolling"
    assert "refused to resize pod shop/web-1: forbidden" in status.observations[-1].message
