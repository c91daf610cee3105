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
import datetime
import logging
from collections.abc import Awaitable, Callable

import kopf

from kcost.api.v1alpha1.policy import OptimizationPolicy, RolloutStrategy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase
from kcost.kube.client import Conflict, KubeClient
from kcost.kube.workloads import WorkloadClient
from kcost.operator.rollout import controller, deployment
from kcost.webhooks.policy import matching

log = logging.getLogger("kcost.operator.rollout")
Key = tuple[str, str]
ACTIVE_PHASES = frozenset({RecommendationPhase.APPROVED, RecommendationPhase.APPLYING})
# Rollouts advanced at once; the rest wait their turn.
CONCURRENCY = 16
RETRY_AFTER_ERROR_S = 5.0


class RolloutWorker:
    """A due-time queue of recommendations under rollout, drained by a bounded number of tasks."""

    def __init__(
        self,
        kube: KubeClient,
        workloads: WorkloadClient,
        write: Callable[[OptimizationRecommendation, OptimizationRecommendation], Awaitable[None]],
        leading: Callable[[], Awaitable[bool]],
    ) -> None:
        self._kube = kube
        self._workloads = workloads
        self._write = write
        self._leading = leading
        self._due: dict[Key, float] = {}
        self._running: set[Key] = set()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)

    def wake(self, namespace: str, name: str, after_s: float = 0.0) -> None:
        due = asyncio.get_running_loop().time() + after_s
        key = (namespace, name)
        self._due[key] = min(due, self._due.get(key, due))
        self._wake.set()

    async def run(self) -> None:
        """Drain the queue until cancelled."""
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
            recheck = 0.2  # someone wrote in between: decide again from fresh data
        except Exception:
            log.exception("rollout of %s/%s failed; retrying in %.0f s", namespace, name, RETRY_AFTER_ERROR_S)
            recheck = RETRY_AFTER_ERROR_S
        finally:
            self._running.discard(key)
        if recheck is not None:
            self.wake(namespace, name, recheck)

    async def _advance_one(self, namespace: str, name: str) -> float | None:
        if not await self._leading():
            return RETRY_AFTER_ERROR_S
        body = await self._kube.get(OptimizationRecommendation, name, namespace)
        if body is None:
            return None
        rec = OptimizationRecommendation.model_validate(body)
        if rec.status.phase not in ACTIVE_PHASES:
            return None
        now = datetime.datetime.now(datetime.UTC)
        governing = await self._governing(rec)
        if rec.status.phase is RecommendationPhase.APPROVED:
            outcome = await controller.start(self._workloads, rec, governing.policy, now)
        else:
            strategy = governing.policy.spec.rollout_strategy if governing.policy else RolloutStrategy()
            outcome = await controller.advance(self._workloads, rec, strategy, now)
        if outcome.recommendation is not None:
            await self._write(rec, outcome.recommendation)
            if outcome.event is not None:
                reason, message, event_type = outcome.event
                await self._kube.event(rec.to_api(), reason=reason, message=message, event_type=event_type)
        return outcome.recheck_after_s

    async def _governing(self, rec: OptimizationRecommendation) -> matching.Governing:
        """The policy that decides for the recommendation's workload (a conflict governs nothing)."""
        policies = [
            OptimizationPolicy.model_validate(body) for body in await self._kube.list_objects(OptimizationPolicy)
        ]
        original = await self._workloads.get(deployment.target(rec)) or {}
        workload = matching.Workload(
            kind=rec.spec.target_ref.kind,
            namespace=rec.namespace or "",
            name=rec.spec.target_ref.name,
            labels=(original.get("metadata") or {}).get("labels") or {},
            namespace_labels=await self._namespace_labels(rec.namespace or ""),
        )
        return matching.governing(policies, workload)

    async def _namespace_labels(self, namespace: str) -> dict[str, str]:
        for body in await self._kube.namespaces():
            if body["metadata"]["name"] == namespace:
                return dict(body["metadata"].get("labels") or {})
        return {}
