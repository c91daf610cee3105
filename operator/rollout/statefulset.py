"""The StatefulSet partition canary against the cluster: what ``partition.decide`` sees, and its actions done.

The canary pods are the StatefulSet's own pods on the new values (its highest
ordinals); they get the label ``kcost.dev/canary`` while the rollout runs, as a
Deployment canary's pods have it, so they can be told apart (and so the dev cluster's
kwok faults reach them). The partition is written by its own field manager
(``kcost-partition``), the containers' resources by ``kcost``.
"""

from __future__ import annotations

import datetime
from typing import Any

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RolloutStatus, WorkloadShape
from kcost.kube.workloads import WorkloadClient
from kcost.operator.rollout import context, deployment, partition
from kcost.operator.rollout.canary import Action, ActionKind

Body = dict[str, Any]


def current_partition(statefulset: Body) -> int:
    """``spec.updateStrategy.rollingUpdate.partition`` (0 when absent, as the API server defaults it)."""
    strategy = statefulset["spec"].get("updateStrategy") or {}
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def on_delete(statefulset: Body) -> bool:
    """Pods change only when deleted: there is no rolling update for kcost to gate."""
    return ((statefulset["spec"].get("updateStrategy") or {}).get("type")) == "OnDelete"


def new_pods(pods: list[Body], wanted: list[Body]) -> list[Body]:
    """The pods (not terminating) whose containers carry the ``wanted`` values."""
    return [
        pod
        for pod in pods
        if not (pod.get("metadata") or {}).get("deletionTimestamp")
        and deployment.has_resources(deployment.as_template(pod), wanted)
    ]


async def observe(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    *,
    changes: WorkloadShape,
    now: datetime.datetime,
    failed_checks: tuple[str, ...],
    passed_checks: tuple[str, ...] = (),
) -> partition.PartitionWorld | None:
    """What the partition canary needs; None when the StatefulSet is gone."""
    ref = deployment.target(rec)
    body = await workloads.get(ref)
    if body is None:
        return None
    wanted = deployment.proposed_resources(changes)
    pods = await workloads.pods(ref.namespace, deployment.pod_selector(body))
    canary = new_pods(pods, wanted)

    def names(selected: list[Body]) -> tuple[str, ...]:
        return tuple(sorted(pod["metadata"]["name"] for pod in selected))

    def marked(pod: Body) -> bool:
        return deployment.CANARY_LABEL in (pod["metadata"].get("labels") or {})

    status = body.get("status") or {}
    replicas = int(body["spec"].get("replicas", 1))
    return partition.PartitionWorld(
        now=now,
        replicas=replicas,
        partition=current_partition(body),
        has_new_values=deployment.has_resources(body, wanted),
        settled=int(status.get("observedGeneration") or 0) >= int(body["metadata"].get("generation") or 0),
        canary_pods=names(canary),
        unmarked=names([pod for pod in canary if not marked(pod)]),
        marked=names([pod for pod in pods if marked(pod)]),
        unready_canary=names([pod for pod in canary if not deployment.pod_health([pod]).ready]),
        health=deployment.pod_health(canary, failed_checks, passed_checks),
        available=int(status.get("availableReplicas") or 0),
        floor=deployment.budget_floor(body, replicas, await workloads.disruption_budgets(ref.namespace)),
    )


async def act(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    action: Action,
    world: partition.PartitionWorld,
    *,
    changes: WorkloadShape,
    previous: WorkloadShape,
) -> None:
    """Carry out one action; each is idempotent, so repeating it after a crash is harmless."""
    ref = deployment.target(rec)
    if action.kind is ActionKind.PARTITION:
        await workloads.set_partition(ref, action.replicas or 0)
    elif action.kind in (ActionKind.PATCH_TEMPLATE, ActionKind.RESTORE):
        body = await workloads.get(ref)
        if body is not None:
            restore = action.kind is ActionKind.RESTORE
            shape = previous if restore else changes
            containers = deployment.overlay(body, shape, exact=restore)
            await workloads.apply_containers(ref, deployment.POD_SPEC_PATH, containers)
    elif action.kind is ActionKind.MARK_CANARY:
        for name in world.unmarked:
            await workloads.label_pod(ref.namespace, name, {deployment.CANARY_LABEL: "true"})
    elif action.kind is ActionKind.UNMARK_CANARY:
        for name in world.marked:
            await workloads.label_pod(ref.namespace, name, {deployment.CANARY_LABEL: None})
    elif action.kind is ActionKind.DELETE_CANARY:
        for name in world.unready_canary:
            await workloads.delete_pod(ref.namespace, name)


async def advance(workloads: WorkloadClient, step: context.StepContext) -> tuple[Action, RolloutStatus] | None:
    """Observe, decide and act once; None when the StatefulSet is gone."""
    rec, changes = step.rec, step.changes
    world = await observe(
        workloads,
        rec,
        changes=changes,
        now=step.now,
        failed_checks=step.failed_checks,
        passed_checks=step.passed_checks,
    )
    if world is None:
        return None
    action, decided = partition.decide(step.rollout, step.strategy, world)
    await act(workloads, rec, action, world, changes=changes, previous=step.previous)
    return action, decided
