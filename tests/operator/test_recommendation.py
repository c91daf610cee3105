"""Every branch of the recommendation lifecycle decision."""

from __future__ import annotations

from typing import Any

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase
from kcost.operator import recommendation


def make(
    phase: str | None = None, approval: dict[str, Any] | None = None, reason: str | None = None
) -> OptimizationRecommendation:
    status: dict[str, Any] = {}
    if phase:
        status["phase"] = phase
    if reason:
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True",
                "reason": reason,
                "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ]
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "r", "namespace": "shop", "generation": 3},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "type": "right-sizing",
                "changes": {},
                "current": {},
                "estimatedMonthlySavings": 10,
                "confidence": 0.8,
                "riskLevel": "low",
                "evidence": {"method": "m"},
                "approval": approval or {},
            },
            "status": status,
        }
    )


def phase_after(rec: OptimizationRecommendation, exists: bool = True) -> RecommendationPhase | None:
    decided = recommendation.decide(rec, exists)
    return None if decided is None else decided.status.phase


def test_new_becomes_proposed_with_the_savings_in_the_message() -> None:
    decided = recommendation.decide(make(), True)
    assert decided is not None
    assert decided.status.phase is RecommendationPhase.PROPOSED
    assert "saves 10.00 USD/month" in decided.status.conditions[0].message
    assert decided.status.observed_generation == 3


def test_transitions() -> None:
    assert phase_after(make("Proposed", reason="Proposed")) is None, "nothing to do"
    assert phase_after(make("Proposed", reason="NoLongerQualifies")) is RecommendationPhase.PROPOSED, "re-proposed"
    assert phase_after(make("Proposed", {"approved": True, "approvedBy": "alice"})) is RecommendationPhase.APPROVED
    assert phase_after(make("Proposed", {"rejected": True})) is RecommendationPhase.REJECTED
    assert phase_after(make("Proposed"), exists=False) is RecommendationPhase.EXPIRED
    assert phase_after(make("Expired"), exists=False) is None
    assert phase_after(make("Superseded", {"approved": True})) is None, "a superseded change cannot be approved"
    for acted_on in ("Approved", "Applying", "Applied", "RolledBack", "Failed", "Rejected"):
        assert phase_after(make(acted_on), exists=False) is None, acted_on


def test_operator_part_is_complete() -> None:
    decided = recommendation.decide(make(), True)
    assert decided is not None
    part = recommendation.operator_part(decided)
    assert part["phase"] == "Proposed"
    assert part["observedGeneration"] == 3
    assert [c["type"] for c in part["conditions"]] == ["Ready"]
