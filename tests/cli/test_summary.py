"""`kubectl cost summary` counts savings by the same rule as the Analysis summary."""

from __future__ import annotations

import datetime
from typing import Any

from kcost.cli.kubectl_cost.commands import summary

NOW = datetime.datetime(2026, 1, 2, 12, 0, tzinfo=datetime.UTC)


def _rec(workload: str, rec_type: str, monthly_savings: float, phase: str) -> dict[str, Any]:
    return {
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
        "status": {"phase": phase},
    }


def test_alternatives_count_once_and_applied_ones_not_at_all() -> None:
    recs = [
        _rec("web", "right-sizing", 10.0, "Proposed"),
        _rec("web", "idle-workload", 25.0, "Approved"),
        _rec("api", "right-sizing", 99.0, "Applied"),
    ]
    analyses = [{"metadata": {"name": "cli-x"}, "status": {"phase": "Succeeded", "finishedAt": "2026-01-02T11:30:00Z"}}]
    document = summary.summary_document([], analyses, recs, NOW)
    assert document["potentialMonthlySavings"] == 25.0
    assert document["savingsByType"] == {"idle-workload": 25.0, "right-sizing": 10.0}
    assert document["openRecommendations"] == 2
    assert document["lastAnalysis"] == {"name": "cli-x", "phase": "Succeeded", "ageSeconds": 1800}
