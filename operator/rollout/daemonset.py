"""A DaemonSet's rolling update gated by health: ``rolling.decide`` on what the DaemonSet shows.

A DaemonSet runs one pod per node, so there is no share of pods to move and no canary:
the template is patched (field manager ``kcost``), the DaemonSet's own rolling update
replaces the pods node by node within its ``maxUnavailable``, and kcost watches the
pods on the new values (Ready, restarts, OOMKilled, the policy's PromQL checks) until
every scheduled pod is updated and available, then for the strategy's whole duration.
Anything unhealthy restores the template, which rolls the pods back the same way.
"""

from __future__ import annotations

import datetime
from typing import Any

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RolloutStatus, WorkloadShape
from kcost.kube.workloads import WorkloadClient
from kcost.operator.rollout import canary, context, deployment, rolling, statefulset
from kcost.operator.rollout.canary import Action, ActionKind

Body = dict[str, Any]


def daemonset_state(body: Body, wanted: list[Body]) -> canary.WorkloadState:
    """Its pods as replicas: one per node it is scheduled on."""
    status = body.get("status") or {}
    return canary.WorkloadState(
        replicas=int(status.get("desiredNumberScheduled") or 0),
        available=int(status.get("numberAvailable") or 0),
        updated=int(status.get("updatedNumberScheduled") or 0),
        settled=int(status.get("observedGeneration") or 0) >= int(body["metadata"].get("generation") or 0),
        has_new_values=deployment.has_resources(body, wanted),
    )


async def observe(
    workloads: WorkloadClient,
    rec: OptimizationRecommendation,
    *,
    changes: WorkloadShape,
    now: datetime.datetime,
    failed_checks: tuple[str, ...],
    passed_checks: tuple[str, ...] = (),
) -> canary.World | None:
    """What the gated rolling update needs; None when the DaemonSet is gone."""
    ref = deployment.target(rec)
    body = await workloads.get(ref)
    if body is None:
        return None
    wanted = deployment.proposed_resources(changes)
    pods = statefulset.new_pods(await workloads.pods(ref.namespace, deployment.pod_selector(body)), wanted)
    return canary.World(
        now=now,
        original=daemonset_state(body, wanted),
        canary=None,
        health=deployment.pod_health(pods, failed_checks, passed_checks),
        floor=0,
    )


async def advance(workloads: WorkloadClient, step: context.StepContext) -> tuple[Action, RolloutStatus] | None:
    """Observe, decide and act once; None when the DaemonSet is gone."""
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
    action, decided = rolling.decide(step.rollout, step.strategy, world)
    if action.kind in (ActionKind.PROMOTE, ActionKind.RESTORE):
        # No replica count in the action: a DaemonSet has none, so only the template is written.
        await deployment.act(workloads, rec, action, world, changes=changes, previous=step.previous)
    return action, decided
