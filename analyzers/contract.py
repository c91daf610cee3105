"""The analyzer contract: how an analyzer process takes part in an Analysis run.

An analyzer is a plugin (``Analyzer``): a name, a pydantic settings model, and
``run(context) -> AnalyzerResult``. Each runs in its own process (``kcost analyzer
NAME``), and talks to the operator only through the Analysis object:

1. **Find work.** The operator moves an Analysis to ``Running`` and freezes
   ``status.runId``, ``windowStart`` and ``windowEnd``. An enabled analyzer has work
   when ``status.analyzers.<name>`` is missing or belongs to an older run, or when
   its claimant stopped sending heartbeats (``stale_after``).
2. **Claim it idempotently.** The analyzer server-side-applies its own section,
   ``status.analyzers.<name> = {phase: Running, runId, claimedBy, heartbeatTime}``,
   carrying the ``resourceVersion`` it read: of two instances racing, one wins and
   the other gets a conflict and backs off. While it works it refreshes
   ``heartbeatTime``.
3. **Upsert recommendations.** Each proposal becomes one OptimizationRecommendation
   named ``recommendation_name(kind, workload, type)`` in the workload's namespace,
   owned by the Analysis, labelled with the analysis and analyzer. A re-run updates
   the same object; an object somebody acted on (approved, applying, applied,
   rejected…) is left alone. Retrying after a crash writes the same names again:
   never a duplicate.
4. **Report.** ``Succeeded`` with counts and savings, or ``Failed`` with an error a
   person can act on, plus the ``<Name>Complete`` condition. "Not enough data" for a
   workload is not a failure: it is counted in ``skipped`` by reason.

Every write is a server-side apply with the field manager ``kcost-analyzer-<name>``,
touching only that analyzer's status section and condition, so analyzers and the
operator never overwrite each other. An analyzer whose run was replaced (new
``runId``) or ended (timeout) while it worked discards its results.
"""

from __future__ import annotations

import abc
import asyncio
import datetime
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from kcost.api.scope import select_namespaces
from kcost.api.v1alpha1.analysis import (
    Analysis,
    AnalysisPhase,
    AnalyzerPhase,
    AnalyzerStatus,
    complete_condition_type,
)
from kcost.api.v1alpha1.common import READY, Condition, Conditions, ConditionStatus, parse_duration
from kcost.api.v1alpha1.recommendation import (
    OPEN_PHASES,
    OptimizationRecommendation,
    OptimizationRecommendationSpec,
    RecommendationPhase,
    RecommendationType,
    recommendation_name,
)
from kcost.kube.client import Body, Conflict, KubeClient, NotFound

log = logging.getLogger("kcost.analyzers")

LABEL_ANALYSIS = "kcost.dev/analysis"
LABEL_ANALYZER = "kcost.dev/analyzer"
LABEL_TYPE = "kcost.dev/type"
# Recommendations written at once: enough to keep the API server busy, few enough not to flood it.
UPSERT_CONCURRENCY = 8


def field_manager(analyzer: str) -> str:
    return f"kcost-analyzer-{analyzer}"


class AnalyzerSettings(BaseModel):
    """Base of every analyzer's settings; ``spec.analyzers[].settings`` is parsed into it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


SettingsT = TypeVar("SettingsT", bound=BaseModel)


@dataclass(frozen=True)
class RunContext(Generic[SettingsT]):
    """What one run of one analyzer gets: the frozen window, its settings, its scope."""

    analysis: Analysis
    run_id: str
    window_start: datetime.datetime
    window_end: datetime.datetime
    resolution: datetime.timedelta
    settings: SettingsT
    namespaces: list[str]
    kube: KubeClient


@dataclass(frozen=True)
class Proposal:
    """One recommendation an analyzer wants to exist."""

    namespace: str
    spec: OptimizationRecommendationSpec


@dataclass
class AnalyzerResult:
    proposals: list[Proposal] = field(default_factory=list)
    workloads: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    scope_monthly_cost: float | None = None
    # Every HTTP request the run made to Prometheus, by API endpoint (query, query_range, series).
    prometheus_requests: dict[str, int] | None = None


class AnalyzerError(Exception):
    """A failure to show the user as is (say what is wrong and what to do)."""


class Analyzer(abc.ABC, Generic[SettingsT]):
    """A plugin. Subclasses set ``name``, ``settings_model`` and ``types`` and implement ``run``."""

    name: ClassVar[str]
    # Usually an ``AnalyzerSettings``; a ``RootModel`` of a tagged union where settings depend on a choice.
    settings_model: ClassVar[type[BaseModel]]
    types: ClassVar[tuple[RecommendationType, ...]] = ()

    @abc.abstractmethod
    async def run(self, context: RunContext[SettingsT]) -> AnalyzerResult:
        """Analyze the scope over the window; raise ``AnalyzerError`` for a failure a user can fix."""


# -- scope ---------------------------------------------------------------------------


def resolve_namespaces(analysis: Analysis, namespaces: list[dict[str, Any]]) -> list[str]:
    """The namespaces an Analysis covers (see ``kcost.api.scope``)."""
    return select_namespaces(analysis.spec.namespaces, analysis.spec.namespace_selector, namespaces)


# -- finding and claiming work ------------------------------------------------------------


def needs_work(analysis: Analysis, analyzer: str, now: datetime.datetime, stale_after: datetime.timedelta) -> bool:
    """True when ``analyzer`` should (re)start on this Analysis's current run."""
    status = analysis.status
    if status.phase is not AnalysisPhase.RUNNING or status.run_id is None:
        return False
    if analyzer not in {a.name for a in analysis.spec.enabled_analyzers()}:
        return False
    mine = status.analyzers.get(analyzer)
    if mine is None or mine.run_id != status.run_id or mine.phase is AnalyzerPhase.PENDING:
        return True
    if mine.phase is AnalyzerPhase.RUNNING:
        heartbeat = mine.heartbeat_time or mine.started_at
        return heartbeat is None or now - heartbeat > stale_after
    return False


def _section_patch(
    analysis: Analysis, analyzer: str, section: AnalyzerStatus, *, with_version: bool, reason: str, message: str
) -> dict[str, Any]:
    condition_type = complete_condition_type(analyzer)
    # Start from the current conditions so the transition time survives heartbeats.
    conditions = Conditions.set(
        analysis.status.conditions,
        condition_type,
        ConditionStatus.TRUE if section.phase is AnalyzerPhase.SUCCEEDED else ConditionStatus.FALSE,
        reason,
        message,
        generation=analysis.generation,
    )
    mine = [c for c in conditions if c.type == condition_type]
    metadata: dict[str, Any] = {"name": analysis.name}
    if with_version:
        metadata["resourceVersion"] = analysis.resource_version
    return {
        "metadata": metadata,
        "status": {"analyzers": {analyzer: section.to_api()}, "conditions": [c.to_api() for c in mine]},
    }


async def claim(kube: KubeClient, analysis: Analysis, analyzer: str, instance: str) -> Analysis | None:
    """Take the run for this instance; None when another instance got there first."""
    now = _now()
    section = AnalyzerStatus(
        phase=AnalyzerPhase.RUNNING,
        run_id=analysis.status.run_id,
        claimed_by=instance,
        heartbeat_time=now,
        started_at=now,
    )
    patch = _section_patch(
        analysis, analyzer, section, with_version=True, reason="Running", message=f"claimed by {instance}"
    )
    try:
        body = await kube.apply(Analysis, patch, field_manager=field_manager(analyzer), status=True)
    except Conflict:
        return None
    return Analysis.model_validate(body)


async def heartbeat(
    kube: KubeClient, analysis: Analysis, analyzer: str, instance: str, started_at: datetime.datetime
) -> None:
    section = AnalyzerStatus(
        phase=AnalyzerPhase.RUNNING,
        run_id=analysis.status.run_id,
        claimed_by=instance,
        heartbeat_time=_now(),
        started_at=started_at,
    )
    patch = _section_patch(
        analysis, analyzer, section, with_version=False, reason="Running", message=f"claimed by {instance}"
    )
    await kube.apply(Analysis, patch, field_manager=field_manager(analyzer), status=True)


async def still_current(kube: KubeClient, analysis: Analysis) -> bool:
    """The run this analyzer works on is still the running one."""
    body = await kube.get(Analysis, analysis.name)
    if body is None:
        return False
    fresh = Analysis.model_validate(body)
    return fresh.status.phase is AnalysisPhase.RUNNING and fresh.status.run_id == analysis.status.run_id


# -- recommendations -------------------------------------------------------------------


async def upsert(
    kube: KubeClient,
    analysis: Analysis,
    analyzer: str,
    proposal: Proposal,
    *,
    known: Mapping[str, Body] | None = None,
) -> bool:
    """Create or update the recommendation; False when it was left alone (somebody acted on it).

    ``known``: the namespace's recommendations by name, read beforehand, to save one read each.
    """
    spec = proposal.spec
    name = recommendation_name(spec.target_ref.kind, spec.target_ref.name, spec.type.value)
    if known is None:
        existing = await kube.get(OptimizationRecommendation, name, proposal.namespace)
    else:
        existing = known.get(name)
    if existing is not None:
        phase = (existing.get("status") or {}).get("phase")
        if phase is not None and RecommendationPhase(phase) not in OPEN_PHASES:
            return False
    before = [Condition.model_validate(c) for c in ((existing or {}).get("status") or {}).get("conditions") or []]
    manager = field_manager(analyzer)
    owner = {
        "apiVersion": analysis.api_version,
        "kind": "Analysis",
        "name": analysis.name,
        "uid": analysis.uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }
    if existing is not None and existing["metadata"].get("ownerReferences") not in (None, [owner]):
        # Another Analysis produced it last; apply would merge the two owners (and two controllers are invalid).
        try:
            await kube.merge_patch(
                OptimizationRecommendation, name, proposal.namespace, {"metadata": {"ownerReferences": [owner]}}
            )
        except NotFound:
            before = []  # deleted meanwhile (its Analysis went away): the apply below creates it anew
    body = {
        "metadata": {
            "name": name,
            "namespace": proposal.namespace,
            "labels": {
                LABEL_ANALYSIS: analysis.name,
                LABEL_ANALYZER: analyzer,
                LABEL_TYPE: spec.type.value,
                "app.kubernetes.io/managed-by": "kcost",
            },
            "ownerReferences": [owner],
        },
        # Approval belongs to users and the webhook, never to an analyzer.
        "spec": {k: v for k, v in spec.to_api().items() if k != "approval"},
    }
    for attempt in range(2):
        written = await kube.apply(OptimizationRecommendation, body, field_manager=manager)
        # Ready comes with the phase, as the operator would set it: it has nothing to write then
        # (one write less for each of thousands of recommendations).
        ready = Conditions.set(
            before, READY, True, "Proposed", spec.proposed_message(), generation=written["metadata"]["generation"]
        )
        status = {
            "metadata": {"name": name, "namespace": proposal.namespace},
            "status": {
                "phase": RecommendationPhase.PROPOSED.value,
                "lastSeenRunId": analysis.status.run_id,
                "conditions": [c.to_api() for c in ready if c.type == READY],
            },
        }
        try:
            await kube.apply(OptimizationRecommendation, status, field_manager=manager, status=True)
        except NotFound:
            # An older copy was being deleted (its Analysis went away) and is gone now: write it anew.
            if attempt:
                raise
            continue
        return True
    raise AssertionError("unreachable")  # pragma: no cover


# -- one run ---------------------------------------------------------------------------


def parse_settings(analyzer: Analyzer[Any], analysis: Analysis) -> BaseModel:
    raw = next((a.settings for a in analysis.spec.analyzers if a.name == analyzer.name), {})
    try:
        return analyzer.settings_model.model_validate(raw)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join([f'spec.analyzers[{analyzer.name}].settings', *_field_path(e['loc'], raw)])}: {e['msg']}"
            for e in error.errors()
        )
        raise AnalyzerError(f"Analysis {analysis.name}: invalid settings: {details}") from None


def _field_path(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> list[str]:
    """The settings field an error is about; a tagged union's tag (not a field) leads its errors' location."""
    path = [str(part) for part in loc]
    if path and path[0] not in raw and len(path) > 1:
        path = path[1:]
    return path


async def execute(
    kube: KubeClient, analyzer: Analyzer[Any], analysis: Analysis, instance: str, *, heartbeat_every: datetime.timedelta
) -> AnalyzerPhase | None:
    """Run a claimed analysis to the end and report; None when the run went away meanwhile."""
    started = analysis.status.analyzers[analyzer.name].started_at or _now()
    beating = asyncio.create_task(_beat(kube, analysis, analyzer.name, instance, started, every=heartbeat_every))
    clock = time.perf_counter()
    try:
        result = await _run(kube, analyzer, analysis)
    except AnalyzerError as error:
        outcome: AnalyzerResult | str = str(error)
    except Exception as error:
        log.exception("analyzer %s failed on Analysis %s", analyzer.name, analysis.name)
        outcome = f"{type(error).__name__}: {error}"
    else:
        outcome = result
    try:
        if not await still_current(kube, analysis):
            log.info(
                "Analysis %s run %s is no longer running; results discarded", analysis.name, analysis.status.run_id
            )
            return None
        # Still beating: writing thousands of recommendations takes a while.
        upserted = 0
        if isinstance(outcome, AnalyzerResult):
            analyzed_s, clock = time.perf_counter() - clock, time.perf_counter()
            try:
                upserted = await _upsert_all(kube, analysis, analyzer.name, outcome)
            except Exception as error:
                # Those written stay Proposed; the next successful run supersedes what it no longer makes.
                log.exception("Analysis %s: writing the recommendations of %s failed", analysis.name, analyzer.name)
                outcome = f"could not write the recommendations ({type(error).__name__}: {error})"
            else:
                log.info(
                    "Analysis %s: %s analyzed %d workloads in %.1f s (%s Prometheus requests); "
                    "wrote %d recommendations in %.1f s",
                    analysis.name,
                    analyzer.name,
                    outcome.workloads,
                    analyzed_s,
                    sum((outcome.prometheus_requests or {}).values()),
                    upserted,
                    time.perf_counter() - clock,
                )
    finally:
        beating.cancel()
    finished = _now()
    section = AnalyzerStatus(
        phase=AnalyzerPhase.SUCCEEDED if isinstance(outcome, AnalyzerResult) else AnalyzerPhase.FAILED,
        run_id=analysis.status.run_id,
        claimed_by=instance,
        heartbeat_time=finished,
        started_at=started,
        finished_at=finished,
        duration_seconds=round((finished - started).total_seconds(), 3),
    )
    if isinstance(outcome, AnalyzerResult):
        section.workloads = outcome.workloads
        section.recommendations = upserted
        if outcome.prometheus_requests is not None:
            section.prometheus_requests = sum(outcome.prometheus_requests.values())
            section.prometheus_requests_by_endpoint = outcome.prometheus_requests
        section.monthly_savings = round(sum(p.spec.estimated_monthly_savings for p in outcome.proposals), 2)
        section.scope_monthly_cost = outcome.scope_monthly_cost
        section.skipped = outcome.skipped
        reason, message = "Succeeded", f"{upserted} recommendations from {outcome.workloads} workloads"
    else:
        section.error = outcome[:4096]
        reason, message = "Failed", outcome[:1024]
    patch = _section_patch(analysis, analyzer.name, section, with_version=False, reason=reason, message=message)
    await kube.apply(Analysis, patch, field_manager=field_manager(analyzer.name), status=True)
    return section.phase


async def _upsert_all(kube: KubeClient, analysis: Analysis, analyzer: str, result: AnalyzerResult) -> int:
    """Write every proposal, a few at a time (the API server takes them faster in parallel)."""
    limit = asyncio.Semaphore(UPSERT_CONCURRENCY)
    by_namespace: dict[str, list[Proposal]] = {}
    for proposal in result.proposals:
        by_namespace.setdefault(proposal.namespace, []).append(proposal)
    written = 0
    # A namespace at a time: its recommendations are read once, then let go.
    for namespace, proposals in sorted(by_namespace.items()):
        listed = await kube.list_objects(OptimizationRecommendation, namespace)
        known = {item["metadata"]["name"]: item for item in listed}

        async def one(proposal: Proposal, known: Mapping[str, Body] = known) -> bool:
            async with limit:
                return await upsert(kube, analysis, analyzer, proposal, known=known)

        written += sum(await asyncio.gather(*(one(proposal) for proposal in proposals)))
    return written


async def _run(kube: KubeClient, analyzer: Analyzer[Any], analysis: Analysis) -> AnalyzerResult:
    status = analysis.status
    if status.window_start is None or status.window_end is None or status.run_id is None:
        raise AnalyzerError(f"Analysis {analysis.name}: the operator has not frozen the window yet")
    context = RunContext(
        analysis=analysis,
        run_id=status.run_id,
        window_start=status.window_start,
        window_end=status.window_end,
        resolution=parse_duration(analysis.spec.resolution),
        settings=parse_settings(analyzer, analysis),
        namespaces=resolve_namespaces(analysis, await kube.namespaces()),
        kube=kube,
    )
    return await analyzer.run(context)


async def _beat(
    kube: KubeClient,
    analysis: Analysis,
    analyzer: str,
    instance: str,
    started: datetime.datetime,
    *,
    every: datetime.timedelta,
) -> None:
    while True:
        await asyncio.sleep(every.total_seconds())
        try:
            await heartbeat(kube, analysis, analyzer, instance, started)
        except Exception:
            log.warning("heartbeat for Analysis %s failed", analysis.name, exc_info=True)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
