"""Every branch of the recommendation lifecycle decision."""

from __future__ import annotations

from typing import Any

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase
from kcost.operator import recommendation

PROPOSED_MESSAGE = "saves 10.00 USD/month; approve to apply"


def make(
    phase: str | None = None,
    approval: dict[str, Any] | None = None,
    reason: str | None = None,
    *,
    message: str = "",
    ready: str = "True",
    stale: dict[str, Any] | None = None,
    run_id: str = "run-1",
    savings: float = 10,
) -> OptimizationRecommendation:
    status: dict[str, Any] = {}
    if phase:
        status["phase"] = phase
    if reason:
        status["conditions"] = [
            {
                "type": "Ready",
                "status": ready,
                "reason": reason,
                "message": message,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ]
    if stale:
        status["stale"] = stale
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "r", "namespace": "shop", "generation": 3},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "type": "right-sizing",
                "changes": {},
                "current": {},
                "estimatedMonthlySavings": savings,
                "confidence": 0.8,
                "riskLevel": "low",
                "evidence": {"method": "m"},
                "approval": approval or {},
                "analysisRef": {"name": "a", "runId": run_id, "analyzer": "rightsizing"},
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


def test_born_proposed_is_left_as_it_is_until_it_moves() -> None:
    born = make("Proposed")  # as the API server shows a new one: the schema's default, no Ready
    assert recommendation.decide(born, True) is None, "no status write for a new recommendation"
    assert recommendation.decide(make("Proposed", savings=12), True) is None, "its message is its spec's"
    assert phase_after(make("Proposed", {"approved": True})) is RecommendationPhase.APPROVED
    assert phase_after(make("Proposed", stale=mark("NoLongerQualifies"))) is RecommendationPhase.SUPERSEDED
    assert phase_after(born, exists=False) is RecommendationPhase.EXPIRED


def test_transitions() -> None:
    proposed = make("Proposed", reason="Proposed", message=PROPOSED_MESSAGE)
    assert phase_after(proposed) is None, "nothing to do"
    assert phase_after(make("Proposed", reason="NoLongerQualifies")) is RecommendationPhase.PROPOSED, "re-proposed"
    assert phase_after(make("Proposed", {"approved": True, "approvedBy": "alice"})) is RecommendationPhase.APPROVED
    assert phase_after(make("Proposed", {"rejected": True})) is RecommendationPhase.REJECTED
    assert phase_after(make("Proposed"), exists=False) is RecommendationPhase.EXPIRED
    assert phase_after(make("Expired"), exists=False) is None
    for acted_on in ("Approved", "Applying", "Applied", "RolledBack", "Failed", "Rejected"):
        assert phase_after(make(acted_on), exists=False) is None, acted_on


def mark(reason: str, proposed_in: str = "run-1") -> dict[str, Any]:
    return {"runId": "run-2", "proposedInRunId": proposed_in, "reason": reason, "message": "found stale by run-2"}


def test_a_stale_mark_becomes_the_phase_until_a_later_run_proposes_it_again() -> None:
    superseded = recommendation.decide(
        make("Proposed", reason="Proposed", message=PROPOSED_MESSAGE, stale=mark("NoLongerQualifies")), True
    )
    assert superseded is not None
    assert superseded.status.phase is RecommendationPhase.SUPERSEDED
    ready = superseded.status.conditions[0]
    assert (ready.status.value, ready.reason, ready.message) == ("False", "NoLongerQualifies", "found stale by run-2")
    assert recommendation.decide(superseded, True) is None, "settled: nothing more to write"
    expired = make("Proposed", reason="Proposed", message=PROPOSED_MESSAGE, stale=mark("TargetGone"))
    assert phase_after(expired) is RecommendationPhase.EXPIRED
    approved = make("Superseded", {"approved": True}, stale=mark("NoLongerQualifies"))
    assert phase_after(approved) is RecommendationPhase.SUPERSEDED, "a superseded change cannot be approved"
    again = make("Superseded", stale=mark("NoLongerQualifies"), run_id="run-3")
    assert phase_after(again) is RecommendationPhase.PROPOSED, "run-3 proposed it again: the mark is about run-1"


def test_a_changed_proposal_gets_its_new_message() -> None:
    changed = make("Proposed", reason="Proposed", message=PROPOSED_MESSAGE, savings=12)
    decided = recommendation.decide(changed, True)
    assert decided is not None
    assert decided.status.conditions[0].message == "saves 12.00 USD/month; approve to apply"


def test_operator_part_is_complete() -> None:
    decided = recommendation.decide(make(), True)
    assert decided is not None
    part = recommendation.operator_part(decided)
    assert part["phase"] == "Proposed"
    assert part["observedGeneration"] == 3
    assert [c["type"] for c in part["conditions"]] == ["Ready"]
