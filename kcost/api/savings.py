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


def workload_of(rec: OptimizationRecommendation) -> Workload:
    """The workload ``rec`` changes."""
    return (rec.namespace or "", rec.spec.target_ref.kind, rec.spec.target_ref.name)


def best_by_workload(
    recommendations: Iterable[OptimizationRecommendation],
) -> dict[Workload, OptimizationRecommendation]:
    """Each workload's open recommendation with the largest savings: what the total counts."""
    best: dict[Workload, OptimizationRecommendation] = {}
    for rec in recommendations:
        if not counts_toward_savings(rec):
            continue
        workload = workload_of(rec)
        kept = best.get(workload)
        if kept is None or rec.spec.estimated_monthly_savings > kept.spec.estimated_monthly_savings:
            best[workload] = rec
    return best


def potential_savings(recommendations: Iterable[OptimizationRecommendation]) -> Savings:
    """The savings of the open recommendations, each workload counted once (its largest proposal)."""
    opened = [rec for rec in recommendations if counts_toward_savings(rec)]
    count_by_type: dict[str, int] = {}
    savings_by_type: dict[str, float] = {}
    for rec in opened:
        kind, savings = rec.spec.type.value, rec.spec.estimated_monthly_savings
        count_by_type[kind] = count_by_type.get(kind, 0) + 1
        savings_by_type[kind] = savings_by_type.get(kind, 0.0) + savings
    best = best_by_workload(opened)
    return Savings(
        potential_monthly_savings=round(sum(rec.spec.estimated_monthly_savings for rec in best.values()), 2),
        recommendations=sum(count_by_type.values()),
        recommendations_by_type=dict(sorted(count_by_type.items())),
        savings_by_type={kind: round(value, 2) for kind, value in sorted(savings_by_type.items())},
    )
