"""One run of one analyzer: its settings parsed, the plugin run, the proposals written, the outcome reported."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from kcost.analyzers.contract import claims, recommendations
from kcost.analyzers.contract.plugin import Analyzer, AnalyzerError, AnalyzerResult, RunContext, field_manager
from kcost.api.v1alpha1.analysis import Analysis, AnalyzerPhase, AnalyzerStatus
from kcost.api.v1alpha1.common import parse_duration
from kcost.kube.client import KubeClient

log = logging.getLogger("kcost.analyzers")


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
    started = analysis.status.analyzers[analyzer.name].started_at or claims.utc_now()
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
        if not await claims.still_current(kube, analysis):
            log.info(
                "Analysis %s run %s is no longer running; results discarded", analysis.name, analysis.status.run_id
            )
            return None
        # Still beating: writing thousands of recommendations takes a while.
        written = recommendations.WritePlan()
        if isinstance(outcome, AnalyzerResult):
            analyzed_s, clock = time.perf_counter() - clock, time.perf_counter()
            try:
                written = await recommendations.upsert_all(kube, analysis, analyzer.name, outcome.proposals)
            except Exception as error:
                # What was written stays; the next successful run compares with it and withdraws the rest.
                log.exception("Analysis %s: writing the recommendations of %s failed", analysis.name, analyzer.name)
                outcome = f"could not write the recommendations ({type(error).__name__}: {error})"
            else:
                log.info(
                    "Analysis %s: %s analyzed %d workloads in %.3f s (%s Prometheus requests); "
                    "wrote %d recommendations in %.3f s (%d unchanged, %d left alone, %d withdrawn)",
                    analysis.name,
                    analyzer.name,
                    outcome.workloads,
                    analyzed_s,
                    sum((outcome.prometheus_requests or {}).values()),
                    len(written.writes),
                    time.perf_counter() - clock,
                    written.unchanged,
                    written.left_alone,
                    len(written.withdrawn),
                )
    finally:
        beating.cancel()
    finished = claims.utc_now()
    section = AnalyzerStatus(
        phase=AnalyzerPhase.SUCCEEDED if isinstance(outcome, AnalyzerResult) else AnalyzerPhase.FAILED,
        run_id=analysis.status.run_id,
        claimed_by=instance,
        heartbeat_time=finished,
        started_at=started,
        finished_at=finished,
        duration_seconds=round((finished - started).total_seconds(), 3),
    )
    reason, message = _report(section, outcome, written)
    patch = claims.section_patch(analysis, analyzer.name, section, with_version=False, reason=reason, message=message)
    await kube.apply(Analysis, patch, field_manager=field_manager(analyzer.name), status=True)
    return section.phase


def _report(
    section: AnalyzerStatus, outcome: AnalyzerResult | str, written: recommendations.WritePlan
) -> tuple[str, str]:
    """Fill the section from what the run found (or why it failed); the condition's reason and message."""
    if isinstance(outcome, str):
        section.error = outcome[:4096]
        return "Failed", outcome[:1024]
    section.workloads = outcome.workloads
    section.recommendations = written.proposed
    section.recommendations_written = len(written.writes)
    section.withdrawn = written.withdrawn
    if outcome.prometheus_requests is not None:
        section.prometheus_requests = sum(outcome.prometheus_requests.values())
        section.prometheus_requests_by_endpoint = outcome.prometheus_requests
    if outcome.window is not None:
        section.window_start, section.window_end = outcome.window
    section.monthly_savings = round(sum(p.spec.estimated_monthly_savings for p in outcome.proposals), 2)
    section.scope_monthly_cost = outcome.scope_monthly_cost
    section.skipped = outcome.skipped
    section.anomalous_workloads = outcome.anomalous_workloads[:1000]
    anomalous = f"; usage anomalous in {len(outcome.anomalous_workloads)}" if outcome.anomalous_workloads else ""
    return "Succeeded", f"{written.proposed} recommendations from {outcome.workloads} workloads{anomalous}"


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
        namespaces=claims.resolve_namespaces(analysis, await kube.namespaces()),
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
            await claims.heartbeat(kube, analysis, analyzer, instance, started)
        except Exception:
            log.warning("heartbeat for Analysis %s failed", analysis.name, exc_info=True)
