"""Anomalous usage at work: the policy engine holds the workload whose usage is anomalous now, not its neighbours."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.rollout_support import apply, condition, deployment, policy, recommendation, wait_for_rec
from kcost.devcluster.cluster import DevCluster

AUTO_APPROVE = {"minConfidence": 0.9, "maxRiskLevel": "low", "maxChangePercent": 60}
# What the rightsizing analyzer writes into the evidence when the window's last hours are anomalous.
ONGOING = {"method": "robust-z", "anomalousHours": 2, "firstAt": "2026-12-01T10:00:00Z", "ongoing": True}


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    name = f"e2e-anomaly-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "optimizationpolicy", f"{name}-auto", "--wait=false")
    kubectl("delete", "namespace", name, "--wait=false")


def test_auto_apply_holds_the_anomalous_workload_and_approves_its_neighbour(
    namespace: str, kubectl: Any, spawn: Any
) -> None:
    anomalous = recommendation(namespace, "spiking", approved=False)
    anomalous["spec"]["evidence"]["anomaly"] = ONGOING
    past = recommendation(namespace, "recovered", approved=False)
    past["spec"]["evidence"]["anomaly"] = {**ONGOING, "ongoing": False}
    apply(
        kubectl,
        deployment(namespace, "spiking"),
        deployment(namespace, "steady"),
        deployment(namespace, "recovered"),
        policy(f"{namespace}-auto", namespace, autoApprove=AUTO_APPROVE),
        anomalous,
        recommendation(namespace, "steady", approved=False),
        past,
    )
    spawn("operator", "operator")
    held = wait_for_rec(
        kubectl,
        namespace,
        lambda body: "its usage is anomalous" in condition(body, "AutoApproval").get("message", ""),
        name="deployment-spiking-right-sizing",
    )
    assert condition(held, "AutoApproval")["reason"] == "Held"
    assert "since 2026-12-01T10:00:00Z (2 hours flagged by robust-z)" in condition(held, "AutoApproval")["message"]
    for target in ("steady", "recovered"):
        approved = wait_for_rec(
            kubectl,
            namespace,
            lambda body: body["spec"]["approval"].get("approvedBy") == f"policy/{namespace}-auto",
            name=f"deployment-{target}-right-sizing",
        )
        assert approved["spec"]["approval"]["approved"]
    still_held = wait_for_rec(kubectl, namespace, lambda body: True, name="deployment-spiking-right-sizing")
    assert not still_held["spec"]["approval"].get("approved")
