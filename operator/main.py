"""kopf registrations only: each handler delegates to the reconcile of its kind.

Every kind is reconciled on create, update and resume, and on a timer, by one
idempotent ``reconcile()`` (recommendations, which can be tens of thousands, on every
watch event instead); handler errors are mirrored into the Ready condition.
Kopf keeps its own state under the ``kcost.dev/`` annotation prefix. Replicas meet
in the ClusterKopfPeering named by ``KCOST_PEERING_NAME``; each gets a distinct
priority, so exactly one acts and another takes over when it goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.common import GROUP, VERSION
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube import client as kube_client
from kcost.operator import analysis, policy, profile, recommendation
from kcost.operator import status as status_io
from kcost.operator.config import OperatorConfig
from kcost.operator.rollout.worker import RolloutWorker

log = logging.getLogger("kcost.operator")
CONFIG = OperatorConfig.from_env()
Reconcile = Callable[[kube_client.KubeClient, dict[str, Any]], Awaitable[Any]]


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kcost.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kcost.dev", key="last-handled-configuration"
    )
    settings.persistence.finalizer = "kcost.dev/finalizer"
    settings.peering.name = CONFIG.peering_name
    settings.peering.priority = CONFIG.priority
    settings.peering.lifetime = CONFIG.peering_lifetime_s
    settings.peering.mandatory = True
    settings.peering.clusterwide = True
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 120
    memo.kube_context = kube_client.connect()
    memo.kube = await memo.kube_context.__aenter__()
    await _ensure_peering(memo.kube)
    memo.rollouts = RolloutWorker(
        memo.kube, memo.kube.workloads, _write_rollout(memo.kube), lambda: _still_leading(memo)
    )
    memo.rollout_task = asyncio.create_task(memo.rollouts.run(), name="kcost-rollouts")


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    memo.rollout_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.rollout_task
    await memo.kube_context.__aexit__(None, None, None)


async def _ensure_peering(kube: kube_client.KubeClient) -> None:
    await kube.ensure_cluster_peering(CONFIG.peering_name)


async def _leading(kube: kube_client.KubeClient) -> bool:
    """No live replica in the peering has a higher priority than this one.

    Kopf pauses a replica once it has seen a higher one; this closes the window at
    start-up, before the first peering event arrives, when both could act.
    """
    try:
        peering = await kube.get_cluster_peering(CONFIG.peering_name) or {}
    except ApiException:
        return True  # kopf itself insists on the peering object; without it there is nobody to defer to
    now = datetime.datetime.now(datetime.UTC)
    for peer in (peering.get("status") or {}).values():
        if not isinstance(peer, dict) or int(peer.get("priority", 0)) <= CONFIG.priority:
            continue
        seen = datetime.datetime.fromisoformat(str(peer.get("lastseen")))
        seen = seen if seen.tzinfo else seen.replace(tzinfo=datetime.UTC)
        if seen + datetime.timedelta(seconds=int(peer.get("lifetime", 60))) > now:
            return False
    return True


# One peering read serves every reconcile for this long (thousands of objects share it).
LEADERSHIP_TTL_S = 2.0


async def _still_leading(memo: kopf.Memo) -> bool:
    now = asyncio.get_running_loop().time()
    checked_at, leading = memo.get("leadership", (float("-inf"), True))
    if now - checked_at > LEADERSHIP_TTL_S:
        leading = await _leading(memo.kube)
        memo["leadership"] = (now, leading)
    return bool(leading)


async def _run(fn: Reconcile, body: kopf.Body, memo: kopf.Memo) -> None:
    if not await _still_leading(memo):
        return
    raw = dict(body)
    try:
        await fn(memo.kube, raw)
    except kopf.PermanentError as error:
        await status_io.mirror_error(memo.kube, raw, error, "InvalidSpec")
        raise
    except kopf.TemporaryError:
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as error:
        # Unexpected: keep retrying with kopf's backoff, and say so where users look.
        await status_io.mirror_error(memo.kube, raw, kopf.TemporaryError(str(error)), "ReconcileError")
        raise kopf.TemporaryError(f"{type(error).__name__}: {error}", delay=10) from error


def _register(plural: str, fn: Reconcile, interval_s: float) -> None:
    async def handler(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await _run(fn, body, memo)

    for cause in (kopf.on.create, kopf.on.update, kopf.on.resume):
        cause(GROUP, VERSION, plural, id=f"reconcile-{plural}")(handler)
    kopf.timer(GROUP, VERSION, plural, id=f"timer-{plural}", interval=interval_s, initial_delay=interval_s / 2)(handler)


async def _profile(kube: kube_client.KubeClient, body: dict[str, Any]) -> Any:
    return await profile.reconcile(kube, body, CONFIG.prometheus_timeout_s)


_register("analyses", analysis.reconcile, CONFIG.timer_interval_s)


# Recommendations can number tens of thousands: they are handled from the raw watch stream,
# so kopf keeps no finalizer, progress annotation or timer task per object. Each change
# (a new one, an approval) is decided on the spot; the initial listing covers a restart.
@kopf.on.event(GROUP, VERSION, "optimizationrecommendations")
async def _recommendation_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    if event["type"] == "DELETED":
        return

    async def on_change(kube: kube_client.KubeClient, body: dict[str, Any]) -> Any:
        return await recommendation.reconcile(kube, body, check_target=False)

    await _run(on_change, kopf.Body(event["object"]), memo)
    if memo.rollouts.wants(event["object"]):
        metadata = event["object"].get("metadata", {})
        memo.rollouts.wake(metadata.get("namespace", ""), metadata.get("name", ""))


def _write_rollout(
    kube: kube_client.KubeClient,
) -> Callable[[OptimizationRecommendation, OptimizationRecommendation], Awaitable[None]]:
    async def write(_: OptimizationRecommendation, updated: OptimizationRecommendation) -> None:
        await status_io.apply_status(kube, updated, recommendation.operator_part(updated))

    return write


_register("optimizationpolicies", policy.reconcile, CONFIG.timer_interval_s * 6)
_register("clustercostprofiles", _profile, CONFIG.timer_interval_s * 6)


async def run() -> None:
    """Run the operator until cancelled (``kcost operator``)."""
    await kopf.operator(
        clusterwide=True,
        peering_name=CONFIG.peering_name,
        priority=CONFIG.priority,
        liveness_endpoint=CONFIG.liveness_endpoint,
    )
