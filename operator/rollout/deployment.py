"""The canary of a Deployment against the cluster: what the state machine sees, and its actions done.

The canary is a copy of the Deployment named ``<name>-kcost-canary``, owned by the
recommendation (so deleting the recommendation removes it), with the new resources,
the original's pod labels plus ``kcost.dev/canary`` (Services that select the
original send it traffic too; the original's ReplicaSets never adopt its pods).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from typing import Any

from kcost.api.v1alpha1.common import parse_quantity
from kcost.api.v1alpha1.recommendation import (
    TARGET_RESOURCES,
    ContainerResources,
    OptimizationRecommendation,
    ResourceValues,
    WorkloadShape,
)
from kcost.kube.workloads import WorkloadClient, WorkloadRef
from kcost.operator.rollout import canary, plan
from kcost.operator.rollout.canary import Action, ActionKind
from kcost.operator.rollout.pod_looks import Gate

Body = dict[str, Any]
CANARY_LABEL = "kcost.dev/canary"
RECOMMENDATION_LABEL = "kcost.dev/recommendation"
POD_SPEC_PATH = ("spec", "template", "spec")
# Kubernetes' default for a Deployment's rolling update.
DEFAULT_MAX_UNAVAILABLE = "25%"


def canary_name(name: str) -> str:
    return f"{name[:240]}-kcost-canary"


def target(rec: OptimizationRecommendation) -> WorkloadRef:
    """The workload the recommendation changes, of whatever kind."""
    ref = rec.spec.target_ref
    api_version, plural = TARGET_RESOURCES.get(ref.kind, (ref.api_version, ref.kind.lower() + "s"))
    return WorkloadRef(api_version, ref.kind, plural, rec.namespace or "default", ref.name)


def live_shape(workload: Body) -> WorkloadShape:
    """The CPU and memory requests and limits of each container, and the replicas, as the workload has them now."""
    containers = []
    for container in workload["spec"]["template"]["spec"].get("containers", []):
        resources = container.get("resources") or {}
        containers.append(
            ContainerResources(
                name=container["name"],
                requests=ResourceValues.model_validate(resources.get("requests") or {}),
                limits=ResourceValues.model_validate(resources.get("limits") or {}),
            )
        )
    return WorkloadShape(containers=containers, replicas=int(workload["spec"].get("replicas", 1)))


def proposed_resources(changes: WorkloadShape) -> list[Body]:
    """Containers' values (proposed, or previous) in the pod spec's shape."""
    proposed = []
    for container in changes.containers:
        resources: Body = {}
        if container.requests is not None and container.requests.to_api():
            resources["requests"] = container.requests.to_api()
        if container.limits is not None and container.limits.to_api():
            resources["limits"] = container.limits.to_api()
        proposed.append({"name": container.name, "resources": resources})
    return proposed


def overlay(workload: Body, shape: WorkloadShape, *, exact: bool) -> list[Body]:
    """Every container of the live template with ``shape``'s CPU and memory values laid over its resources.

    Every container is sent, not only the changed ones: server-side apply would drop the
    fields of an earlier change that the ``kcost`` manager stopped sending. ``exact``
    (a rollback) also removes a CPU or memory value the shape does not have.
    """
    wanted = {c.name: c for c in shape.containers}
    containers = []
    for container in workload["spec"]["template"]["spec"].get("containers", []):
        resources = copy.deepcopy(container.get("resources") or {})
        target = wanted.get(container["name"])
        if target is not None:
            for section in ("requests", "limits"):
                values = getattr(target, section) or ResourceValues()
                current = resources.setdefault(section, {})
                for resource in ("cpu", "memory"):
                    value = getattr(values, resource)
                    if value is not None:
                        current[resource] = value
                    elif exact:
                        current.pop(resource, None)
                if not current:
                    del resources[section]
        containers.append({"name": container["name"], "resources": resources})
    return containers


def has_resources(workload: Body, wanted: list[Body]) -> bool:
    """Every value in ``wanted`` is what the workload's template has (quantities compared as numbers)."""
    live = {c["name"]: c.get("resources") or {} for c in workload["spec"]["template"]["spec"].get("containers", [])}
    for container in wanted:
        have = live.get(container["name"])
        if have is None:
            return False
        for section, values in container["resources"].items():
            for resource, quantity in values.items():
                present = (have.get(section) or {}).get(resource)
                if present is None or parse_quantity(present) != parse_quantity(quantity):
                    return False
    return True


def canary_manifest(original: Body, rec: OptimizationRecommendation, changes: WorkloadShape, replicas: int) -> Body:
    """The canary Deployment: the original's spec with the new resources and the canary label."""
    spec = copy.deepcopy(original["spec"])
    spec["replicas"] = replicas
    spec["selector"] = {"matchLabels": {**spec["selector"].get("matchLabels", {}), CANARY_LABEL: "true"}}
    if "matchExpressions" in original["spec"]["selector"]:
        spec["selector"]["matchExpressions"] = original["spec"]["selector"]["matchExpressions"]
    template_metadata = spec["template"].setdefault("metadata", {})
    template_metadata["labels"] = {**template_metadata.get("labels", {}), CANARY_LABEL: "true"}
    wanted = {c["name"]: c["resources"] for c in proposed_resources(changes)}
    for container in spec["template"]["spec"]["containers"]:
        for section, values in wanted.get(container["name"], {}).items():
            container.setdefault("resources", {}).setdefault(section, {}).update(values)
    metadata = original["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": canary_name(metadata["name"]),
            "namespace": metadata["namespace"],
            "labels": {**(metadata.get("labels") or {}), CANARY_LABEL: "true", RECOMMENDATION_LABEL: rec.name},
            "ownerReferences": [
                {
                    "apiVersion": rec.api_version,
                    "kind": rec.kind,
                    "name": rec.name,
                    "uid": rec.uid,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": spec,
    }


def _new_pod(pod: Body, wanted: list[Body]) -> bool:
    """A pod of the original on the new values (a canary's pods carry their own label)."""
    return CANARY_LABEL not in (pod["metadata"].get("labels") or {}) and has_resources(as_template(pod), wanted)


def pod_selector(workload: Body) -> str:
    """The label selector of a workload's pods, as the pods list call takes it."""
    return ",".join(f"{k}={v}" for k, v in workload["spec"]["selector"].get("matchLabels", {}).items())


def as_template(pod: Body) -> Body:
    """A pod seen as a workload template, so ``has_resources`` can compare its containers."""
    return {"spec": {"template": {"spec": pod.get("spec") or {}}}}


def workload_state(body: Body, wanted: list[Body]) -> canary.WorkloadState:
    status = body.get("status") or {}
    return canary.WorkloadState(
        replicas=int(body["spec"].get("replicas", 1)),
        available=int(status.get("availableReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        settled=int(status.get("observedGeneration") or 0) >= int(body["metadata"].get("generation") or 0),
        has_new_values=has_resources(body, wanted),
    )


def pod_health(
    pods: list[Body], failed_checks: tuple[str, ...] = (), passed_checks: tuple[str, ...] = ()
) -> canary.CanaryHealth:
    ready = restarts = oom_killed = 0
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        conditions = (pod.get("status") or {}).get("conditions") or []
        ready += any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            restarts += int(container.get("restartCount") or 0)
            states = (container.get("lastState") or {}, container.get("state") or {})
            oom_killed += any((s.get("terminated") or {}).get("reason") == "OOMKilled" for s in states)
    return canary.CanaryHealth(
        ready=ready, restarts=restarts, oom_killed=oom_killed, failed_checks=failed_checks, passed_checks=passed_checks
    )


def availability_floor(original: Body, replicas: int, budgets: list[Body]) -> int:
    """The fewest available pods allowed: every matching PodDisruptionBudget and the rolling update's maxUnavailable."""
    strategy = original["spec"].get("strategy") or {}
    max_unavailable = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", DEFAULT_MAX_UNAVAILABLE)
    return max(plan.min_available(replicas, None, max_unavailable), budget_floor(original, replicas, budgets))


def budget_floor(workload: Body, replicas: int, budgets: list[Body]) -> int:
    """The fewest available pods the PodDisruptionBudgets that select the workload's pods allow (0 without any)."""
    labels = workload["spec"]["template"].get("metadata", {}).get("labels", {})
    floor = 0
    for budget in budgets:
        selector = (budget.get("spec") or {}).get("selector") or {}
        match = selector.get("matchLabels") or {}
        if not match or any(labels.get(k) != v for k, v in match.items()):
            continue
        spec = budget["spec"]
        if "minAvailable" in spec:
            floor = max(floor, plan.min_available(replicas, spec["minAvailable"], None))
        if "maxUnavailable" in spec:
            floor = max(floor, plan.min_available(replicas, None, spec["maxUnavailable"]))
    return floor


async def observe(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    *,
    changes: WorkloadShape,
    replicas: int,
    now: datetime.datetime,
    failed_checks: tuple[str, ...],
    passed_checks: tuple[str, ...] = (),
    rolling: bool = False,
    pods: Gate | None = None,
) -> canary.World | None:
    """What the state machine needs; None when the original Deployment is gone. ``pods``: when a rolling update's
    pods are worth listing (every look without it)."""
    ref = target(rec)
    original = await workloads.get(ref)
    if original is None:
        return None
    wanted = proposed_resources(changes)
    state = workload_state(original, wanted)
    if rolling:
        # No canary, no replica count of kcost's to keep above a floor: the Deployment's pods on the new
        # values are all there is to read (none before the template has them), and only at the looks ``pods``
        # says can learn from them. Three reads a look at most, not six, matter when a thousand rollouts are
        # looked at every few seconds.
        held = pods.held(original, now) if pods is not None and state.has_new_values else None
        if held is not None:
            health = dataclasses.replace(held, failed_checks=failed_checks, passed_checks=passed_checks)
            return canary.World(now=now, original=state, canary=None, health=health, floor=0)
        listed = await workloads.pods(ref.namespace, pod_selector(original)) if state.has_new_values else []
        health = pod_health([p for p in listed if _new_pod(p, wanted)], failed_checks, passed_checks)
        if pods is not None and state.has_new_values:
            pods.listed(now, dataclasses.replace(health, failed_checks=(), passed_checks=()))
        return canary.World(now=now, original=state, canary=None, health=health, floor=0)
    canary_body = await workloads.get(ref.named(canary_name(ref.name)))
    health = canary.CanaryHealth()
    if canary_body is not None:
        health = pod_health(
            await workloads.pods(ref.namespace, pod_selector(canary_body)), failed_checks, passed_checks
        )
    return canary.World(
        now=now,
        original=state,
        canary=workload_state(canary_body, wanted) if canary_body is not None else None,
        health=health,
        floor=availability_floor(original, replicas, await workloads.disruption_budgets(ref.namespace)),
    )


async def act(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    action: Action,
    world: canary.World,
    *,
    changes: WorkloadShape,
    previous: WorkloadShape,
) -> None:
    """Carry out one action; each is idempotent, so repeating it after a crash is harmless."""
    ref = target(rec)
    canary_ref = ref.named(canary_name(ref.name))
    replicas = action.replicas or 0
    if action.kind is ActionKind.CREATE_CANARY:
        original = await workloads.get(ref)
        if original is not None:
            await workloads.create(canary_ref, canary_manifest(original, rec, changes, replicas))
    elif action.kind is ActionKind.SCALE_CANARY:
        await workloads.scale(canary_ref, replicas)
    elif action.kind is ActionKind.SCALE_ORIGINAL:
        await workloads.scale(ref, replicas)
    elif action.kind in (ActionKind.PROMOTE, ActionKind.RESTORE):
        original = await workloads.get(ref)
        if original is None:
            return
        promote = action.kind is ActionKind.PROMOTE
        if promote or world.original.has_new_values:
            shape = changes if promote else previous
            await workloads.apply_containers(ref, POD_SPEC_PATH, overlay(original, shape, exact=not promote))
        # No replica count (a rolling update under an HPA): the replicas are not kcost's to write.
        if action.replicas is not None and world.original.replicas != action.replicas:
            await workloads.scale(ref, action.replicas)
    elif action.kind is ActionKind.DELETE_CANARY:
        await workloads.delete(canary_ref)


async def autoscaled(workloads: WorkloadClient, ref: WorkloadRef) -> bool:
    """A HorizontalPodAutoscaler scales this workload: its replicas are the HPA's, not kcost's."""
    for hpa in await workloads.autoscalers(ref.namespace):
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if target.get("kind") == ref.kind and target.get("name") == ref.name:
            return True
    return False
