"""Reconcile an OptimizationPolicy: resolve the namespaces it covers and report them."""

from __future__ import annotations

from typing import Any

from kcost.api.scope import select_namespaces
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.kube.client import KubeClient
from kcost.operator import status as status_io


def operator_part(policy: OptimizationPolicy) -> dict[str, Any]:
    part = policy.status.to_api()
    part["conditions"] = status_io.owned_conditions(policy.status.conditions, {status_io.READY})
    return part


async def reconcile(kube: KubeClient, body: dict[str, Any]) -> OptimizationPolicy:
    policy = status_io.parse(OptimizationPolicy, body)
    matched = select_namespaces(policy.spec.namespaces, policy.spec.namespace_selector, await kube.namespaces())
    status = policy.status.model_copy(deep=True)
    status.matched_namespaces = matched
    status.observed_generation = policy.generation
    message = f"{policy.spec.mode.value} in {len(matched)} namespaces" if matched else "matches no namespace yet"
    status.conditions = status_io.ready(status.conditions, True, "Resolved", message, policy.generation)
    updated = policy.model_copy(update={"status": status})
    if operator_part(updated) != operator_part(policy):
        await status_io.apply_status(kube, updated, operator_part(updated))
    return updated
