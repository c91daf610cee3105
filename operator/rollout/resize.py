"""In-place resize against the cluster: the pods as ``in_place.decide`` sees them, and its actions done.

Pods are resized through their ``resize`` subresource with a strategic merge patch of
their containers' resources; the template of the workload is written as everywhere
else (server-side apply, field manager ``kcost``).
"""

from __future__ import annotations

from typing import Any

from kcost.api.v1alpha1.common import parse_quantity
from kcost.api.v1alpha1.recommendation import RolloutStatus
from kcost.kube.workloads import ResizeRefused, WorkloadClient
from kcost.operator.rollout import context, deployment, in_place, statefulset
from kcost.operator.rollout.canary import Action, ActionKind

Body = dict[str, Any]
RESOURCES = ("cpu", "memory")
# The kinds whose pods can be resized in place, and the rolling update each falls back to.
FALLBACK_OF_KIND = {"Deployment": "rolling", "StatefulSet": "partition", "DaemonSet": "rolling"}


def _values(resources: Body | None) -> dict[tuple[str, str], float]:
    """CPU and memory requests and limits as numbers, the only resources a resize changes."""
    values = {}
    for section in ("requests", "limits"):
        for resource in RESOURCES:
            quantity = ((resources or {}).get(section) or {}).get(resource)
            if quantity is not None:
                values[section, resource] = parse_quantity(quantity)
    return values


def qos_class(containers: list[Body]) -> str:
    """The pod's QoS class from its containers' CPU and memory (requests default to limits, as in the API)."""
    values = [_values(container.get("resources")) for container in containers]
    if not any(values):
        return "BestEffort"
    guaranteed = all(
        ("limits", resource) in value
        and value.get(("requests", resource), value["limits", resource]) == value["limits", resource]
        for value in values
        for resource in RESOURCES
    )
    return "Guaranteed" if guaranteed else "Burstable"


def qos_change(workload: Body, step: context.StepContext) -> str | None:
    """Why the new values cannot be set in place because the QoS class would change; None when it stays."""
    before = qos_class(workload["spec"]["template"]["spec"].get("containers", []))
    after = qos_class(deployment.overlay(workload, step.changes, exact=False))
    return None if before == after else f"the QoS class would change from {before} to {after}"


def actuated(pod: Body) -> bool:
    """The kubelet reports for every container the CPU and memory its spec asks for."""
    reported = {s["name"]: s.get("resources") for s in (pod.get("status") or {}).get("containerStatuses") or []}
    return all(
        container["name"] in reported and _values(reported[container["name"]]) == _values(container.get("resources"))
        for container in pod["spec"].get("containers", [])
    )


def refusal(pod: Body) -> str | None:
    """Why the kubelet has not actuated the resize: PodResizePending (Deferred, Infeasible) or a failed one."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "PodResizePending":
            return f"PodResizePending {condition.get('reason')}: {condition.get('message', '')}".rstrip(": ")
        if condition.get("type") == "PodResizeInProgress" and condition.get("reason") == "Error":
            return f"resize failed: {condition.get('message', '')}"
    return None


def pod_size(pod: Body, wanted: list[Body], old: list[Body]) -> in_place.PodSize:
    done = actuated(pod)
    as_template = deployment.as_template(pod)
    return in_place.PodSize(
        name=pod["metadata"]["name"],
        on_new_values=deployment.has_resources(as_template, wanted),
        on_old_values=deployment.has_resources(as_template, old),
        actuated=done,
        refused=None if done else refusal(pod),
    )


async def _pods(workloads: WorkloadClient, workload: Body) -> list[Body]:
    """The workload's running pods (never a Deployment canary's, never one being deleted)."""
    pods = await workloads.pods(workload["metadata"]["namespace"], deployment.pod_selector(workload))
    return [
        pod
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
        and deployment.CANARY_LABEL not in (pod["metadata"].get("labels") or {})
    ]


async def advance(workloads: WorkloadClient, step: context.StepContext) -> tuple[Action, RolloutStatus] | None:
    """Observe, decide and act once; None when the workload is gone."""
    ref = deployment.target(step.rec)
    workload = await workloads.get(ref)
    if workload is None:
        return None
    wanted = deployment.proposed_resources(step.changes)
    old = deployment.proposed_resources(step.previous)
    pods = await _pods(workloads, workload)
    sizes = tuple(pod_size(pod, wanted, old) for pod in pods)
    world = in_place.ResizeWorld(
        now=step.now,
        pods=sizes,
        template_new=deployment.has_resources(workload, wanted),
        health=deployment.pod_health(statefulset.new_pods(pods, wanted), step.failed_checks, step.passed_checks),
        qos_change=qos_change(workload, step),
        fallback=FALLBACK_OF_KIND.get(ref.kind, "rolling"),
    )
    action, decided = in_place.decide(step.rollout, step.strategy, world)
    by_name = {pod["metadata"]["name"]: pod for pod in pods}
    if action.kind is ActionKind.RESIZE:
        try:
            for size in world.pending(new=True):
                containers = deployment.overlay(deployment.as_template(by_name[size.name]), step.changes, exact=False)
                await workloads.resize_pod(ref.namespace, size.name, containers)
        except ResizeRefused as refused:
            return in_place.fall_back(step.rollout, world, str(refused))
    elif action.kind is ActionKind.RESTORE:
        if world.template_new:
            containers = deployment.overlay(workload, step.previous, exact=True)
            await workloads.apply_containers(ref, deployment.POD_SPEC_PATH, containers)
        for size in world.pending(new=False):
            containers = deployment.overlay(deployment.as_template(by_name[size.name]), step.previous, exact=True)
            try:
                await workloads.resize_pod(ref.namespace, size.name, containers)
            except ResizeRefused:  # replaced instead: its controller recreates it from the restored template
                await workloads.delete_pod(ref.namespace, size.name)
    elif action.kind is ActionKind.PROMOTE:
        containers = deployment.overlay(workload, step.changes, exact=False)
        await workloads.apply_containers(ref, deployment.POD_SPEC_PATH, containers)
    elif action.kind is ActionKind.DELETE_CANARY:
        for size in sizes:
            if size.refused:
                await workloads.delete_pod(ref.namespace, size.name)
    return action, decided
