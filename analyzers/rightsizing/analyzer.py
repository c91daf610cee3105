"""The ``rightsizing`` analyzer: per container requests and limits from real usage.

Each workload's containers are sized by a strategy (``kcost`` by default, or the
``vpa`` / ``krr-simple`` re-implementations) from the usage of all of its pods over
the frozen window. A workload an HPA scales on CPU keeps its CPU request (the HPA's
utilization target is relative to it) and gets only memory advice; no replica count
is ever proposed for it. A change becomes a recommendation when it saves at least
``minMonthlySavings`` or when it raises memory for a container that was OOM-killed,
and, unless it fixes an OOM kill, only when it is outside the governing policy's
hysteresis band (``contract.hysteresis``): churn is not proposed, and a workload kcost
applied is not proposed again for drift inside the band. The settings, by strategy,
are in ``settings``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from kcost.analyzers import scope
from kcost.analyzers.contract import Analyzer, AnalyzerError, AnalyzerResult, Proposal, RunContext, hysteresis
from kcost.analyzers.cost.unit_rates import ClusterRates
from kcost.analyzers.cpu_pool import CpuPool, WorkerDiedError
from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.analyzers.metrics.workloads import QueryPlan, Workload
from kcost.analyzers.rightsizing import anomalies, classes, remembered, strategies
from kcost.analyzers.rightsizing.adaptive import AdaptiveStrategy
from kcost.analyzers.rightsizing.base import Strategy, StrategySettings
from kcost.analyzers.rightsizing.history import CurrentResources, OomEvent, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation, Recommendation
from kcost.analyzers.rightsizing.settings import KcostRightsizing, RightsizingSettings, StrategyChoice
from kcost.api import matching
from kcost.api.units import MIB
from kcost.api.v1alpha1.policy import Hysteresis, OptimizationPolicy
from kcost.api.v1alpha1.recommendation import (
    ContainerEvidence,
    ContainerResources,
    Evidence,
    OptimizationRecommendationSpec,
    RecommendationType,
    ResourceValues,
    RiskLevel,
    TargetRef,
    UsageAnomaly,
    WorkloadClass,
    WorkloadShape,
)
from kcost.config import Config
from kcost.ml import anomaly, runs

ANOMALOUS_USAGE_REASON = "AnomalousUsage"
# Workloads screened and sized per job (to a worker process or a thread): the models score a chunk's
# containers in one call, and a namespace's batch is cut so one job's arrays stay small.
CHUNK_WORKLOADS = 64
# Days of mean CPU in the evidence's sparkline (the last ones).
SPARKLINE_DAYS = 64
log = logging.getLogger(__name__)


def _non_defaults(settings: StrategySettings) -> str:
    given = settings.model_dump(by_alias=True, exclude_defaults=True)
    return ", ".join(f"{name}={value}" for name, value in given.items()) or "defaults"


def _cpu(cores: float | None) -> str | None:
    return None if cores is None else f"{max(1, round(cores * 1000))}m"


def _memory(size_bytes: float | None) -> str | None:
    return None if size_bytes is None else f"{max(1, round(size_bytes / MIB))}Mi"


def history_of(workload: Workload, name: str) -> UsageHistory:
    series = workload.containers[name]
    ts_s, cpu_cores, memory_bytes = series.arrays()
    current = workload.requests(name)
    limit = current["memory_limit"]
    oom = (
        tuple(OomEvent(float(ts_s[-1]), float(limit or memory_bytes.max(initial=0.0))) for _ in range(series.oom_kills))
        if ts_s.size
        else ()
    )
    return UsageHistory(
        ts_s=ts_s,
        cpu_cores=cpu_cores,
        memory_bytes=memory_bytes,
        oom_events=oom,
        current=CurrentResources(current["cpu_request"], current["cpu_limit"], current["memory_request"], limit),
    )


def _sparkline(history: UsageHistory) -> list[float]:
    if history.ts_s.size == 0:
        return []
    days = ((history.ts_s - history.ts_s[0]) // 86400).astype(int)
    # Samples are in time order: each day is one slice (the days without samples are skipped).
    starts = runs.starts(days).tolist()[-SPARKLINE_DAYS:]
    cpu = history.cpu_cores
    # A day's sum over its count is its ``mean()`` (numpy divides the same sum), without the call's overhead.
    return [
        round(float(cpu[start:stop].sum()) / (stop - start), 4)
        for start, stop in zip(starts, [*starts[1:], cpu.size], strict=True)
    ]


def _size(strategy: Strategy[Any], histories: Sequence[UsageHistory], learned: bool) -> list[Recommendation]:
    """The strategy's answers; without the learned parts, kcost's values with their coverage confidence."""
    if not learned and isinstance(strategy, AdaptiveStrategy):
        return [strategy.propose(history) for history in histories]
    return strategy.recommend_many(histories)


async def _report_anomaly(
    context: RunContext[RightsizingSettings],
    workload: Workload,
    found: UsageAnomaly | None,
    result: AnalyzerResult,
) -> None:
    """List a workload whose usage is anomalous now on the Analysis, with an Event on the workload."""
    if found is None or not found.ongoing:
        return
    result.anomalous_workloads.append(f"{workload.namespace}/{workload.kind}/{workload.name}")
    involved = {
        "apiVersion": workload.api_version,
        "kind": workload.kind,
        "metadata": {"name": workload.name, "namespace": workload.namespace},
    }
    since = f"{found.first_at:%Y-%m-%dT%H:%M:%SZ}" if found.first_at is not None else "the window"
    await context.kube.event(
        involved,
        reason=ANOMALOUS_USAGE_REASON,
        message=(
            f"usage anomalous since {since} ({found.anomalous_hours} hours flagged by {found.method}; "
            f"Analysis {context.analysis.name}): those hours are left out of right-sizing and auto-apply holds "
            "its changes"
        ),
        event_type="Warning",
        component="kcost-rightsizing",
    )


def _strategy(settings: StrategyChoice) -> Strategy[Any]:
    """The chosen strategy; the kcost one class-aware when ``classAware`` asks for it."""
    if isinstance(settings, KcostRightsizing) and settings.class_aware:
        return classes.ClassAwareStrategy(settings.strategy_settings)
    return strategies.create(settings.strategy, settings.strategy_settings)


def _workload_classes(
    answers: Sequence[Recommendation], histories: Sequence[UsageHistory]
) -> list[WorkloadClass | None]:
    """For each sized container, the class the strategy sized by, or else the class read from its history
    (the window it was sized on) for the evidence; the model reads all of those in one call."""
    found = [
        answer.evidence.workload_class if isinstance(answer, ContainerRecommendation) else None for answer in answers
    ]
    unread = [
        index
        for index, answer in enumerate(answers)
        if isinstance(answer, ContainerRecommendation) and answer.evidence.workload_class is None
    ]
    windows = [
        histories[index].since(cast(ContainerRecommendation, answers[index]).evidence.window_start_s)
        for index in unread
    ]
    for index, workload_class in zip(unread, classes.classify_many(windows), strict=True):
        found[index] = workload_class
    return found


def _band_of(
    policies: list[OptimizationPolicy], workload: Workload, namespace_labels: dict[str, dict[str, str]]
) -> Hysteresis:
    """The hysteresis band of the policy that governs ``workload``."""
    governed = matching.Workload(
        workload.kind, workload.namespace, workload.name, workload.labels, namespace_labels.get(workload.namespace, {})
    )
    return hysteresis.band_for(policies, governed)


@dataclass(frozen=True)
class ChunkJob:
    """One chunk's sizing as a worker process or the analyzer's thread gets it: the workloads with
    their usage, and what proposing needs of the run (its context, its window and prices)."""

    workloads: Sequence[Workload]
    settings: StrategyChoice
    # The settings as JSON, dumped once per run: the key of each process's strategy cache.
    settings_json: str
    context: RunContext[RightsizingSettings]
    plan: QueryPlan
    rates: ClusterRates
    bands: Sequence[Hysteresis]


@dataclass(frozen=True)
class ChunkSized:
    """What sizing a chunk gives back: per workload its anomaly and proposal, and the run's counts."""

    answers: list[tuple[UsageAnomaly | None, Proposal | None]]
    skipped: dict[str, int]
    scope_monthly_cost: float
    containers: int
    remembered: int  # of those, as sized by an earlier run


def _picklable(
    context: RunContext[RightsizingSettings], rates: ClusterRates
) -> tuple[RunContext[RightsizingSettings], ClusterRates]:
    """What a worker process gets of the run: neither the API client nor the pricer's read-only views."""
    return dataclasses.replace(context, kube=cast(Any, None)), dataclasses.replace(rates, by_node=dict(rates.by_node))


@functools.lru_cache(maxsize=8)
def _strategy_for(settings_json: str, settings_type: type[StrategyChoice]) -> Strategy[Any]:
    """One strategy per settings in each process: the models it scores with load once."""
    return _strategy(settings_type.model_validate_json(settings_json))


# The containers this process sized in earlier runs (the analyzer's own, or a worker process's).
REMEMBERED = remembered.Remembered()


def size_chunk(job: ChunkJob) -> ChunkSized:
    """Screen, size and propose for one chunk: CPU work only, in a worker process or a thread."""
    settings = job.settings
    strategy = _strategy_for(job.settings_json, type(settings))
    result = AnalyzerResult()
    in_scope = scope.Scope([], cast(PrometheusClient, None), job.plan, job.rates)
    found_before = REMEMBERED.found  # one job at a time per process: the difference is this job's
    answers = RightsizingAnalyzer._screen_and_propose(
        job.workloads,
        strategy,
        settings,
        job.context,
        result,
        in_scope=in_scope,
        bands=job.bands,
        remembering=(REMEMBERED, job.settings_json),
    )
    containers = sum(len(workload.containers) for workload in job.workloads)
    return ChunkSized(
        answers, result.skipped, result.scope_monthly_cost or 0.0, containers, REMEMBERED.found - found_before
    )


class RightsizingAnalyzer(Analyzer[RightsizingSettings]):
    name = "rightsizing"
    settings_model = RightsizingSettings
    types = (RecommendationType.RIGHT_SIZING,)

    def __init__(self, sizing: CpuPool | None = None) -> None:
        # KCOST_ANALYZER_SIZING_PROCESSES, read at the first run (not at import: plugins are listed without it).
        self._sizing = sizing

    def _pool(self) -> CpuPool:
        if self._sizing is None:
            processes = Config.from_env().analyzer_sizing_processes
            self._sizing = CpuPool(processes)
        return self._sizing

    def close(self) -> None:
        if self._sizing is not None:
            self._sizing.close()

    async def run(self, context: RunContext[RightsizingSettings]) -> AnalyzerResult:
        settings = context.settings.root
        in_scope = await scope.open_scope(context)
        policies = await context.kube.list(OptimizationPolicy)
        namespace_labels = {
            ns["metadata"]["name"]: dict(ns["metadata"].get("labels") or {}) for ns in await context.kube.namespaces()
        }
        result = AnalyzerResult(workloads=len(in_scope.workloads), scope_monthly_cost=0.0)
        pool = self._pool()
        settings_json = settings.model_dump_json(by_alias=True)
        # Copied for worker processes only: a thread reads the run's own.
        job_context, rates = _picklable(context, in_scope.rates) if pool.processes else (context, in_scope.rates)
        pending: deque[tuple[Sequence[Workload], asyncio.Future[ChunkSized]]] = deque()
        sized: collections.Counter[str] = collections.Counter()
        try:
            async for batch in in_scope.with_usage_batches():
                for first in range(0, len(batch), CHUNK_WORKLOADS):
                    chunk = batch[first : first + CHUNK_WORKLOADS]
                    bands = [_band_of(policies, workload, namespace_labels) for workload in chunk]
                    job = ChunkJob(chunk, settings, settings_json, job_context, in_scope.plan, rates, bands)
                    pending.append((chunk, pool.submit(size_chunk, job)))
                    # A thread reads the batch's arrays as it goes: with no worker process, each chunk is
                    # done before the batch's samples are dropped; a process got its copy at submit.
                    while len(pending) > pool.in_flight:
                        sized += await _take(context, result, *pending.popleft())
            while pending:
                sized += await _take(context, result, *pending.popleft())
        except WorkerDiedError as error:
            raise AnalyzerError(
                f"sizing failed: {error}; was it killed for memory? Lower KCOST_ANALYZER_SIZING_PROCESSES "
                "or raise the analyzer's memory limit"
            ) from None
        finally:
            for _, future in pending:
                future.cancel()
        log.info(
            "sized %d containers: %d as an earlier run sized them (the same usage, requests and settings)",
            sized["containers"],
            sized["remembered"],
        )
        return in_scope.finish(result)

    @classmethod
    def _screen_and_propose(
        cls,
        workloads: Sequence[Workload],
        strategy: Strategy[Any],
        settings: StrategyChoice,
        context: RunContext[RightsizingSettings],
        result: AnalyzerResult,
        *,
        in_scope: scope.Scope,
        bands: Sequence[Hysteresis],
        remembering: tuple[remembered.Remembered, str] | None = None,
    ) -> list[tuple[UsageAnomaly | None, Proposal | None]]:
        """Each workload's anomalies and proposal; the containers of all of them sized together, but for
        those ``remembering`` (what was sized, the settings as JSON) already holds."""
        until_s = context.window_end.timestamp()
        keys = [(index, name) for index, workload in enumerate(workloads) for name in sorted(workload.containers)]
        histories = [history_of(workloads[index], name) for index, name in keys]
        # The evidence's sparkline is the first container's: only those need one.
        firsts = {position for position, (index, name) in enumerate(keys) if name == min(workloads[index].containers)}
        digests: list[bytes] = []
        sized: list[remembered.Sized | None] = [None] * len(histories)
        if remembering is not None:
            known, settings_json = remembering
            for history in histories:
                judged = anomaly.judged(history.ts_s, until_s) if settings.learned else history.sample_count
                digests.append(remembered.digest(settings_json, history, judged))
            sized = [known.get(key, with_sparkline=position in firsts) for position, key in enumerate(digests)]
        unsized = [position for position, one in enumerate(sized) if one is None]
        if unsized:
            screened = [
                anomalies.screen(histories[position], until_s=until_s)
                if settings.learned
                else anomalies.Screened(histories[position], None)  # rules only: every hour kept
                for position in unsized
            ]
            kept = [one.history for one in screened]
            answers = _size(strategy, kept, settings.learned)
            found = _workload_classes(answers, kept) if settings.learned else [None] * len(answers)
            for position, screening, answer, workload_class in zip(unsized, screened, answers, found, strict=True):
                fresh = remembered.Sized(
                    answer,
                    workload_class,
                    anomalies.Found.of(screening),
                    tuple(_sparkline(screening.history)) if position in firsts else None,
                    bool(screening.history.oom_events),
                )
                sized[position] = fresh
                if remembering is not None:
                    remembering[0].put(digests[position], fresh)
        by_workload: list[dict[str, remembered.Sized]] = [{} for _ in workloads]
        for (index, name), one in zip(keys, sized, strict=True):
            by_workload[index][name] = cast(remembered.Sized, one)
        return [
            (
                anomalies.evidence([one.anomaly for one in containers.values()]),
                cls._propose(
                    workload, strategy, settings, context, result, in_scope=in_scope, band=band, sized=containers
                ),
            )
            for workload, band, containers in zip(workloads, bands, by_workload, strict=True)
        ]

    @staticmethod
    def _propose(
        workload: Workload,
        strategy: Strategy[Any],
        settings: StrategyChoice,
        context: RunContext[RightsizingSettings],
        result: AnalyzerResult,
        *,
        in_scope: scope.Scope,
        band: Hysteresis,
        sized: dict[str, remembered.Sized],
    ) -> Proposal | None:
        if not workload.containers:
            result.skipped["NoMetrics"] = result.skipped.get("NoMetrics", 0) + 1
            return None
        current, changes, evidence = [], [], []
        before = after = 0.0
        samples = 0
        oom_fix = False
        confidence, risk = 1.0, RiskLevel.LOW
        notes: list[str] = []
        first: remembered.Sized | None = None  # the evidence's sparkline is the first container's
        for name in sorted(workload.containers):
            one = sized[name]
            first = first or one
            requests = workload.requests(name)
            answer, workload_class = one.answer, one.workload_class
            cpu_now, memory_now = requests["cpu_request"] or 0.0, requests["memory_request"] or 0.0
            before += in_scope.monthly_request_cost(workload, cpu_now, memory_now)
            if not isinstance(answer, ContainerRecommendation):
                result.skipped["NotEnoughData"] = result.skipped.get("NotEnoughData", 0) + 1
                notes.append(f"{name}: not enough data ({answer.reason})")
                after += in_scope.monthly_request_cost(workload, cpu_now, memory_now)
                continue
            cpu_new = answer.cpu_request_cores
            if workload.hpa_cpu_target_pct is not None and requests["cpu_request"]:
                cpu_new = requests["cpu_request"]  # the HPA's target is a share of this request
                notes.append(f"{name}: CPU request kept, an HPA scales on {workload.hpa_cpu_target_pct}% of it")
            after += in_scope.monthly_request_cost(workload, cpu_new, answer.memory_request_bytes)
            samples += answer.evidence.sample_count
            confidence = min(confidence, answer.confidence)
            risk = max(risk, answer.risk_level, key=lambda level: level.rank)
            raised = (answer.memory_limit_bytes or 0) > (requests["memory_limit"] or 0)
            oom_fix = oom_fix or (one.oom_killed and raised)
            current.append(
                ContainerResources(
                    name=name,
                    requests=ResourceValues(
                        cpu=_cpu(requests["cpu_request"]), memory=_memory(requests["memory_request"])
                    ),
                    limits=ResourceValues(cpu=_cpu(requests["cpu_limit"]), memory=_memory(requests["memory_limit"])),
                )
            )
            changes.append(
                ContainerResources(
                    name=name,
                    requests=ResourceValues(cpu=_cpu(cpu_new), memory=_memory(answer.memory_request_bytes)),
                    limits=ResourceValues(
                        cpu=_cpu(answer.cpu_limit_cores) if settings.cpu_limits else _cpu(requests["cpu_limit"]),
                        memory=_memory(answer.memory_limit_bytes),
                    ),
                )
            )
            evidence.append(
                ContainerEvidence(
                    name=name,
                    cpu_cores=answer.evidence.cpu_cores,
                    memory_bytes=answer.evidence.memory_bytes,
                    oom_events=answer.evidence.oom_events,
                    workload_class=workload_class,
                )
            )
            notes.extend(answer.evidence.notes)
        result.scope_monthly_cost = (result.scope_monthly_cost or 0.0) + before
        savings = before - after
        if not changes or (savings < settings.min_monthly_savings and not oom_fix):
            return None
        current_shape, changed_shape = WorkloadShape(containers=current), WorkloadShape(containers=changes)
        if not oom_fix and hysteresis.inside_band(current_shape, changed_shape, savings, band):
            result.skipped["InsideHysteresisBand"] = result.skipped.get("InsideHysteresisBand", 0) + 1
            return None
        spec = OptimizationRecommendationSpec(
            target_ref=TargetRef(api_version=workload.api_version, kind=workload.kind, name=workload.name),
            type=RecommendationType.RIGHT_SIZING,
            current=current_shape,
            changes=changed_shape,
            estimated_monthly_savings=round(max(savings, 0.0), 2),
            confidence=round(confidence, 3),
            risk_level=risk,
            evidence=Evidence(
                window=context.analysis.spec.window,
                window_start=in_scope.plan.window_start,
                window_end=in_scope.plan.window_end,
                sample_count=samples,
                method=f"{strategy.name}({_non_defaults(settings.strategy_settings)})",
                containers=evidence,
                usage_sparkline=list(first.sparkline or ()) if first is not None else [],
                notes=(
                    [f"savings priced at {in_scope.rates.source}"]
                    + notes
                    + (["raises memory: the container was OOM-killed"] if oom_fix else [])
                )[:20],
                anomaly=anomalies.evidence([one.anomaly for one in sized.values()]),
                workload_class=evidence[0].workload_class if evidence else None,
            ),
        )
        return Proposal(namespace=workload.namespace, spec=spec, hysteresis=band)


async def _take(
    context: RunContext[RightsizingSettings],
    result: AnalyzerResult,
    chunk: Sequence[Workload],
    sizing: asyncio.Future[ChunkSized],
) -> collections.Counter[str]:
    """A sized chunk into ``result``, in the order the chunks were read; its containers, and how many
    of those were as an earlier run sized them."""
    sized = await sizing
    for reason, count in sized.skipped.items():
        result.skipped[reason] = result.skipped.get(reason, 0) + count
    result.scope_monthly_cost = (result.scope_monthly_cost or 0.0) + sized.scope_monthly_cost
    for workload, (usage_anomaly, proposal) in zip(chunk, sized.answers, strict=True):
        await _report_anomaly(context, workload, usage_anomaly, result)
        if proposal is not None:
            result.proposals.append(proposal)
    return collections.Counter(containers=sized.containers, remembered=sized.remembered)
