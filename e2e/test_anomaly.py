"""Anomalous usage at work: the Analysis flags the workload whose usage is anomalous now, and auto-apply holds
its change while approving its neighbours under the same policy."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.conftest import custom_profile
from e2e.rollout_support import (
    analysis,
    apply,
    condition,
    deployment,
    get_json,
    policy,
    recommendation,
    remove,
    wait_for_event,
    wait_for_rec,
)
from kcost.api.units import MIB
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.scenario import loader
from kcost.devcluster.scenario.model import ContainerSpec, Scenario, WorkloadSpec

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


def spiking_scenario(prefix: str) -> Scenario:
    """Two alike over-provisioned web services for two days; one's CPU jumps fivefold over the last four hours."""

    def web(spike_hours: float) -> ContainerSpec:
        return ContainerSpec(
            cpu_request_cores=1.0,
            memory_request_bytes=512 * MIB,
            memory_limit_bytes=512 * MIB,
            cpu_usage_cores=0.1,
            memory_usage_bytes=150 * MIB,
            cpu_spike_last_hours=spike_hours,
        )

    namespace = f"{prefix}-shop"
    return Scenario(
        name=f"anomaly-{prefix}",
        seed=17,
        days=2,
        step_s=60,
        nodes=[default_nodes()[2]],
        workloads=[
            WorkloadSpec(name="steady", namespace=namespace, containers=[web(0)]),
            WorkloadSpec(name="spiking", namespace=namespace, containers=[web(4)]),
        ],
    )


def test_the_analysis_flags_the_spiking_workload_and_auto_apply_holds_only_it(
    kcost_crds: DevCluster, kubectl: Any, spawn: Any
) -> None:
    prefix = f"e2e-anom-{uuid.uuid4().hex[:6]}"
    story = spiking_scenario(prefix)
    namespace = story.namespaces[0]
    loader.load(kcost_crds, story, end_s=loader.aligned_end())
    profile, run = f"{prefix}-profile", f"{prefix}-run"
    lenient = {"minConfidence": 0.0, "maxRiskLevel": "high", "maxChangePercent": 100}
    run_spec = analysis(run, profile, namespace)
    run_spec["spec"].update({"window": "2d", "resolution": "1m", "analyzers": [{"name": "rightsizing"}]})
    apply(
        kubectl,
        custom_profile(profile, kcost_crds.require_state().prometheus_url),
        policy(f"{prefix}-auto", namespace, autoApprove=lenient),
        run_spec,
    )
    try:
        spawn("operator", "operator")
        spawn("rightsizing", "analyzer", "rightsizing")
        deadline = time.monotonic() + 180
        body: dict[str, Any] = {}
        while time.monotonic() < deadline and body.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            body = get_json(kubectl, "get", "kca", run)
            time.sleep(0.5)
        assert body["status"]["phase"] == "Succeeded", body.get("status")
        section = body["status"]["analyzers"]["rightsizing"]
        assert section["anomalousWorkloads"] == [f"{namespace}/Deployment/spiking"]
        assert "usage anomalous in 1" in condition(body, "RightsizingComplete").get("message", "")
        held = wait_for_rec(
            kubectl,
            namespace,
            lambda rec: "its usage is anomalous" in condition(rec, "AutoApproval").get("message", ""),
            name="deployment-spiking-right-sizing",
        )
        assert held["spec"]["evidence"]["anomaly"]["ongoing"]
        approved = wait_for_rec(
            kubectl,
            namespace,
            lambda rec: rec["spec"]["approval"].get("approvedBy") == f"policy/{prefix}-auto",
            name="deployment-steady-right-sizing",
        )
        assert "anomaly" not in approved["spec"]["evidence"]
        wait_for_event(kubectl, namespace, lambda e: e.startswith("AnomalousUsage: usage anomalous since"), "spiking")
    finally:
        for namespace_name in story.namespaces:
            kubectl("delete", "namespace", namespace_name, "--wait=false")
        kubectl("delete", "optimizationpolicy", f"{prefix}-auto", "--wait=false")
        remove(kubectl, "analysis", run)
        remove(kubectl, "clustercostprofile", profile)
