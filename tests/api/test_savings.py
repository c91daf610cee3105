"""The one savings rule behind the Analysis summary and `kubectl cost summary`."""

from __future__ import annotations

import pytest

from kcost.api import savings
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation


def _rec(
    workload: str, rec_type: str, monthly_savings: float, phase: str | None = "Proposed"
) -> OptimizationRecommendation:
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": f"{workload}-{rec_type}", "namespace": "shop"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload},
                "type": rec_type,
                "changes": {},
                "current": {},
                "estimatedMonthlySavings": monthly_savings,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "test"},
            },
            "status": {"phase": phase} if phase else {},
        }
    )


def test_alternatives_for_one_workload_count_once() -> None:
    found = savings.potential_savings(
        [_rec("web", "right-sizing", 10.0), _rec("web", "idle-workload", 25.0), _rec("api", "right-sizing", 4.5)]
    )
    assert found.potential_monthly_savings == 29.5, "web's larger proposal (25) plus api's (4.5)"
    assert found.savings_by_type == {"idle-workload": 25.0, "right-sizing": 14.5}
    assert found.recommendations_by_type == {"idle-workload": 1, "right-sizing": 2}
    assert found.recommendations == 3


@pytest.mark.parametrize(
    ("phase", "counts"),
    [
        (None, True),
        ("Proposed", True),
        ("Approved", True),
        ("Applying", False),
        ("Applied", False),
        ("RolledBack", False),
        ("Failed", False),
        ("Rejected", False),
        ("Superseded", False),
        ("Expired", False),
    ],
)
def test_only_savings_still_to_be_had_count(phase: str | None, counts: bool) -> None:
    found = savings.potential_savings([_rec("web", "right-sizing", 10.0, phase)])
    assert found.potential_monthly_savings == (10.0 if counts else 0.0)
    assert found.recommendations == (1 if counts else 0)


def test_workloads_of_the_same_name_in_other_namespaces_are_other_workloads() -> None:
    other = _rec("web", "right-sizing", 3.0)
    other.metadata["namespace"] = "staging"
    found = savings.potential_savings([_rec("web", "right-sizing", 10.0), other])
    assert found.potential_monthly_savings == 13.0
