"""Finding work, claiming a run idempotently, heart-beating it, and checking it is still current."""

from __future__ import annotations

import datetime
from typing import Any

from kcost.analyzers.contract.plugin import field_manager
from kcost.api.scope import select_namespaces
from kcost.api.v1alpha1.analysis import (
    Analysis,
    AnalysisPhase,
    AnalyzerPhase,
    AnalyzerStatus,
    complete_condition_type,
)
from kcost.api.v1alpha1.common import Conditions, ConditionStatus
from kcost.kube.client import Conflict, KubeClient


def resolve_namespaces(analysis: Analysis, namespaces: list[dict[str, Any]]) -> list[str]:
    """The namespaces an Analysis covers (see ``kcost.api.scope``)."""
    return select_namespaces(analysis.spec.namespaces, analysis.spec.namespace_selector, namespaces)


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


def section_patch(
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
    # An empty map or list is left out, not applied: applied over the previous run's entries, the
    # API server prunes them to null and refuses the whole patch (the run would never be claimed).
    fields = {name: value for name, value in section.to_api().items() if value not in ({}, [])}
    return {
        "metadata": metadata,
        "status": {"analyzers": {analyzer: fields}, "conditions": [c.to_api() for c in mine]},
    }


async def claim(kube: KubeClient, analysis: Analysis, analyzer: str, instance: str) -> Analysis | None:
    """Take the run for this instance; None when another instance got there first."""
    now = utc_now()
    section = AnalyzerStatus(
        phase=AnalyzerPhase.RUNNING,
        run_id=analysis.status.run_id,
        claimed_by=instance,
        heartbeat_time=now,
        started_at=now,
    )
    patch = section_patch(
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
        heartbeat_time=utc_now(),
        started_at=started_at,
    )
    patch = section_patch(
        analysis, analyzer, section, with_version=False, reason="Running", message=f"claimed by {instance}"
    )
    await kube.apply(Analysis, patch, field_manager=field_manager(analyzer), status=True)


async def still_current(kube: KubeClient, analysis: Analysis) -> bool:
    """The run this analyzer works on is still the running one."""
    fresh = await kube.get(Analysis, analysis.name)
    if fresh is None:
        return False
    return fresh.status.phase is AnalysisPhase.RUNNING and fresh.status.run_id == analysis.status.run_id


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
