"""Proposals as OptimizationRecommendations: deterministic names, no duplicates, hands off what users acted on.

A run reads the recommendations once (a page at a time) and compares them in memory with
its proposals (``plan``), so that at scale it writes only what changed:

- new, changed, or proposed again after it went stale: one server-side apply of the
  metadata and the spec (which creates a new one: one API call);
- unchanged (the same content and owner, still an open proposal), or changed only inside
  the proposal's hysteresis band (``hysteresis``): nothing is written;
- acted on by somebody (approved, applying, applied, rejected…): left alone;
- this Analysis's open proposals from this analyzer that the run did not make again:
  ``withdrawn``, reported in the analyzer's status section. The Analysis decides what
  is stale, and the recommendation controller sets the phase.

The analyzer writes no status at all: ``spec.analysisRef.runId`` is its run marker,
written with the spec in the same apply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kcost.analyzers.contract import hysteresis
from kcost.analyzers.contract.plugin import Proposal, field_manager
from kcost.api.labels import LABEL_ANALYSIS, LABEL_ANALYZER, LABEL_MANAGED_BY, LABEL_TYPE
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.recommendation import (
    OPEN_PHASES,
    OptimizationRecommendation,
    OptimizationRecommendationSpec,
    RecommendationPhase,
)
from kcost.kube.client import Body, KubeClient, NotFound
from kcost.observability import tracing

# What a run decides anew each time; the rest of the content must match for a change inside the band to be kept.
DECIDED_FIELDS = ("changes", "estimatedMonthlySavings")
# Recommendations written at once: enough to keep the API server busy, few enough not to flood it.
UPSERT_CONCURRENCY = 8
# Floats are compared at this precision: a percentile that moved in its 12th digit is no new proposal.
SIGNIFICANT_DIGITS = 4
# The run's frame, not the proposal's content: a later run over the same data proposes the same thing.
# The evidence is the run's too: a window that slid by a few samples moves its percentiles and
# sparkline, not the decision. It is written again whenever the decision changes.
FRAME_FIELDS = ("analysisRef", "approval", "evidence")
# Confidence is compared at this many decimals: it moves with the sample count, not with the proposal.
CONFIDENCE_DECIMALS = 2
# (namespace, name) of a recommendation.
Key = tuple[str, str]


@dataclass(frozen=True)
class Write:
    """A proposal to write; ``take_over``: another Analysis owns the object and must hand it over first."""

    proposal: Proposal
    name: str
    take_over: bool = False


@dataclass
class WritePlan:
    """What one run writes, leaves as it is, and no longer proposes."""

    writes: list[Write] = field(default_factory=list)
    unchanged: int = 0
    left_alone: int = 0
    withdrawn: list[str] = field(default_factory=list)  # namespace/name

    @property
    def proposed(self) -> int:
        """The recommendations this run proposes: written now or confirmed unchanged."""
        return len(self.writes) + self.unchanged


def content(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What a proposal decides, comparable across runs: without the run's frame, floats at ``SIGNIFICANT_DIGITS``."""
    kept = {key: value for key, value in spec.items() if key not in FRAME_FIELDS}
    if isinstance(kept.get("confidence"), float):
        kept["confidence"] = round(kept["confidence"], CONFIDENCE_DECIMALS)
    rounded: dict[str, Any] = _rounded(kept)
    return rounded


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, Mapping):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def _same_decision(stored: Mapping[str, Any], proposal: Proposal) -> bool:
    """The stored spec decides what the proposal does, or differs from it only inside the proposal's band."""
    proposed = proposal.spec  # read back from its JSON: once
    fresh = content(proposed.to_api())
    kept = content(stored)
    if kept == fresh:
        return True
    band = proposal.hysteresis
    if band is None or any(
        kept.get(key) != fresh.get(key) for key in (kept.keys() | fresh.keys()) - set(DECIDED_FIELDS)
    ):
        return False
    try:
        open_spec = OptimizationRecommendationSpec.model_validate(stored)
    except ValueError:
        return False  # written by an older schema: replace it
    savings_moved_usd = proposed.estimated_monthly_savings - open_spec.estimated_monthly_savings
    return hysteresis.inside_band(open_spec.changes, proposed.changes, savings_moved_usd, band)


def owner_reference(analysis: Analysis) -> dict[str, Any]:
    return {
        "apiVersion": analysis.api_version,
        "kind": "Analysis",
        "name": analysis.name,
        "uid": analysis.uid,
        "controller": True,
        "blockOwnerDeletion": False,
    }


def _open_proposal(existing: Body) -> bool:
    """``OptimizationRecommendation.open_proposal`` on the raw body: ten thousand are not parsed for it."""
    status = existing.get("status") or {}
    if status.get("phase") not in (None, RecommendationPhase.PROPOSED.value):
        return False
    stale = status.get("stale")
    if stale is None:
        return True
    proposed_in = ((existing.get("spec") or {}).get("analysisRef") or {}).get("runId")
    return bool(stale.get("proposedInRunId") != proposed_in)


def _acted_on(existing: Body) -> bool:
    phase = (existing.get("status") or {}).get("phase")
    return phase is not None and RecommendationPhase(phase) not in OPEN_PHASES


async def plan(
    existing: AsyncIterable[Body], analysis: Analysis, analyzer: str, proposals: Iterable[Proposal]
) -> WritePlan:
    """Compare the stored recommendations (read once, a page at a time) with the proposals, in memory."""
    wanted = {(made.namespace, made.name): made for made in proposals}
    owner = [owner_reference(analysis)]
    result = WritePlan()
    seen: set[Key] = set()
    async for body in existing:
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        labels = metadata.get("labels") or {}
        proposal = wanted.get(key)
        if proposal is None:
            mine = labels.get(LABEL_ANALYSIS) == analysis.name and labels.get(LABEL_ANALYZER) == analyzer
            if mine and _open_proposal(body):
                result.withdrawn.append("/".join(key))
            continue
        seen.add(key)
        if _acted_on(body):
            result.left_alone += 1
            continue
        owned = metadata.get("ownerReferences") in (None, owner)
        same = (
            owned
            and labels.get(LABEL_ANALYSIS) == analysis.name
            and labels.get(LABEL_ANALYZER) == analyzer
            and _open_proposal(body)
            and _same_decision(body.get("spec") or {}, proposal)
        )
        if same:
            result.unchanged += 1
        else:
            result.writes.append(Write(proposal, key[1], take_over=not owned))
    result.writes.extend(Write(proposal, key[1]) for key, proposal in wanted.items() if key not in seen)
    result.withdrawn.sort()
    return result


def body_of(analysis: Analysis, analyzer: str, write: Write) -> dict[str, Any]:
    """The analyzer's whole part of a recommendation: metadata and spec, with the run marker."""
    parsed = write.proposal.spec  # read back from its JSON: once
    spec = parsed.to_api()
    spec.pop("approval", None)  # approval belongs to users, the policy engine and the webhook
    spec["analysisRef"] = {"name": analysis.name, "runId": analysis.status.run_id, "analyzer": analyzer}
    return {
        "metadata": {
            "name": write.name,
            "namespace": write.proposal.namespace,
            "labels": {
                LABEL_ANALYSIS: analysis.name,
                LABEL_ANALYZER: analyzer,
                LABEL_TYPE: parsed.type.value,
                LABEL_MANAGED_BY: "kcost",
            },
            "ownerReferences": [owner_reference(analysis)],
        },
        "spec": spec,
    }


async def write_one(kube: KubeClient, analysis: Analysis, analyzer: str, write: Write) -> None:
    """One apply (it creates a new one); a hand-over from another Analysis costs one patch more."""
    if write.take_over:
        # Apply would merge the two owners (and two controllers are invalid): replace the list.
        owners = {"metadata": {"ownerReferences": [owner_reference(analysis)]}}
        with contextlib.suppress(NotFound):  # deleted meanwhile (its Analysis went away): the apply creates it
            await kube.merge_patch(OptimizationRecommendation, write.name, write.proposal.namespace, owners)
    await kube.apply(
        OptimizationRecommendation, body_of(analysis, analyzer, write), field_manager=field_manager(analyzer)
    )


T = TypeVar("T")


async def bounded(items: Iterable[T], fn: Callable[[T], Awaitable[None]], limit: int) -> None:
    """``fn`` on every item, at most ``limit`` at a time (a few workers, not one task per item)."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await fn(item)

    await asyncio.gather(*(worker() for _ in range(limit)))


@tracing.traced("write recommendations", **{"kcost.analyzer": "analyzer"})
async def upsert_all(kube: KubeClient, analysis: Analysis, analyzer: str, proposals: Iterable[Proposal]) -> WritePlan:
    """Write what is new or changed, a few at a time; returns the plan carried out."""
    stored = kube.stream_raw(OptimizationRecommendation, label_selector=f"{LABEL_MANAGED_BY}=kcost")
    result = await plan(stored, analysis, analyzer, proposals)

    async def one(write: Write) -> None:
        await write_one(kube, analysis, analyzer, write)

    await bounded(result.writes, one, UPSERT_CONCURRENCY)
    return result
