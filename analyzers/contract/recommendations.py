"""Proposals as OptimizationRecommendations: deterministic names, no duplicates, hands off what users acted on."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from kcost.analyzers.contract.plugin import AnalyzerResult, Proposal, field_manager
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import READY, Condition, Conditions
from kcost.api.v1alpha1.recommendation import (
    OPEN_PHASES,
    OptimizationRecommendation,
    RecommendationPhase,
    recommendation_name,
)
from kcost.kube.client import Body, KubeClient, NotFound
from kcost.observability import tracing

LABEL_ANALYSIS = "kcost.dev/analysis"
LABEL_ANALYZER = "kcost.dev/analyzer"
LABEL_TYPE = "kcost.dev/type"
# Recommendations written at once: enough to keep the API server busy, few enough not to flood it.
UPSERT_CONCURRENCY = 8


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
        existing = await kube.get_raw(OptimizationRecommendation, name, proposal.namespace)
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


@tracing.traced("write recommendations", **{"kcost.analyzer": "analyzer"})
async def upsert_all(kube: KubeClient, analysis: Analysis, analyzer: str, result: AnalyzerResult) -> int:
    """Write every proposal, a few at a time (the API server takes them faster in parallel)."""
    limit = asyncio.Semaphore(UPSERT_CONCURRENCY)
    by_namespace: dict[str, list[Proposal]] = {}
    for proposal in result.proposals:
        by_namespace.setdefault(proposal.namespace, []).append(proposal)
    written = 0
    # A namespace at a time: its recommendations are read once, then let go.
    for namespace, proposals in sorted(by_namespace.items()):
        listed = await kube.list_raw(OptimizationRecommendation, namespace)
        known = {item["metadata"]["name"]: item for item in listed}

        async def one(proposal: Proposal, known: Mapping[str, Body] = known) -> bool:
            async with limit:
                return await upsert(kube, analysis, analyzer, proposal, known=known)

        written += sum(await asyncio.gather(*(one(proposal) for proposal in proposals)))
    return written
