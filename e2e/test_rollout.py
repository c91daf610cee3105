"""Approved recommendations applied to real Deployments: a canary in steps, health, promotion, rollback.

The operator runs as its own process against the dev cluster; kwok's pod stages make
the canary's pods OOM-killed on request (``sim.kcost.dev/canary-fault``). A watcher
samples the cluster every 200 ms for the whole rollout and records the available pods
of the workload and the number of canaries, so the invariants hold at every moment,
not only at the end.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.kwok_stages import CANARY_LABEL, FAULT_ANNOTATION

REPLICAS = 5
PDB_MIN_AVAILABLE = 4


def _json(kubectl: Any, *args: str) -> dict[str, Any]:
    result = kubectl(*args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    name = f"e2e-rollout-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "optimizationpolicy", f"{name}-policy", "--ignore-not-found", "--wait=false")
    kubectl("delete", "namespace", name, "--wait=false")


def apply(kubectl: Any, *documents: dict[str, Any]) -> None:
    result = kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(documents))
    assert result.returncode == 0, result.stderr


def workload(namespace: str, *, fault: str | None = None) -> list[dict[str, Any]]:
    annotations = {FAULT_ANNOTATION: fault} if fault else {}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web"}},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": annotations},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "web:1",
                            "resources": {
                                "requests": {"cpu": "500m", "memory": "512Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }
    budget = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"minAvailable": PDB_MIN_AVAILABLE, "selector": {"matchLabels": {"app": "web"}}},
    }
    policy = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": f"{namespace}-policy"},
        "spec": {
            "namespaces": [namespace],
            "mode": "auto-apply",
            "rolloutStrategy": {
                "type": "canary",
                "steps": [
                    {"replicas": "20%", "duration": "3s"},
                    {"replicas": "50%", "duration": "3s"},
                    {"replicas": "100%", "duration": "3s"},
                ],
            },
        },
    }
    return [deployment, budget, policy]


def approved_recommendation(namespace: str) -> dict[str, Any]:
    def shape(cpu: str, memory: str) -> dict[str, Any]:
        return {
            "containers": [{"name": "app", "requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}],
            "replicas": REPLICAS,
        }

    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": "deployment-web-right-sizing", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "type": "right-sizing",
            "changes": shape("250m", "384Mi"),
            "current": shape("500m", "512Mi"),
            "estimatedMonthlySavings": 42.0,
            "confidence": 0.95,
            "riskLevel": "low",
            "evidence": {"method": "e2e"},
            "approval": {"approved": True, "approvedBy": "e2e"},
        },
    }


class Watcher:
    """Samples available pods of the workload (original + canary) and the number of canaries every 200 ms."""

    def __init__(self, kubectl: Any, namespace: str) -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self.available: list[int] = []
        self.canaries: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            listed = self.kubectl("get", "deployments", "-n", self.namespace, "-o", "json")
            if listed.returncode != 0:
                continue
            items = json.loads(listed.stdout)["items"]
            self.available.append(sum(int(d.get("status", {}).get("availableReplicas") or 0) for d in items))
            self.canaries.append(sum(1 for d in items if CANARY_LABEL in (d["metadata"].get("labels") or {})))


def wait_for(kubectl: Any, namespace: str, check: Callable[[dict[str, Any]], bool], timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = kubectl("get", "rec", "deployment-web-right-sizing", "-n", namespace, "-o", "json")
        if result.returncode == 0:
            body = json.loads(result.stdout)
            if check(body):
                return body
        time.sleep(0.2)
    raise AssertionError(f"recommendation never reached the expected state: {json.dumps(body.get('status'))}")


def phase_is(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body.get("status", {}).get("phase") in phases


def container(kubectl: Any, namespace: str) -> dict[str, Any]:
    deployment = _json(kubectl, "get", "deployment", "web", "-n", namespace)
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def events(kubectl: Any, namespace: str) -> list[str]:
    listed = _json(
        kubectl, "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=deployment-web-right-sizing"
    )
    return [f"{e['reason']}: {e['message']}" for e in listed["items"]]


def test_a_canary_goes_through_every_step_and_is_promoted(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, *workload(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    spawn("operator", "operator")
    with Watcher(kubectl, namespace) as watcher:
        apply(kubectl, approved_recommendation(namespace))
        applied = wait_for(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
        assert (
            kubectl("wait", "-n", namespace, "--for=delete", "deployment/web-kcost-canary", "--timeout=60s").returncode
            == 0
        )
    status = applied["status"]
    assert status["phase"] == "Applied", status
    assert [step["percent"] for step in status["rollout"]["steps"]] == [20, 50, 100]
    assert status["previous"]["containers"][0]["requests"] == {"cpu": "500m", "memory": "512Mi"}, status["previous"]
    assert container(kubectl, namespace)["resources"] == {
        "requests": {"cpu": "250m", "memory": "384Mi"},
        "limits": {"memory": "384Mi"},
    }
    deployment = _json(kubectl, "get", "deployment", "web", "-n", namespace, "--show-managed-fields")
    assert deployment["spec"]["replicas"] == REPLICAS
    assert "kcost" in {entry["manager"] for entry in deployment["metadata"]["managedFields"]}
    assert max(watcher.canaries) == 1
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    assert any(e.startswith("Applied:") for e in events(kubectl, namespace))


def test_an_oom_killed_canary_is_rolled_back(namespace: str, kubectl: Any, spawn: Any) -> None:
    apply(kubectl, *workload(namespace, fault="oom-kill"))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    before = container(kubectl, namespace)
    spawn("operator", "operator")
    with Watcher(kubectl, namespace) as watcher:
        apply(kubectl, approved_recommendation(namespace))
        rolled_back = wait_for(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
    status = rolled_back["status"]
    assert status["phase"] == "RolledBack", status
    assert "OOMKilled" in status["rollout"]["reason"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "RolledBack"
    assert "OOMKilled" in ready["message"]
    assert container(kubectl, namespace) == before
    assert _json(kubectl, "get", "deployment", "web", "-n", namespace)["spec"]["replicas"] == REPLICAS
    assert kubectl("get", "deployment", "web-kcost-canary", "-n", namespace).returncode != 0
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    assert any(e.startswith("RolledBack:") and "OOMKilled" in e for e in events(kubectl, namespace))


@pytest.mark.parametrize("step", [0, 1, 2])
def test_an_operator_killed_during_a_step_resumes_the_rollout(
    namespace: str, kubectl: Any, spawn: Any, step: int
) -> None:
    apply(kubectl, *workload(namespace))
    assert kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=90s").returncode == 0
    operator = spawn("operator", "operator")
    with Watcher(kubectl, namespace) as watcher:
        apply(kubectl, approved_recommendation(namespace))
        wait_for(
            kubectl,
            namespace,
            lambda b: (
                b.get("status", {}).get("phase") == "Applying"
                and (b["status"].get("rollout") or {}).get("step") == step
            ),
        )
        operator.kill()
        spawn("operator-2", "operator")
        done = wait_for(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"))
        assert (
            kubectl("wait", "-n", namespace, "--for=delete", "deployment/web-kcost-canary", "--timeout=60s").returncode
            == 0
        )
    assert done["status"]["phase"] == "Applied", done["status"]
    assert [s["percent"] for s in done["status"]["rollout"]["steps"]] == [20, 50, 100]
    assert max(watcher.canaries) == 1
    assert min(watcher.available) >= PDB_MIN_AVAILABLE, watcher.available
    assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "250m", "memory": "384Mi"}
