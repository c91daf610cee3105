"""The rollout's finalizer: a recommendation deleted mid-rollout rolls the workload back before it goes.

A rollout's state lives only in the recommendation's status (``status.previous``, the
stage, the canary's name), so a recommendation deleted while Applying would take with
it all that says how to restore the workload: a StatefulSet left at a lowered
partition with some pods on the new values, a Deployment scaled down beside its
canary, pods resized in place under an old template. The worker puts
``kcost.dev/rollout`` on such a recommendation before its first change to the workload
and takes it off once the rollout has ended (Applied, RolledBack or Failed); a
deletion in between turns the rollout into a rollback, and the object goes when that
is done. Written by its own field manager, so taking it off leaves any other finalizer
in place.

A gated rolling update (an HPA-scaled Deployment, a DaemonSet) or a CronJob's job
template is whole at every moment: the workload's own controller finishes the update,
so a deletion there only stops kcost watching it, and costs no finalizer's two writes.
"""

from __future__ import annotations

import contextlib

from kcost.api.v1alpha1.recommendation import ROLLOUT_FINALIZER, OptimizationRecommendation
from kcost.kube.client import KubeClient, NotFound

FINALIZER = ROLLOUT_FINALIZER
FIELD_MANAGER = "kcost-rollout-finalizer"
DELETED_REASON = "the recommendation was deleted during the rollout"
# Strategies (RolloutStatus.strategy) whose steps leave a workload half-changed.
HALF_CHANGED_STRATEGIES = frozenset({"canary", "partition", "in-place"})


def held(metadata: dict[str, object]) -> bool:
    """The recommendation (its metadata) carries the rollout's finalizer."""
    finalizers = metadata.get("finalizers") or []
    return isinstance(finalizers, list) and FINALIZER in finalizers


def needed(rec: OptimizationRecommendation) -> bool:
    """The rollout about to start leaves the workload half-changed between its steps."""
    rollout = rec.status.rollout
    return rollout is not None and rollout.strategy in HALF_CHANGED_STRATEGIES


def deleting(rec: OptimizationRecommendation) -> bool:
    return bool(rec.metadata.get("deletionTimestamp"))


def _body(rec: OptimizationRecommendation, finalizers: list[str]) -> dict[str, object]:
    # The uid makes this a precondition: a recommendation deleted and created again is not held by mistake.
    metadata = {"name": rec.name, "namespace": rec.namespace, "uid": rec.uid, "finalizers": finalizers}
    return {"metadata": metadata}


async def hold(kube: KubeClient, rec: OptimizationRecommendation) -> OptimizationRecommendation:
    """Keep the recommendation until its rollout has ended; the recommendation as it is now (its new
    resourceVersion, which the status write that follows is conditional on)."""
    if held(rec.metadata):
        return rec
    body = await kube.apply(OptimizationRecommendation, _body(rec, [FINALIZER]), field_manager=FIELD_MANAGER)
    return rec.model_copy(update={"metadata": body["metadata"]})


async def release(kube: KubeClient, rec: OptimizationRecommendation) -> None:
    """Let the recommendation go (a deleted one is then removed); one already gone is no error."""
    if not held(rec.metadata):
        return
    with contextlib.suppress(NotFound):
        await kube.apply(OptimizationRecommendation, _body(rec, []), field_manager=FIELD_MANAGER)
