"""Reconcile an Analysis: Pending → Running (frozen run) → Succeeded | Failed, schedules, TTL.

Level-based: every call looks at the whole object and moves it one step; calling it
again changes nothing. The operator owns the run's frame (phase, runId, window,
summary, Ready); each analyzer owns its own ``status.analyzers.<name>`` section and
``<Name>Complete`` condition (see ``kcost.analyzers.contract``).
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

from kcost.analyzers.contract import recommendations as proposals
from kcost.api import savings
from kcost.api.labels import LABEL_ANALYSIS, LABEL_ANALYZER
from kcost.api.v1alpha1.analysis import (
    Analysis,
    AnalysisPhase,
    AnalyzerPhase,
    AnalyzerStatus,
    PastRun,
    Progress,
    Summary,
)
from kcost.api.v1alpha1.common import parse_duration
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import (
    OPEN_PHASES,
    OptimizationRecommendation,
    RecommendationPhase,
    RecommendationReason,
    StaleMark,
)
from kcost.kube.client import KubeClient
from kcost.observability import tracing
from kcost.operator import recommendation
from kcost.operator import status as status_io

log = logging.getLogger("kcost.operator.analysis")
PAST_RUNS_KEPT = 10
# Reason of the one Event that counts what a run superseded or expired.
RECOMMENDATIONS_RETIRED = "RecommendationsRetired"
# The Analysis's one field on a recommendation (``status.stale``): a writer of its own, beside the controller.
SWEEP_FIELD_MANAGER = "kcost-operator-analysis"
# Stale marks written at once.
MARK_CONCURRENCY = 8


@dataclass
class Event:
    reason: str
    message: str
    type: str = "Normal"


@dataclass
class Step:
    """What one reconcile decided."""

    analysis: Analysis
    events: list[Event] = field(default_factory=list)
    changed: bool = False
    delete: bool = False
    sweep: bool = False


def new_run_id(now: datetime.datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def start_run(analysis: Analysis, now: datetime.datetime) -> Step:
    """Freeze a new run: its id, the window every analyzer must use, and the generation it reads."""
    status = analysis.status.model_copy(deep=True)
    window = parse_duration(analysis.spec.window)
    if status.phase in (AnalysisPhase.SUCCEEDED, AnalysisPhase.FAILED) and status.run_id:
        status.past_runs = [_past(status), *status.past_runs][:PAST_RUNS_KEPT]
    status.phase = AnalysisPhase.RUNNING
    status.run_id = new_run_id(now)
    status.trace_id = tracing.new_trace_id()
    status.window_end = now
    status.window_start = now - window
    status.started_at = now
    status.finished_at = None
    status.summary = None
    status.progress = Progress()
    status.observed_generation = analysis.generation
    names = ", ".join(a.name for a in analysis.spec.enabled_analyzers())
    status.conditions = status_io.ready(
        status.conditions, False, "Running", f"waiting for analyzers: {names}", analysis.generation
    )
    updated = analysis.model_copy(update={"status": status})
    return Step(
        updated,
        [Event("AnalysisStarted", f"run {status.run_id} over {analysis.spec.window} with {names}")],
        changed=True,
    )


def _past(status: Any) -> PastRun:
    reason = next((c.reason for c in status.conditions if c.type == status_io.READY), None)
    savings = status.summary.potential_monthly_savings if status.summary else 0.0
    return PastRun(
        run_id=status.run_id,
        phase=status.phase,
        finished_at=status.finished_at,
        potential_monthly_savings=savings,
        reason=reason,
    )


def next_scheduled(analysis: Analysis, after: datetime.datetime) -> datetime.datetime | None:
    if not analysis.spec.schedule or analysis.spec.suspend:
        return None
    following: datetime.datetime = croniter(analysis.spec.schedule, after).get_next(datetime.datetime)
    return following if following.tzinfo else following.replace(tzinfo=datetime.UTC)


def advance_running(analysis: Analysis, now: datetime.datetime) -> Step:
    """A running run: fail on an analyzer failure or on timeout; note who we still wait for.

    Success needs the run's recommendations for the summary, so ``finish`` does it.
    """
    status = analysis.status
    enabled = [a.name for a in analysis.spec.enabled_analyzers()]
    current = _current_sections(analysis)
    failed = {name: s for name, s in current.items() if s.phase is AnalyzerPhase.FAILED}
    if failed:
        detail = "; ".join(f"analyzer {name} failed: {s.error or 'no error given'}" for name, s in failed.items())
        return _finish_failed(analysis, now, "AnalyzerFailed", detail)
    waiting = [name for name in enabled if name not in current or current[name].phase is not AnalyzerPhase.SUCCEEDED]
    if not waiting:
        return Step(analysis, sweep=True)
    started = status.started_at or now
    timeout = parse_duration(analysis.spec.timeout)
    if now - started > timeout:
        return _finish_failed(analysis, now, "Timeout", _timeout_message(analysis, waiting, current, now))
    message = "waiting for analyzers: " + ", ".join(
        f"{name} ({'not claimed yet' if name not in current else current[name].phase.value.lower()})"
        for name in waiting
    )
    updated_status = status.model_copy(deep=True)
    updated_status.conditions = status_io.ready(
        status.conditions, False, "Running", message, status.observed_generation or analysis.generation
    )
    updated_status.progress = Progress(
        workloads_total=sum(s.workloads or 0 for s in current.values()),
        workloads_done=sum(s.workloads or 0 for s in current.values() if s.phase is AnalyzerPhase.SUCCEEDED),
    )
    changed = updated_status.to_api() != status.to_api()
    return Step(analysis.model_copy(update={"status": updated_status}), changed=changed)


def _current_sections(analysis: Analysis) -> dict[str, AnalyzerStatus]:
    """The enabled analyzers' sections that belong to the current run (older runs' do not count)."""
    status = analysis.status
    sections = {a.name: status.analyzers.get(a.name) for a in analysis.spec.enabled_analyzers()}
    return {name: s for name, s in sections.items() if s is not None and s.run_id == status.run_id}


def analyzers_settled(analysis: Analysis) -> bool:
    """A running run that its next reconcile ends: every analyzer succeeded, or one failed."""
    if analysis.status.phase is not AnalysisPhase.RUNNING:
        return False
    current = _current_sections(analysis)
    if any(s.phase is AnalyzerPhase.FAILED for s in current.values()):
        return True
    enabled = analysis.spec.enabled_analyzers()
    return all(a.name in current and current[a.name].phase is AnalyzerPhase.SUCCEEDED for a in enabled)


def _timeout_message(analysis: Analysis, waiting: list[str], current: dict[str, Any], now: datetime.datetime) -> str:
    parts = []
    for name in waiting:
        section = current.get(name)
        if section is None:
            parts.append(f"{name} never started (is the kcost analyzer '{name}' running?)")
        else:
            beat = section.heartbeat_time or section.started_at
            age = f"{int((now - beat).total_seconds())} s ago" if beat else "never"
            parts.append(f"{name} still {section.phase.value.lower()} (last heartbeat {age}, by {section.claimed_by})")
    return f"analyzers did not finish within {analysis.spec.timeout}: " + "; ".join(parts)


def _finish_failed(analysis: Analysis, now: datetime.datetime, reason: str, message: str) -> Step:
    status = analysis.status.model_copy(deep=True)
    status.phase = AnalysisPhase.FAILED
    status.finished_at = now
    status.next_run_at = next_scheduled(analysis, now)
    status.conditions = status_io.ready(
        status.conditions, False, reason, message, status.observed_generation or analysis.generation
    )
    return Step(
        analysis.model_copy(update={"status": status}), [Event("AnalysisFailed", message, "Warning")], changed=True
    )


def withdrawn(analysis: Analysis) -> set[str]:
    """namespace/name of what this run's succeeded analyzers no longer propose (each reports its own)."""
    return {name for section in succeeded_sections(analysis).values() for name in section.withdrawn}


def succeeded_sections(analysis: Analysis) -> dict[str, AnalyzerStatus]:
    return {
        name: section
        for name, section in analysis.status.analyzers.items()
        if section.run_id == analysis.status.run_id and section.phase is AnalyzerPhase.SUCCEEDED
    }


def proposed_by_run(
    analysis: Analysis, rec: OptimizationRecommendation, gone: set[str], succeeded: Collection[str]
) -> bool:
    """Whether this run proposes ``rec``: written by it, or left as it was (unchanged) and not withdrawn.

    An unchanged recommendation is not written again, so it still carries the run that last
    changed it: what this run confirmed is the open proposals of its analyzers it did not withdraw.
    """
    ref = rec.spec.analysis_ref
    if ref is not None and ref.run_id == analysis.status.run_id:
        return True
    analyzer = rec.metadata.get("labels", {}).get(LABEL_ANALYZER)
    return analyzer in succeeded and rec.open_proposal() and f"{rec.namespace}/{rec.name}" not in gone


def _as_proposed(rec: OptimizationRecommendation) -> OptimizationRecommendation:
    return rec.model_copy(update={"status": rec.status.model_copy(update={"phase": RecommendationPhase.PROPOSED})})


def summarize(analysis: Analysis, recommendations: list[OptimizationRecommendation]) -> Summary:
    """The run's summary from the recommendations it produced (or re-confirmed).

    Savings are counted by ``kcost.api.savings`` (alternatives for one workload count once).
    One the run proposed again counts as the Proposed the controller is about to make it.
    """
    gone, succeeded = withdrawn(analysis), set(succeeded_sections(analysis))
    proposed = [
        rec if rec.status.phase not in OPEN_PHASES else _as_proposed(rec)
        for rec in recommendations
        if proposed_by_run(analysis, rec, gone, succeeded)
    ]
    found = savings.potential_savings(proposed)
    costs = [
        s.scope_monthly_cost
        for s in analysis.status.analyzers.values()
        if s.run_id == analysis.status.run_id and s.scope_monthly_cost is not None
    ]
    current = round(max(costs), 2) if costs else None
    potential = found.potential_monthly_savings
    return Summary(
        current_monthly_cost=current,
        optimized_monthly_cost=round(max(current - potential, 0.0), 2) if current is not None else None,
        potential_monthly_savings=potential,
        recommendations=found.recommendations,
        recommendations_by_type=found.recommendations_by_type,
        savings_by_type=found.savings_by_type,
    )


def finish_succeeded(analysis: Analysis, now: datetime.datetime, summary: Summary) -> Step:
    status = analysis.status.model_copy(deep=True)
    status.phase = AnalysisPhase.SUCCEEDED
    status.finished_at = now
    status.summary = summary
    status.next_run_at = next_scheduled(analysis, now)
    total = sum(s.workloads or 0 for name, s in status.analyzers.items() if s.run_id == status.run_id)
    status.progress = Progress(workloads_total=total, workloads_done=total)
    savings = f"{summary.potential_monthly_savings:.2f}"
    message = f"{summary.recommendations} recommendations, {savings} per month potential savings"
    status.conditions = status_io.ready(
        status.conditions, True, "Succeeded", message, status.observed_generation or analysis.generation
    )
    return Step(
        analysis.model_copy(update={"status": status}),
        [Event("AnalysisSucceeded", f"run {status.run_id}: {message}")],
        changed=True,
    )


def plan_idle(analysis: Analysis, now: datetime.datetime) -> Step:
    """A finished run: start the next one (schedule or spec change), or expire (TTL)."""
    status = analysis.status
    if analysis.generation != status.observed_generation and not analysis.spec.suspend:
        return start_run(analysis, now)
    if status.next_run_at is not None and now >= status.next_run_at and not analysis.spec.suspend:
        return start_run(analysis, now)
    if analysis.spec.schedule and not analysis.spec.suspend and status.next_run_at is None and status.finished_at:
        updated = status.model_copy(update={"next_run_at": next_scheduled(analysis, status.finished_at)})
        return Step(analysis.model_copy(update={"status": updated}), changed=True)
    ttl = analysis.spec.ttl_after_finished
    if ttl and status.finished_at and not analysis.spec.schedule and now >= status.finished_at + parse_duration(ttl):
        return Step(analysis, [Event("Expired", f"deleted {ttl} after it finished")], delete=True)
    return Step(analysis)


def operator_part(analysis: Analysis) -> dict[str, Any]:
    """The status fields the operator owns, complete (server-side apply drops what is left out)."""
    data = analysis.status.to_api()
    data.pop("analyzers", None)
    data["conditions"] = status_io.owned_conditions(analysis.status.conditions, {status_io.READY})
    return data


async def reconcile(kube: KubeClient, body: dict[str, Any], now: datetime.datetime | None = None) -> Step:
    """One idempotent step for one Analysis."""
    analysis = status_io.parse(Analysis, body)
    now = now or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    phase = analysis.status.phase
    if phase in (None, AnalysisPhase.PENDING):
        step = await _plan_pending(kube, analysis, now)
    elif phase is AnalysisPhase.RUNNING:
        step = advance_running(analysis, now)
        if step.sweep:
            recommendations = await _recommendations(kube, analysis)
            step = finish_succeeded(analysis, now, summarize(analysis, recommendations))
            retired = await _sweep(kube, analysis, recommendations)
            # Said now, not with the step: after a conflict on the write below, the retry
            # finds nothing left to retire and would not say it.
            await _post(kube, analysis, [retired] if retired else [])
    else:
        step = plan_idle(analysis, now)
    await _carry_out(kube, step)
    return step


async def _plan_pending(kube: KubeClient, analysis: Analysis, now: datetime.datetime) -> Step:
    profile = analysis.spec.profile_ref.name
    if await kube.get_raw(ClusterCostProfile, profile) is None:
        message = f"ClusterCostProfile {profile!r} not found: create it, or fix spec.profileRef.name"
        status = analysis.status.model_copy(deep=True)
        status.phase = AnalysisPhase.PENDING
        status.conditions = status_io.ready(status.conditions, False, "ProfileNotFound", message, analysis.generation)
        pending = analysis.model_copy(update={"status": status})
        changed = status.to_api() != analysis.status.to_api()
        return Step(pending, [Event("ProfileNotFound", message, "Warning")] if changed else [], changed=changed)
    return start_run(analysis, now)


async def _recommendations(kube: KubeClient, analysis: Analysis) -> list[OptimizationRecommendation]:
    # The one listing of the operator, thousands long: streamed from the watch cache (KubeClient.stream).
    selector = f"{LABEL_ANALYSIS}={analysis.name}"
    return [rec async for rec in kube.stream(OptimizationRecommendation, label_selector=selector)]


async def _sweep(
    kube: KubeClient, analysis: Analysis, recommendations: list[OptimizationRecommendation]
) -> Event | None:
    """Mark stale what this run's analyzers withdrew: Expired if the workload is gone, else Superseded.

    Only the mark (``status.stale``) is written here, by its own field manager, and only on
    the recommendations that became stale; the recommendation controller sets their phase.
    The Analysis gets one Event with the counts (a run can retire thousands, and an Event
    each would bury the ones that matter).
    """
    gone = withdrawn(analysis)
    stale = [rec for rec in recommendations if f"{rec.namespace}/{rec.name}" in gone and rec.open_proposal()]
    retired = {RecommendationReason.NO_LONGER_QUALIFIES: 0, RecommendationReason.TARGET_GONE: 0}

    async def mark(rec: OptimizationRecommendation) -> None:
        run_id = analysis.status.run_id or ""
        if await recommendation.target_exists(kube, rec):
            reason = RecommendationReason.NO_LONGER_QUALIFIES
            message = f"run {run_id} found no {rec.spec.type.value} change worth making"
        else:
            target = rec.spec.target_ref
            reason = RecommendationReason.TARGET_GONE
            message = f"{target.kind} {rec.namespace}/{target.name} no longer exists"
        ref = rec.spec.analysis_ref
        found = StaleMark(run_id=run_id, proposed_in_run_id=ref.run_id if ref else None, reason=reason, message=message)
        await kube.apply(
            OptimizationRecommendation,
            {"metadata": {"name": rec.name, "namespace": rec.namespace}, "status": {"stale": found.to_api()}},
            field_manager=SWEEP_FIELD_MANAGER,
            status=True,
        )
        retired[reason] += 1

    await proposals.bounded(stale, mark, MARK_CONCURRENCY)
    return sweep_event(
        analysis, retired[RecommendationReason.NO_LONGER_QUALIFIES], retired[RecommendationReason.TARGET_GONE]
    )


def sweep_event(analysis: Analysis, superseded: int, expired: int) -> Event | None:
    """One Event for everything a run retired, or None when it retired nothing."""
    if not superseded and not expired:
        return None
    return Event(
        RECOMMENDATIONS_RETIRED,
        f"run {analysis.status.run_id}: {superseded} recommendations superseded (no change worth making any more), "
        f"{expired} expired (workload gone)",
    )


async def _carry_out(kube: KubeClient, step: Step) -> None:
    if step.delete:
        await kube.delete(Analysis, step.analysis.name)
    elif step.changed:
        await status_io.apply_status(kube, step.analysis, operator_part(step.analysis))
    await _post(kube, step.analysis, step.events)


async def _post(kube: KubeClient, analysis: Analysis, events: list[Event]) -> None:
    body = analysis.model_dump(by_alias=True, mode="json")
    for event in events:
        try:
            await kube.event(body, reason=event.reason, message=event.message, event_type=event.type)
        except Exception:
            log.warning("could not record event %s on %s", event.reason, analysis.display_name, exc_info=True)
