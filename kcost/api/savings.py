"""Potential savings of a set of recommendations: one rule for every summary.

The Analysis ``status.summary`` (operator) and ``kubectl cost summary`` both count
savings here, so the two never disagree:

- only savings still to be had count: recommendations not yet given a phase,
  Proposed or Approved (``SAVINGS_PHASES``); applied, rejected, superseded… ones
  are either realized or off the table;
- two recommendations for one workload (say, idle and right-sizing) are
  alternatives: the total counts the larger one only. The per-type sums count
  each recommendation, as they answer "what would this type of change save".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase

SAVINGS_PHASES: frozenset[RecommendationPhase | None] = frozenset(
    {None, RecommendationPhase.PROPOSED, RecommendationPhase.APPROVED}
)


@dataclass(frozen=True)
class Savings:
    """What a set of recommendations could save per month, in their currency."""

    potential_monthly_savings: float
    recommendations: int
    recommendations_by_type: dict[str, int]
    savings_by_type: dict[str, float]


def counts_toward_savings(rec: OptimizationRecommendation) -> bool:
    """Whether ``rec``'s savings are still to be had (see ``SAVINGS_PHASES``)."""
    return rec.status.phase in SAVINGS_PHASES


Workload = tuple[str, str, str]
"""(namespace, target kind, target name): the unit whose alternatives count once."""


class Proposal(NamedTuple):
    """What the rule needs of one recommendation (the operator's watch cache keeps just this)."""

    workload: Workload
    type: str
    open: bool
    monthly_savings: float


def proposal_of(rec: OptimizationRecommendation) -> Proposal:
    """The part of ``rec`` the rule reads."""
    target = rec.spec.target_ref
    return Proposal(
        (rec.namespace or "", target.kind, target.name),
        rec.spec.type.value,
        counts_toward_savings(rec),
        rec.spec.estimated_monthly_savings,
    )


def best_by_workload(proposals: Iterable[Proposal]) -> dict[Workload, Proposal]:
    """Each workload's open proposal with the largest savings: what the total counts."""
    best: dict[Workload, Proposal] = {}
    for proposal in proposals:
        if not proposal.open:
            continue
        kept = best.get(proposal.workload)
        if kept is None or proposal.monthly_savings > kept.monthly_savings:
            best[proposal.workload] = proposal
    return best


def potential_savings(recommendations: Iterable[OptimizationRecommendation]) -> Savings:
    """The savings of the open recommendations, each workload counted once (its largest proposal)."""
    proposals = [proposal_of(rec) for rec in recommendations if counts_toward_savings(rec)]
    count_by_type: dict[str, int] = {}
    savings_by_type: dict[str, float] = {}
    for proposal in proposals:
        count_by_type[proposal.type] = count_by_type.get(proposal.type, 0) + 1
        savings_by_type[proposal.type] = savings_by_type.get(proposal.type, 0.0) + proposal.monthly_savings
    best = best_by_workload(proposals)
    return Savings(
        potential_monthly_savings=round(sum(proposal.monthly_savings for proposal in best.values()), 2),
        recommendations=sum(count_by_type.values()),
        recommendations_by_type=dict(sorted(count_by_type.items())),
        savings_by_type={kind: round(value, 2) for kind, value in sorted(savings_by_type.items())},
    )
