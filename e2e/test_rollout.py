"""Approved recommendations applied to real Deployments: a canary in steps, health, promotion, rollback.

The operator runs as its own process against the dev cluster; kwok's pod stages make
the canary's pods OOM-killed on request (``sim.kcost.dev/canary-fault``). A watcher
samples the cluster every 200 ms for the whole rollout and records the available pods
of the workload and the number of canaries, so the invariants hold at every moment,
not only at the end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.conftest import custom_profile
from e2e.rollout_support import (
    PDB_MIN_AVAILABLE,
    REPLICAS,
    Watcher,
    analysis,
    apply,
    budget,
    condition,
    container,
    deployment,
    get_json,
    kubectl_cost,
    phase_is,
    policy,
    recommendation,
    remove,
    wait_for_event,
    wait_for_rec,
)
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.kwok_stages import FAULT_MEMORY_ANNOTATION


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    name = f"e2e-rollout-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "optimizationpolicy", f"{name}-policy", "--ignore-not-found", "--wait=false")
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def analysis_run(namespace: str, kubectl: Any, kcost_crds: DevCluster) -> Iterator[str]:
    """A profile on the dev cluster's real Prometheus and an Analysis priced by it: the recommendation's
    ``spec.analysisRef`` names it, so its PromQL checks are asked there whatever other profiles exist."""
    name = f"{namespace}-run"
    apply(kubectl, custom_profile(name, kcost_crds.require_state().prometheus_url), analysis(name, name, namespace))
    yield name
    remove(kubectl, "kca", name)
    remove(kubectl, "ccp", name)


def workload(
    namespace: str, *, fault: str | None = None, promql: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    return [
        deployment(namespace, fault=fault),
        budget(namespace),
        policy(f"{namespace}-policy", namespace, promql=promql),
    ]


def test_a_canary_goes_through_every_step_and_is_promoted(
    namespace: str, kubectl: Any, spawn: Any, kcost_crds: DevCluster, analysis_run: str
) -> None:
    kubeconfig = kcost_crds.require_state().admin_kubeconfig
    # A PromQL check the real Prometheus evaluates, well within its bound: it does not stand in the way.
    apply(kubectl, *workload(namespace, promql=[{"name": "zero", "query": "vector(0)", "maxValue": 1}]))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, approved=False, analysis=analysis_run))
    wait_for_rec(kubectl, namespace, phase_is("Proposed"))
    with Watcher(kubectl, namespace) as watcher:
        approved = kubectl_cost(kubeconfig, "approve", "-n", namespace, "deployment-web-right-sizing")
        assert approved.returncode == 0, approved.stderr
        applied = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
        assert (
            kubectl("wait", "-n", namespace, "--for=delete", "deployment/web-kcost-canary", "--timeout=60s").returncode
            == 0
        )
    status = applied["status"]
    assert status["phase"] == "Applied", status
    assert [step["percent"] for step in status["rollout"]["steps"]] == [20, 50, 100]
    seen = [o["message"] for o in status["rollout"]["observations"]]
    assert any(m.endswith("canary pods Ready; zero=0 ≤ 1") for m in seen), seen
    assert status["previous"]["containers"][0]["requests"] == {"cpu": "500m", "memory": "512Mi"}, status["previous"]
    assert container(kubectl, namespace)["resources"] == {
        "requests": {"cpu": "250m", "memory": "384Mi"},
        "limits": {"memory": "384Mi"},
    }
    deployment = get_json(kubectl, "get", "deployment", "web", "-n", namespace, "--show-managed-fields")
    assert deployment["spec"]["replicas"] == REPLICAS
    assert "kcost" in {entry["manager"] for entry in deployment["metadata"]["managedFields"]}
    assert max(watcher.canaries) == 1
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    wait_for_event(kubectl, namespace, lambda e: e.startswith("Applied:"))

    shown = kubectl_cost(kubeconfig, "show", "-n", namespace, "deployment-web-right-sizing")
    assert "rollout: canary, Done" in shown.stdout, shown.stdout
    shares = [line.split()[1] for line in shown.stdout.splitlines() if line.strip()[:1] in "123" and "%" in line]
    assert shares == ["20%", "50%", "100%"], shown.stdout
    again = kubectl_cost(kubeconfig, "approve", "-n", namespace, "deployment-web-right-sizing")
    assert again.returncode == 7
    assert "is Applied; `approve` needs it Proposed" in again.stderr

    # Undo it: the template is restored in place, the replicas stay.
    undo = kubectl_cost(kubeconfig, "rollback", "-n", namespace, "deployment-web-right-sizing", "--reason", "e2e")
    assert undo.returncode == 0, undo.stderr
    undone = wait_for_rec(kubectl, namespace, phase_is("RolledBack", "Failed"))
    assert undone["status"]["phase"] == "RolledBack", undone["status"]
    assert "rollback requested" in undone["status"]["rollout"]["reason"]
    assert container(kubectl, namespace)["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_an_oom_killed_canary_is_rolled_back(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, *workload(namespace, fault="oom-kill"))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    before = container(kubectl, namespace)
    spawn("operator", "operator")
    with Watcher(kubectl, namespace) as watcher:
        apply(kubectl, recommendation(namespace))
        rolled_back = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    status = rolled_back["status"]
    assert status["phase"] == "RolledBack", status
    assert "OOMKilled" in status["rollout"]["reason"]
    ready = condition(rolled_back, "Ready")
    assert ready["reason"] == "RolledBack"
    assert "OOMKilled" in ready["message"]
    assert container(kubectl, namespace) == before
    assert get_json(kubectl, "get", "deployment", "web", "-n", namespace)["spec"]["replicas"] == REPLICAS
    assert kubectl("get", "deployment", "web-kcost-canary", "-n", namespace).returncode != 0
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    wait_for_event(kubectl, namespace, lambda e: e.startswith("RolledBack:") and "OOMKilled" in e)


def test_a_failing_promql_check_rolls_back_with_its_name_and_value(
    namespace: str, kubectl: Any, spawn: Any, analysis_run: str
) -> None:
    apply(kubectl, *workload(namespace, promql=[{"name": "always_five", "query": "vector(5)", "maxValue": 1}]))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    before = container(kubectl, namespace)
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace, analysis=analysis_run))
    rolled_back = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    status = rolled_back["status"]
    assert status["phase"] == "RolledBack", status
    assert status["rollout"]["reason"] == "PromQL check always_five: always_five=5 above maxValue 1", status
    assert "always_five=5 above maxValue 1" in condition(rolled_back, "Ready")["message"]
    assert container(kubectl, namespace) == before
    assert (
        kubectl("wait", "-n", namespace, "--for=delete", "deployment/web-kcost-canary", "--timeout=60s").returncode == 0
    )


@pytest.mark.parametrize("step", [0, 1, 2])
def test_an_operator_killed_during_a_step_resumes_the_rollout(
    namespace: str, kubectl: Any, spawn: Any, step: int
) -> None:
    apply(kubectl, *workload(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    operator = spawn("operator", "operator")
    with Watcher(kubectl, namespace) as watcher:
        apply(kubectl, recommendation(namespace))
        wait_for_rec(
            kubectl,
            namespace,
            lambda b: (
                b.get("status", {}).get("phase") == "Applying"
                and (b["status"].get("rollout") or {}).get("step") == step
            ),
        )
        operator.kill()
        spawn("operator-2", "operator")
        done = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
        assert (
            kubectl("wait", "-n", namespace, "--for=delete", "deployment/web-kcost-canary", "--timeout=60s").returncode
            == 0
        )
    assert done["status"]["phase"] == "Applied", done["status"]
    assert [s["percent"] for s in done["status"]["rollout"]["steps"]] == [20, 50, 100]
    assert max(watcher.canaries) == 1
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi"}


def autoscaler(namespace: str) -> dict[str, Any]:
    """An HPA on web: its rollout is the gated rolling update, not a canary."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
    }


def test_an_hpa_scaled_deployment_keeps_its_replicas_under_the_hpa(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, *workload(namespace), autoscaler(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    with Watcher(kubectl, namespace) as watcher:
        apply(kubectl, recommendation(namespace))
        done = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    assert done["status"]["phase"] == "Applied", done["status"]
    assert done["status"]["rollout"]["strategy"] == "rolling"
    assert max(watcher.canaries) == 0
    assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi"}
    live = get_json(kubectl, "get", "deployment", "web", "-n", namespace, "--show-managed-fields")
    for entry in live["metadata"]["managedFields"]:
        if entry["manager"].startswith("kcost"):
            assert "f:replicas" not in json.dumps(entry.get("fieldsV1", {})), entry


def test_an_oom_killed_pod_of_a_gated_rolling_update_rolls_it_back(namespace: str, kubectl: Any, spawn: Any) -> None:
    """The HPA-scaled Deployment's new pods are OOM-killed and never stay Ready, so its status stops moving: the
    pods are still listed, and the template is restored for that reason. kwok kills the pods on the new memory
    request (no canary label tells them apart here)."""
    web, *others = workload(namespace, fault="oom-kill")
    web["spec"]["template"]["metadata"]["annotations"][FAULT_MEMORY_ANNOTATION] = "384Mi"
    apply(kubectl, web, *others, autoscaler(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    before = container(kubectl, namespace)
    spawn("operator", "operator")
    apply(kubectl, recommendation(namespace))
    rolled_back = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    status = rolled_back["status"]
    assert status["phase"] == "RolledBack", status
    assert status["rollout"]["strategy"] == "rolling"
    assert "OOMKilled" in status["rollout"]["reason"], status["rollout"]
    assert container(kubectl, namespace) == before
    wait_for_event(kubectl, namespace, lambda e: e.startswith("RolledBack:") and "OOMKilled" in e)
