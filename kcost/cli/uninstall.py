"""``python -m kcost.cli.uninstall``: delete kcost's objects while the operator still runs.

The chart's pre-delete hook. kopf keeps its finalizer (``kcost.dev/finalizer``) on every kind
with a timer: Analyses, ClusterCostProfiles and OptimizationPolicies. Only a running operator
takes it off, so they are deleted, and waited for, before helm removes the operator.
Recommendations go with their Analysis (the garbage collector follows), but one whose
rollout is half-way holds the operator's ``kcost.dev/rollout`` finalizer until its rollback
ends: those are waited for too, or they would block their namespace's deletion forever.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import Resource
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import ROLLOUT_FINALIZER, OptimizationRecommendation
from kcost.kube.client import KubeClient, connect

WITH_FINALIZERS: tuple[type[Resource], ...] = (Analysis, ClusterCostProfile, OptimizationPolicy)
POLL_S = 1.0


class ObjectsLeftError(RuntimeError):
    """Objects still there at the deadline: the operator did not take its finalizer off."""


async def _objects(kube: KubeClient) -> list[tuple[type[Resource], dict[str, Any]]]:
    """Every object of the kinds with kopf's finalizer, with its kind (none of a kind whose CRD is gone)."""
    found: list[tuple[type[Resource], dict[str, Any]]] = []
    for kind in WITH_FINALIZERS:
        try:
            bodies = await kube.list_raw(kind)
        except ApiException as error:
            if error.status != 404:
                raise
            continue
        found += [(kind, body) for body in bodies]
    return found


async def _rolling_back(kube: KubeClient) -> list[dict[str, Any]]:
    """Recommendations that still hold the rollout's finalizer (none when the CRD is gone)."""
    try:
        bodies = await kube.list_raw(OptimizationRecommendation)
    except ApiException as error:
        if error.status != 404:
            raise
        return []
    return [body for body in bodies if ROLLOUT_FINALIZER in (body["metadata"].get("finalizers") or [])]


async def _remaining(kube: KubeClient) -> list[str]:
    """``Kind/name`` of what the operator has yet to finish: objects with its finalizers (none when a CRD is gone)."""
    named = [f"{kind.crd.kind}/{body['metadata']['name']}" for kind, body in await _objects(kube)]
    return named + [
        f"OptimizationRecommendation/{body['metadata'].get('namespace')}/{body['metadata']['name']}"
        for body in await _rolling_back(kube)
    ]


async def delete_all(kube: KubeClient, *, timeout_s: float) -> int:
    """Delete every object of the kinds with kopf's finalizer and wait until they are gone; how many there were."""
    objects = await _objects(kube)
    for kind, body in objects:
        await kube.delete(kind, body["metadata"]["name"], body["metadata"].get("namespace"))
    deleted = len(objects)
    deadline = time.monotonic() + timeout_s
    while left := await _remaining(kube):
        if time.monotonic() > deadline:
            raise ObjectsLeftError(
                f"still there after {timeout_s:.0f} s: {', '.join(sorted(left))}; the kcost operator removes its"
                f" finalizers kcost.dev/finalizer and {ROLLOUT_FINALIZER} (the latter once a half-way rollout is"
                " rolled back): is it running? (without it: kubectl patch … --type=merge"
                ' -p \'{"metadata":{"finalizers":null}}\')'
            )
        await asyncio.sleep(POLL_S)
    return deleted


@click.command()
@click.option("--timeout", "timeout_s", default=120.0, show_default=True, help="Seconds to wait for the deletions.")
def main(timeout_s: float) -> None:
    """Delete every Analysis, ClusterCostProfile and OptimizationPolicy, and wait until they are gone."""

    async def run() -> int:
        async with connect() as kube:
            return await delete_all(kube, timeout_s=timeout_s)

    try:
        deleted = asyncio.run(run())
    except ObjectsLeftError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"deleted {deleted} kcost objects; none left")


if __name__ == "__main__":
    main()
