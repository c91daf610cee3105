"""The operator's auto-approver: approve what the governing policy allows, hold the rest with the reason."""

from __future__ import annotations

import datetime
from typing import Any

from kcost.api import matching
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.operator.rollout import approver

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
AUTO = {"mode": "auto-apply", "autoApprove": {"minConfidence": 0.9, "maxChangePercent": 60}}


def policy(name: str = "auto", **spec: Any) -> OptimizationPolicy:
    return OptimizationPolicy.model_validate({"metadata": {"name": name}, "spec": {**AUTO, **spec}})


def rec(confidence: float = 0.95) -> OptimizationRecommendation:
    def shape(cpu: str) -> dict[str, Any]:
        return {"containers": [{"name": "app", "requests": {"cpu": cpu}}]}

    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop", "generation": 1},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "type": "right-sizing",
                "changes": shape("400m"),
                "current": shape("500m"),
                "estimatedMonthlySavings": 5.0,
                "confidence": confidence,
                "riskLevel": "low",
                "evidence": {"method": "test"},
            },
        }
    )


def test_an_allowed_proposal_is_approved_on_the_policys_behalf() -> None:
    decision = approver.decide(rec(), matching.Governing(policy=policy()), NOW, None)
    assert decision.approval is not None
    assert decision.approval["approvedBy"] == "policy/auto"
    assert decision.held is None


def test_a_held_proposal_says_why_once() -> None:
    decision = approver.decide(rec(confidence=0.5), matching.Governing(policy=policy()), NOW, None)
    assert decision.approval is None
    assert decision.held is not None
    held = next(c for c in decision.held.status.conditions if c.type == approver.AUTO_APPROVAL)
    assert held.reason == approver.HELD
    assert "confidence 0.50 is below minConfidence 0.90" in held.message
    again = approver.decide(decision.held, matching.Governing(policy=policy()), NOW, None)
    assert again.held is None, "the same hold is not written twice"
    assert again.recheck_after_s == approver.RECHECK_HELD_S


def test_a_conflict_holds_and_names_both_policies() -> None:
    governing = matching.Governing(conflicting=(policy("a"), policy("b")))
    decision = approver.decide(rec(), governing, NOW, None)
    assert decision.held is not None
    held = next(c for c in decision.held.status.conditions if c.type == approver.AUTO_APPROVAL)
    assert held.reason == approver.CONFLICT
    assert "a, b" in held.message


def test_a_policy_with_an_invalid_window_holds_instead_of_failing() -> None:
    window = {"schedule": "0 2 * * *", "duration": "1h", "timeZone": "Mars/Olympus"}
    decision = approver.decide(rec(), matching.Governing(policy=policy(maintenanceWindows=[window])), NOW, None)
    assert decision.held is not None
    held = next(c for c in decision.held.status.conditions if c.type == approver.AUTO_APPROVAL)
    assert held.reason == approver.INVALID_POLICY
    assert "Mars/Olympus" in held.message


def test_a_recommend_only_policy_or_none_leaves_it_alone() -> None:
    assert approver.decide(rec(), matching.Governing(policy=policy(mode="recommend")), NOW, None) == approver.Decision()
    assert approver.decide(rec(), matching.Governing(), NOW, None) == approver.Decision()
