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
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import kopf
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import GROUP, VERSION
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube import client as kube_client
from kcost.observability import caches, logs, metrics, tracing
from kcost.operator import analysis, diffbase, leadership, policy, profile, recommendation, retry
from kcost.operator import status as status_io
from kcost.operator.config import OperatorConfig
from kcost.operator.rollout.watched_workloads import WatchedWorkloadClient
from kcost.operator.rollout.worker import RolloutWorker

log = logging.getLogger("kcost.operator")
CONFIG = OperatorConfig.from_env()
Reconcile = Callable[[kube_client.KubeClient, dict[str, Any]], Awaitable[Any]]
# Kopf's success lines of the handlers that run on every watch event or timer tick: not logged
# unless --verbose (their failures are). Filled in as they are registered.
ROUTINE_SUCCESSES: set[str] = set()
EventHandler = Callable[..., Awaitable[None]]


def _on_every_event(group: str, version: str, plural: str) -> Callable[[EventHandler], EventHandler]:
    """``kopf.on.event``, its successes kept out of the log."""

    def register(fn: EventHandler) -> EventHandler:
        ROUTINE_SUCCESSES.add(f"Handler {fn.__name__!r} succeeded.")
        kopf.on.event(group, version, plural, id=fn.__name__)(fn)
        return fn

    return register


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kcost.dev")
    settings.persistence.diffbase_storage = diffbase.ChangeHandledDiffBase(
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
    memo.leadership = leadership.Leadership(lambda: _leading(memo.kube))
    memo.rollouts = RolloutWorker(
        memo.kube,
        WatchedWorkloadClient(memo.kube.api_client),
        _write_rollout(memo.kube),
        lambda: _still_leading(memo),
    )
    memo.reconcile_locks = weakref.WeakValueDictionary()
    memo.recommendation_retries = retry.RetryQueue(lambda key: _retry_recommendation(memo, key))
    memo.telemetry = caches.Caches()
    memo.collector = caches.ClusterCollector(memo.telemetry)
    metrics.add_collector(memo.collector)
    memo.background = [
        asyncio.create_task(memo.rollouts.run(), name="kcost-rollouts"),
        asyncio.create_task(memo.recommendation_retries.run(), name="recommendation retries"),
    ]


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    for task in memo.background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    metrics.remove_collector(memo.collector)
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


async def _still_leading(memo: kopf.Memo) -> bool:
    shared: leadership.Leadership = memo.leadership
    return await shared.leading()


async def _reconcile(fn: Reconcile, body: dict[str, Any], memo: kopf.Memo) -> Any:
    """``fn`` on fresh data after conflicts; a failure mirrored into Ready, then raised as it came."""
    kube: kube_client.KubeClient = memo.kube
    kind = status_io.kind_of(body)
    try:
        return await (retry.on_fresh_data(fn, kube, kind, body) if kind else fn(kube, body))
    except kopf.PermanentError as error:
        await status_io.mirror_error(kube, body, error, status_io.INVALID_SPEC)
        raise
    except (kopf.TemporaryError, kube_client.Conflict, asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as error:
        await status_io.mirror_error(kube, body, kopf.TemporaryError(str(error)), status_io.RECONCILE_ERROR)
        raise


async def _run(fn: Reconcile, body: Mapping[str, Any], memo: kopf.Memo, *, raise_invalid: bool = True) -> None:
    if not await _still_leading(memo):
        return
    try:
        async with _one_at_a_time(memo, dict(body)) as current:
            if current is not None:
                await _reconcile(fn, current, memo)
    except kopf.PermanentError as error:
        if raise_invalid:
            raise
        # From a timer, kopf would stop it for good (a fixed spec would then never be reconciled
        # again until a restart): the error is mirrored into Ready and the next tick retries.
        log.warning("%s", error)
    except kube_client.Conflict as error:
        # Changed through every fresh read: let kopf retry it a little later.
        raise kopf.TemporaryError(f"still changing while being reconciled: {error}", delay=1) from None
    except (kopf.TemporaryError, asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as error:
        # Unexpected: keep retrying with kopf's backoff (Ready says so where users look).
        raise kopf.TemporaryError(f"{type(error).__name__}: {error}", delay=10) from error


@contextlib.asynccontextmanager
async def _one_at_a_time(memo: kopf.Memo, body: dict[str, Any]) -> AsyncIterator[dict[str, Any] | None]:
    """One reconcile of an object at a time (its timer and its events run concurrently in kopf).

    A reconcile that had to wait reads the object again, since the one before it wrote a new
    version (None: it is gone). Without this, both would run a finished run's sweep and post
    its Event twice.
    """
    locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = memo.reconcile_locks
    metadata = body.get("metadata") or {}
    key = (str(body.get("kind")), str(metadata.get("namespace") or ""), str(metadata.get("name")))
    lock = locks.get(key) or locks.setdefault(key, asyncio.Lock())
    waited = lock.locked()
    async with lock:
        kind = status_io.kind_of(body)
        if waited and kind is not None:
            yield await memo.kube.get_raw(kind, key[2], key[1] or None)
        else:
            yield body


def _register(plural: str, fn: Reconcile, interval_s: float) -> None:
    async def handler(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await _run(fn, body, memo)

    async def tick(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await _run(fn, body, memo, raise_invalid=False)

    for cause in (kopf.on.create, kopf.on.update, kopf.on.resume):
        cause(GROUP, VERSION, plural, id=f"reconcile-{plural}")(handler)
    kopf.timer(GROUP, VERSION, plural, id=f"timer-{plural}", interval=interval_s, initial_delay=interval_s / 2)(tick)
    ROUTINE_SUCCESSES.add(f"Timer 'timer-{plural}' succeeded.")


async def _profile(kube: kube_client.KubeClient, body: dict[str, Any]) -> Any:
    return await profile.reconcile(kube, body, CONFIG.prometheus_timeout_s)


_register("analyses", analysis.reconcile, CONFIG.timer_interval_s)


# Recommendations can number tens of thousands: they are handled from the raw watch stream,
# so kopf keeps no finalizer, progress annotation or timer task per object. Each change
# (a new one, an approval) is decided on the spot; the initial listing covers a restart.
# Kopf never retries an event handler: a failed transition goes to the retry queue.
async def _reconcile_recommendation(
    body: dict[str, Any], memo: kopf.Memo, parsed: OptimizationRecommendation | None = None
) -> None:
    """``parsed``: ``body`` as the watch handler parsed it, for the first attempt; a retry's fresh read is parsed
    anew."""

    async def on_data(kube: kube_client.KubeClient, current: dict[str, Any]) -> Any:
        return await recommendation.reconcile(
            kube, current, check_target=False, parsed=parsed if current is body else None
        )

    try:
        # Not through ``_reconcile``: a transient failure is retried from the queue, not mirrored into
        # Ready by another field manager (the controller is Ready's one writer); only an object it
        # cannot parse, which it could never describe itself, is.
        await retry.on_fresh_data(on_data, memo.kube, OptimizationRecommendation, body)
    except kopf.PermanentError as error:
        await status_io.mirror_error(memo.kube, body, error, status_io.INVALID_SPEC)
        log.warning("%s", error)  # the object's next change brings it back


async def handle_recommendation(
    body: dict[str, Any], memo: kopf.Memo, parsed: OptimizationRecommendation | None = None
) -> None:
    """Reconcile one recommendation from the watch stream; a failure is queued for a retry, never raised to kopf."""
    key = retry.key_of(body)
    queue: retry.RetryQueue = memo.recommendation_retries
    if not await _still_leading(memo):
        return
    try:
        await _reconcile_recommendation(body, memo, parsed)
    except kube_client.Conflict:
        delay_s = queue.schedule(key)
        log.debug("recommendation %s kept changing; retrying in %.0f s", "/".join(key), delay_s)
    except Exception as error:  # noqa: BLE001 - any failure is retried from the queue
        delay_s = queue.schedule(key)
        log.error("recommendation %s: %s: %s; retrying in %.0f s", "/".join(key), type(error).__name__, error, delay_s)
    else:
        queue.forget(key)  # a retry due from an older failure has nothing left to do


async def _retry_recommendation(memo: kopf.Memo, key: retry.Key) -> None:
    """A queued retry: the object read again, reconciled; a failure goes back to the queue."""
    if not await _still_leading(memo):
        return  # the leader's own watch handles it
    body = await memo.kube.get_raw(OptimizationRecommendation, key[1], key[0])
    if body is not None:
        await _reconcile_recommendation(body, memo)


async def on_recommendation_event(
    event_type: str, body: dict[str, Any], memo: kopf.Memo, parsed: OptimizationRecommendation | None = None
) -> None:
    """One event of the recommendations' watch stream (``parsed``: its object, if already parsed)."""
    if event_type == "DELETED":
        memo.recommendation_retries.forget(retry.key_of(body))
        return
    await handle_recommendation(body, memo, parsed)


@_on_every_event(GROUP, VERSION, "optimizationrecommendations")
async def _recommendation_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    body = dict(event["object"])
    # One parse for the metrics cache and the controller: a run brings thousands of events.
    parsed = None if event["type"] == "DELETED" else _parsed_or_none(body)
    memo.telemetry.recommendations.observe(event["type"], body, parsed)
    await on_recommendation_event(event["type"] or "", body, memo, parsed)
    _note_leadership(memo)
    memo.rollouts.delivered(event["type"] or "", body)


def _parsed_or_none(body: dict[str, Any]) -> OptimizationRecommendation | None:
    """The recommendation, or None when it is invalid (the controller parses it again to say why)."""
    try:
        return OptimizationRecommendation.model_validate(body)
    except ValidationError:
        return None


# A rollout looks again as soon as its Deployment (or canary) changes, not at its next poll.
@_on_every_event("apps", "v1", "deployments")
async def _deployment_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.rollouts.workload_changed(event["type"] or "", "Deployment", dict(event["object"]))


def _write_rollout(
    kube: kube_client.KubeClient,
) -> Callable[[OptimizationRecommendation, OptimizationRecommendation], Awaitable[dict[str, Any]]]:
    async def write(_: OptimizationRecommendation, updated: OptimizationRecommendation) -> dict[str, Any]:
        return await status_io.apply_status(kube, updated, recommendation.operator_part(updated))

    return write


_register("optimizationpolicies", policy.reconcile, CONFIG.timer_interval_s * 6)
_register("clustercostprofiles", _profile, CONFIG.timer_interval_s * 6)


# Ready follows the cost analyzer's PricingReady as soon as it is written, not on the next
# tick; the operator stays the one writer of Ready. Profiles are few: every event is cheap.
@_on_every_event(GROUP, VERSION, "clustercostprofiles")
async def _profile_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    memo.telemetry.profiles.observe(event["type"], event["object"])
    if event["type"] in ("ADDED", "MODIFIED"):
        await _run(profile.follow_pricing, event["object"], memo, raise_invalid=False)
    _note_leadership(memo)


def _note_leadership(memo: kopf.Memo) -> None:
    # Only the leader reports the cluster gauges (every replica's watches see the same objects).
    known = memo.leadership.known
    if known is not None:
        memo.telemetry.leading = known


@_on_every_event(GROUP, VERSION, "analyses")
async def _analysis_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    ended = memo.telemetry.analyses.observe(event["type"], event["object"])
    memo.telemetry.leading = await _still_leading(memo)
    if ended is not None and memo.telemetry.leading:
        caches.emit_run_span(ended)
    if event["type"] == "MODIFIED" and memo.telemetry.leading:
        await _finish_settled_run(dict(event["object"]), memo)


async def _finish_settled_run(body: dict[str, Any], memo: kopf.Memo) -> None:
    """End a run as soon as its last analyzer reports, not at the Analysis's next timer tick.

    Kopf's update handlers ignore status changes, and an analyzer writes only its status section.
    """
    try:
        settled = analysis.analyzers_settled(Analysis.model_validate(body))
    except ValueError:
        return  # an invalid Analysis is reported by its reconcile, not here
    if not settled:
        return
    try:
        await _run(analysis.reconcile, body, memo, raise_invalid=False)
    except kopf.TemporaryError as error:
        # Kopf never retries an event handler; the timer tick ends the run instead.
        log.info("Analysis %s: run not ended yet, left to the next tick: %s", body["metadata"].get("name"), error)


async def run() -> None:
    """Run the operator until cancelled (``kcost operator``), with ``/metrics`` on ``KCOST_METRICS_PORT``."""
    tracing.setup("kcost-operator")
    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # --verbose keeps every line
        logging.getLogger("kopf.objects").addFilter(logs.RoutineLines(ROUTINE_SUCCESSES))
    try:
        async with metrics.serve(CONFIG.metrics_port):
            await kopf.operator(
                clusterwide=True,
                peering_name=CONFIG.peering_name,
                priority=CONFIG.priority,
                liveness_endpoint=CONFIG.liveness_endpoint,
            )
    finally:
        tracing.shutdown()
