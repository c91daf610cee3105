"""The operator's rollout worker: every Approved or Applying recommendation, advanced on its own schedule.

Recommendations can number tens of thousands, but only the few being applied need
attention every second, so they get it here rather than a kopf timer (and finalizer)
each. The watch stream wakes a recommendation when it is approved or changes; the
worker then calls it back when its rollout asks to be looked at again. State is only
ever in the recommendation's status, so a restarted operator rebuilds this queue
from the initial listing of the watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from kcost.analyzers.contract import AnalyzerError
from kcost.analyzers.cost import unit_rates
from kcost.analyzers.cost.pricer import PricerFactory
from kcost.analyzers.metrics import prometheus
from kcost.api import matching
from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.policy import OptimizationPolicy, PolicyMode, RolloutStrategy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import (
    OptimizationRecommendation,
    RecommendationPhase,
    RolloutStage,
)
from kcost.config import Config
from kcost.history.buffer import BufferedWriter
from kcost.history.models import HistoryTable
from kcost.history.store import HistoryStore
from kcost.kube.client import Body, Conflict, KubeClient, parse
from kcost.observability import tracing
from kcost.operator.rollout import (
    approver,
    controller,
    deployment,
    finalizer,
    pod_looks,
    promql_checks,
    verify,
    watched,
)
from kcost.operator.rollout.watched_workloads import WatchedWorkloadClient

log = logging.getLogger("kcost.operator.rollout")
Key = tuple[str, str]
ACTIVE_PHASES = frozenset({RecommendationPhase.APPROVED, RecommendationPhase.APPLYING})
# Where a rollout has ended: its finalizer comes off.
ENDED_PHASES = frozenset({RecommendationPhase.APPLIED, RecommendationPhase.ROLLED_BACK, RecommendationPhase.FAILED})
# Rollouts advanced at once; the rest wait their turn.
CONCURRENCY = 64
RETRY_AFTER_ERROR_S = 5.0
POLICY_CACHE_S = 2.0
# Where new values are live and watched: a policy's PromQL checks are evaluated then.
WATCHED_STAGES = frozenset({RolloutStage.SCALING, RolloutStage.OBSERVING})
# A Prometheus that does not answer the verification is asked again this much later.
RETRY_MEASUREMENT_S = 60.0
# A workload's change wakes its rollout this much later: the events of one rolling update come in a burst, and
# the burst is worth one look, not one per event.
WORKLOAD_SETTLE_S = 1.0


class RolloutWorker:
    """A due-time queue of recommendations under rollout, drained by a bounded number of tasks."""

    def __init__(
        self,
        kube: KubeClient,
        workloads: WatchedWorkloadClient,
        write: Callable[[OptimizationRecommendation, OptimizationRecommendation], Awaitable[Body]],
        leading: Callable[[], Awaitable[bool]],
        config: Config | None = None,
    ) -> None:
        self._kube = kube
        self._config = config or Config.from_env()
        self._workloads = workloads
        self._write = write
        self._leading = leading
        self._due: dict[Key, float] = {}
        self._running: set[Key] = set()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._policy_cache: list[OptimizationPolicy] = []
        # Namespace → labels, refreshed with the policies: policy matching reads them for every decision.
        self._namespaces: dict[str, dict[str, str]] = {}
        self._auto_apply_policies: set[tuple[str, int]] = set()
        # The labels of each workload under rollout, read when it started (policy matching reads them every look).
        self._workload_labels: dict[Key, dict[str, str]] = {}
        # One client per profile (its Secrets read once), rebuilt when the profile's spec changes.
        self._prometheus: dict[str, tuple[int, prometheus.PrometheusClient]] = {}
        # Catalogs and last known prices, kept across measurements (one per profile).
        self._pricers = PricerFactory(kube)
        self._history_store = HistoryStore()
        self._history = BufferedWriter(self._history_store)
        self._history_started = False
        # Recommendations under rollout as last delivered: a look reads none while the watch keeps up.
        self._watched = watched.WatchedBodies()
        # The workload each rollout under way changes → its recommendation, woken when the workload changes.
        self._rollout_of: dict[tuple[str, str, str], Key] = {}
        # When each rolling update's pods were last listed: its Deployment's changes need not list them every time.
        self._pod_looks = pod_looks.PodLooks()

    def wake(self, namespace: str, name: str, after_s: float = 0.0) -> None:
        due = asyncio.get_running_loop().time() + after_s
        key = (namespace, name)
        self._due[key] = min(due, self._due.get(key, due))
        self._wake.set()

    def delivered(self, event_type: str, body: dict[str, Any]) -> None:
        """A recommendation from the watch stream: kept while approved or applying, so its next look need not read
        it; woken when it is the worker's business."""
        key = watched.key_of(body)
        if event_type == "DELETED":
            self._watched.forget(key)
        else:
            phase = (body.get("status") or {}).get("phase")
            self._watched.delivered(body, keep=phase in {p.value for p in ACTIVE_PHASES})
        if self.wants(body):
            self.wake(*key)

    def workload_changed(self, event_type: str, kind: str, body: dict[str, Any]) -> None:
        """A workload's watch event: kept for the rollout changing it (if any), which looks again now rather than at
        its next poll, deciding on this body rather than a read."""
        metadata = body.get("metadata") or {}
        key = self._rollout_of.get((kind, metadata.get("namespace") or "", metadata.get("name") or ""))
        if key is not None:
            self._workloads.delivered(event_type, kind, body)
            self.wake(*key, after_s=WORKLOAD_SETTLE_S)

    def wants(self, body: dict[str, Any]) -> bool:
        """Whether a recommendation is the worker's business: approved, applying, asked to roll back,
        a proposal while an auto-apply policy exists, or one still held by the rollout's finalizer."""
        if finalizer.held(body.get("metadata") or {}):
            return True
        phase = (body.get("status") or {}).get("phase")
        approval = (body.get("spec") or {}).get("approval") or {}
        if phase == RecommendationPhase.PROPOSED.value:
            return bool(self._auto_apply_policies) or bool(approval.get("approved"))
        if phase == RecommendationPhase.APPLIED.value:
            return bool(approval.get("rollback")) or not (body.get("status") or {}).get("realized")
        return phase in {p.value for p in ACTIVE_PHASES}

    async def run(self) -> None:
        """Drain the queue until cancelled; keep the policies fresh meanwhile."""
        refresher = asyncio.create_task(self._refresh_policies(), name="kcost-policy-refresh")
        try:
            await self._drain()
        finally:
            refresher.cancel()
            await self._history.close()
            await self._history_store.close()

    async def _refresh_policies(self) -> None:
        """Re-read the policies every few seconds; when the auto-apply ones change, reconsider every proposal."""
        while True:
            try:
                self._policy_cache = await self._kube.list(OptimizationPolicy)
                self._namespaces = await self._namespace_map()
                auto = {(p.name, p.generation) for p in self._policy_cache if p.spec.mode is PolicyMode.AUTO_APPLY}
                if auto and auto != self._auto_apply_policies and await self._leading():
                    async for rec in self._kube.iter(OptimizationRecommendation):
                        if rec.status.phase is RecommendationPhase.PROPOSED:
                            self.wake(rec.namespace or "", rec.name)
                self._auto_apply_policies = auto
            except Exception:
                log.exception("could not read the optimization policies; retrying")
            await asyncio.sleep(POLICY_CACHE_S)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        while True:
            self._wake.clear()  # before scanning, so a wake during the scan is not lost
            now = loop.time()
            for key in [k for k, due in self._due.items() if due <= now and k not in self._running]:
                del self._due[key]
                self._running.add(key)
                task = asyncio.create_task(self._advance(key))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            pending = [due for key, due in self._due.items() if key not in self._running]
            timeout = max(0.05, min(pending) - now) if pending else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _advance(self, key: Key) -> None:
        namespace, name = key
        try:
            async with self._slots:
                recheck = await self._advance_one(namespace, name)
        except (Conflict, kopf.TemporaryError):
            self._watched.wrote(key, None)  # read it, rather than wait for the watch to catch up
            recheck = 0.2  # someone wrote in between: decide again from fresh data
        except Exception:
            log.exception("rollout of %s/%s failed; retrying in %.0f s", namespace, name, RETRY_AFTER_ERROR_S)
            recheck = RETRY_AFTER_ERROR_S
        finally:
            self._running.discard(key)
            self._wake.set()  # a wake that came while it ran is due now
        if recheck is not None:
            self.wake(namespace, name, recheck)
        else:  # not the worker's business any more (gone, or its rollout over)
            self._pod_looks.forget(key)

    @tracing.traced("rollout step", **{"k8s.namespace.name": "namespace", "kcost.recommendation": "name"})
    async def _advance_one(self, namespace: str, name: str) -> float | None:
        if not await self._leading():
            return RETRY_AFTER_ERROR_S
        policies = self._policy_cache
        rec = await self._recommendation(namespace, name)
        now = datetime.datetime.now(datetime.UTC)
        if rec is None or finalizer.deleting(rec):
            return None if rec is None else await self._deleted(rec, now)
        phase = rec.status.phase
        self._follow_target(rec)
        if phase is RecommendationPhase.APPLIED:
            return await self._applied(rec, policies, now)
        if phase not in ACTIVE_PHASES and not (phase is RecommendationPhase.PROPOSED and self._auto_apply_policies):
            return None
        # Under way, the workload's labels (which policy governs it) are those it started with: one read less a look.
        governing, workload = await self._governing(rec, policies, labels_known=phase is RecommendationPhase.APPLYING)
        if phase is RecommendationPhase.PROPOSED:
            return await self._consider(rec, governing, workload, now)
        return await self._roll(rec, governing.policy, now, workload or None)

    async def _recommendation(self, namespace: str, name: str) -> OptimizationRecommendation | None:
        """As the watch delivered it when that is up to date with kcost's own writes; read otherwise."""
        body = self._watched.fresh((namespace, name))
        if body is None:
            body = await self._kube.get_raw(OptimizationRecommendation, name, namespace)
            if body is None:
                return None
            self._watched.read(body)
        return parse(OptimizationRecommendation, body)

    def _follow_target(self, rec: OptimizationRecommendation) -> None:
        """Wake on the workload's changes while the rollout is under way; stop following it afterwards."""
        target, key = rec.spec.target_ref, (rec.namespace or "", rec.name)
        rollout = rec.status.rollout
        names = [target.name] + ([rollout.canary_name] if rollout and rollout.canary_name else [])
        for workload in ((target.kind, key[0], name) for name in names):
            if rec.status.phase in ACTIVE_PHASES:
                self._rollout_of[workload] = key
                self._workloads.follow(workload)
            elif self._rollout_of.get(workload) == key:
                del self._rollout_of[workload]
                self._workloads.unfollow(workload)

    async def _roll(
        self,
        rec: OptimizationRecommendation,
        policy: OptimizationPolicy | None,
        now: datetime.datetime,
        workload: dict[str, Any] | None = None,
    ) -> float | None:
        """One decision of an Approved or Applying recommendation's rollout, recorded; when to look again.
        ``workload``: the target as just read, if it was."""
        if rec.status.phase is RecommendationPhase.APPROVED:
            outcome = await controller.start(self._workloads, rec, policy, now, original=workload)
            applying = outcome.recommendation
            if (
                applying is not None
                and applying.status.phase is RecommendationPhase.APPLYING
                and finalizer.needed(applying)
            ):
                held = await finalizer.hold(self._kube, rec)  # before the workload is touched
                self._watched.wrote((rec.namespace or "", rec.name), held.resource_version)
                applying = applying.model_copy(update={"metadata": held.metadata})
                outcome = dataclasses.replace(outcome, recommendation=applying)
        else:
            strategy = policy.spec.rollout_strategy if policy else RolloutStrategy()
            checks = await self._promql_checks(rec, strategy)
            outcome = await controller.advance(self._workloads, rec, strategy, now, checks, looks=self._pod_looks)
        await self._record(rec, outcome)
        return outcome.recheck_after_s

    async def _deleted(self, rec: OptimizationRecommendation, now: datetime.datetime) -> float | None:
        """A recommendation being deleted: a rollout under way is rolled back first (the finalizer keeps the object
        until then); otherwise there is nothing to finish and it is let go."""
        rollout = rec.status.rollout
        if rec.status.phase is not RecommendationPhase.APPLYING or rollout is None or not finalizer.held(rec.metadata):
            await finalizer.release(self._kube, rec)
            self._watched.wrote((rec.namespace or "", rec.name), None)
            return None
        if rollout.stage is not RolloutStage.ROLLING_BACK:
            log.info("%s/%s deleted during its rollout: rolling back first", rec.namespace, rec.name)
            await self._record(rec, controller.abandon(rec, finalizer.DELETED_REASON))
            return 0.0
        governing, _ = await self._governing(rec, self._policy_cache, labels_known=True)
        return await self._roll(rec, governing.policy, now)

    async def _promql_checks(
        self, rec: OptimizationRecommendation, strategy: RolloutStrategy
    ) -> tuple[promql_checks.CheckResult, ...]:
        """The policy's PromQL checks while new values are live; none to evaluate otherwise."""
        checks = strategy.health_checks.promql
        rollout = rec.status.rollout
        if not checks or rollout is None or rollout.stage not in WATCHED_STAGES:
            return ()
        try:
            profile = await promql_checks.profile_for(self._kube, rec)
            client = await self._client(profile)
        except (promql_checks.NoPrometheus, prometheus.PrometheusCredentialsError) as error:
            return promql_checks.unevaluated(checks, str(error))
        results = await promql_checks.evaluate_all(
            client, checks, namespace=rec.namespace or "", workload=rec.spec.target_ref.name
        )
        if not all(result.passed for result in results):
            self._prometheus.pop(profile.name, None)  # the credentials may be stale: read them again next time
        return results

    async def _applied(
        self, rec: OptimizationRecommendation, policies: list[OptimizationPolicy], now: datetime.datetime
    ) -> float | None:
        """An applied change: roll it back when asked to, else follow up on what it saved."""
        if rec.spec.approval.rollback:
            await self._record(rec, controller.request_rollback(rec, now))
            return 0.0
        return await self._verify(rec, policies, now)

    async def _verify(
        self, rec: OptimizationRecommendation, policies: list[OptimizationPolicy], now: datetime.datetime
    ) -> float | None:
        """An applied change: once its verify window has passed, measure what it saved."""
        if rec.status.realized is not None:
            return None
        applied_at = rec.status.applied_at
        if applied_at is not None:
            # Until the shortest window any policy could give has passed, nothing is due whichever policy governs:
            # the workload is not read to find out which (a thousand changes just applied were a thousand GETs,
            # then as many every MAX_WAIT_S for the whole window).
            shortest = min((p.spec.verify_window for p in policies), key=parse_duration, default=None)
            candidates = [verify.DEFAULT_VERIFY_WINDOW] + ([shortest] if shortest else [])
            earliest = min(verify.windows(rec, applied_at, window)[1][1] for window in candidates)
            if now < earliest:
                return verify.wait_s(earliest, now)
        governing, _ = await self._governing(rec, policies)
        window = governing.policy.spec.verify_window if governing.policy else verify.DEFAULT_VERIFY_WINDOW
        _, (_, due) = verify.windows(rec, applied_at or now, window)
        if applied_at is None:
            verdict, cluster = verify.not_measured(window, "status.appliedAt is missing", now), None
        elif now < due:
            return verify.wait_s(due, now)
        else:
            log.info("measuring what %s/%s saved over its %s verify window", rec.namespace, rec.name, window)
            try:
                verdict, cluster = await self._measure(rec, window, applied_at, now)
            except prometheus.PrometheusUnavailable as error:
                log.warning("savings of %s/%s not measured yet: %s", rec.namespace, rec.name, error)
                return RETRY_MEASUREMENT_S
            except prometheus.PrometheusError as error:  # refused, not down: asking again gets the same answer
                verdict, cluster = verify.not_measured(window, str(error), now), None
            log.info("savings of %s/%s measured: %s", rec.namespace, rec.name, verdict.reason)
        written = await verify.write(self._kube, rec, verdict)
        self._watched.wrote((rec.namespace or "", rec.name), written.resource_version)
        row = verify.history_row(rec, cluster, verdict.realized) if cluster else None
        if row is not None:
            await self._keep(row)
        await self._kube.event(
            rec.to_api(), reason=verdict.reason, message=verdict.message, event_type=verdict.event_type
        )
        if verdict.roll_back:
            await self._record(written, controller.request_rollback(written, now, because=verdict.message))
            return 0.0
        return None

    async def _keep(self, row: HistoryTable) -> None:
        """Queue a history row; the store is opened with the first one (most operators never measure)."""
        if not self._history_started:
            self._history_started = True
            try:
                await self._history_store.connect(self._config.database_url)
            except Exception as error:  # noqa: BLE001 - the writer retries; rollouts go on meanwhile
                log.warning("history store unavailable for now: %s", self._history_store.redact(str(error)))
            self._history.start()
        self._history.submit(row)

    async def _measure(
        self, rec: OptimizationRecommendation, window: str, applied_at: datetime.datetime, now: datetime.datetime
    ) -> tuple[verify.Verdict, str | None]:
        """The verdict over both windows, and the profile (the history's cluster) that priced it."""
        try:
            profile = await promql_checks.profile_for(self._kube, rec)
            client = await self._client(profile)
        except (promql_checks.NoPrometheus, prometheus.PrometheusCredentialsError) as error:
            return verify.not_measured(window, str(error), now), None
        (before_start, before_end), (after_start, after_end) = verify.windows(rec, applied_at, window)
        before = await verify.window_usage(client, rec, before_start, before_end)
        after = await verify.window_usage(client, rec, after_start, after_end)
        try:
            rates = await unit_rates.rates_for(self._kube, profile, self._pricers)
        except AnalyzerError as error:  # a currency kcost does not price in: say so rather than guess
            return verify.not_measured(window, str(error), now), None
        return verify.judge(
            rec, window, applied_at=applied_at, before=before, after=after, rates=rates, now=now
        ), profile.name

    async def _client(self, profile: ClusterCostProfile) -> prometheus.PrometheusClient:
        cached = self._prometheus.get(profile.name)
        if cached is not None and cached[0] == profile.generation:
            return cached[1]
        client = await prometheus.client_for_profile(
            self._kube, profile, namespace=self._config.namespace, timeout_s=self._config.prometheus_timeout_s
        )
        self._prometheus[profile.name] = (profile.generation, client)
        return client

    async def _record(self, rec: OptimizationRecommendation, outcome: controller.Outcome) -> None:
        key = (rec.namespace or "", rec.name)
        if outcome.recommendation is not None:
            written = await self._write(rec, outcome.recommendation)
            self._watched.wrote(key, watched.version_of(written))
            if outcome.recommendation.status.phase in ENDED_PHASES:
                self._workload_labels.pop(key, None)
                self._pod_looks.forget(key)
                self._follow_target(outcome.recommendation)
                if finalizer.held(rec.metadata):
                    await finalizer.release(self._kube, rec)
                    self._watched.wrote(key, None)
        if outcome.event is not None:
            reason, message, event_type = outcome.event
            await self._kube.event(rec.to_api(), reason=reason, message=message, event_type=event_type)

    async def _consider(
        self,
        rec: OptimizationRecommendation,
        governing: matching.Governing,
        workload: dict[str, Any],
        now: datetime.datetime,
    ) -> float | None:
        """A proposal under an auto-apply policy: approve it on the policy's behalf, or say why not."""
        annotations = (workload.get("metadata") or {}).get("annotations") or {}
        stamp = annotations.get(controller.LAST_CHANGE_ANNOTATION)
        last_change_at = datetime.datetime.fromisoformat(stamp) if stamp else None
        decision = approver.decide(rec, governing, now, last_change_at)
        if decision.approval is not None:
            body = {"metadata": {"name": rec.name, "namespace": rec.namespace}, "spec": {"approval": decision.approval}}
            approved = await self._kube.apply(
                OptimizationRecommendation, body, field_manager=approver.POLICY_FIELD_MANAGER
            )
            self._watched.wrote((rec.namespace or "", rec.name), watched.version_of(approved))
            return 0.0  # the approval's own watch event follows; look again at once regardless
        if decision.held is not None:
            written = await self._write(rec, decision.held)
            self._watched.wrote((rec.namespace or "", rec.name), watched.version_of(written))
        return decision.recheck_after_s

    async def _governing(
        self, rec: OptimizationRecommendation, policies: list[OptimizationPolicy], *, labels_known: bool = False
    ) -> tuple[matching.Governing, dict[str, Any]]:
        """The policy that decides for the recommendation's workload (a conflict governs nothing), and the workload
        ({} when ``labels_known`` and its labels were kept from an earlier read instead)."""
        key = (rec.namespace or "", rec.name)
        labels = self._workload_labels.get(key) if labels_known else None
        original: dict[str, Any] = {}
        if labels is None:
            original = await self._workloads.get(deployment.target(rec)) or {}
            labels = (original.get("metadata") or {}).get("labels") or {}
            if rec.status.phase in ACTIVE_PHASES:
                self._workload_labels[key] = labels
        workload = matching.Workload(
            kind=rec.spec.target_ref.kind,
            namespace=rec.namespace or "",
            name=rec.spec.target_ref.name,
            labels=labels,
            namespace_labels=await self._namespace_labels(rec.namespace or ""),
        )
        return matching.governing(policies, workload), original

    async def _namespace_map(self) -> dict[str, dict[str, str]]:
        return {
            body["metadata"]["name"]: dict(body["metadata"].get("labels") or {})
            for body in await self._kube.namespaces()
        }

    async def _namespace_labels(self, namespace: str) -> dict[str, str]:
        """From the namespaces read with the policies (one list every few seconds, not one per decision)."""
        if namespace not in self._namespaces:  # newer than the last read
            self._namespaces = await self._namespace_map()
        return self._namespaces.get(namespace, {})
