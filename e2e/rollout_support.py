"""Builders and watchers shared by the apply-path e2e tests (rollouts, auto-approval, GitOps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kcost.devcluster import binaries
from kcost.devcluster.kwok_stages import CANARY_LABEL, FAULT_ANNOTATION, JOB_FAULT_ANNOTATION

REPLICAS = 5
PDB_MIN_AVAILABLE = 4
FAST_STEPS = [
    {"replicas": "20%", "duration": "3s"},
    {"replicas": "50%", "duration": "3s"},
    {"replicas": "100%", "duration": "3s"},
]


def get_json(kubectl: Any, *args: str) -> dict[str, Any]:
    result = kubectl(*args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def apply(kubectl: Any, *documents: dict[str, Any]) -> None:
    result = kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(documents))
    assert result.returncode == 0, result.stderr


def pod_template(name: str, *, fault: str | None = None) -> dict[str, Any]:
    """One container asking for 500m CPU and 512Mi; ``fault``: the kwok fault its canary pods get."""
    annotations = {FAULT_ANNOTATION: fault} if fault else {}
    return {
        "metadata": {"labels": {"app": name}, "annotations": annotations},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": f"{name}:1",
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "512Mi"},
                        "limits": {"memory": "512Mi"},
                    },
                }
            ]
        },
    }


def deployment(
    namespace: str, name: str = "web", *, fault: str | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, **(labels or {})}},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, fault=fault),
        },
    }


def statefulset(namespace: str, name: str = "db", *, fault: str | None = None) -> dict[str, Any]:
    """A StatefulSet of REPLICAS pods, rolled one at a time (OrderedReady, partition 0)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": REPLICAS,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, fault=fault),
        },
    }


def daemonset(namespace: str, name: str = "agent") -> dict[str, Any]:
    """A DaemonSet: one pod on every simulated node."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": pod_template(name)},
    }


def cronjob(
    namespace: str, name: str = "nightly", schedule: str = "0 0 1 1 *", *, job_fault: str | None = None
) -> dict[str, Any]:
    """A CronJob; by default its schedule is once a year, so only a Job made by the test runs.
    ``job_fault``: what kwok does to its Jobs' pods instead of completing them."""
    template = pod_template(name)
    template["spec"]["restartPolicy"] = "Never"
    if job_fault:
        template["metadata"]["annotations"][JOB_FAULT_ANNOTATION] = job_fault
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": {"backoffLimit": 0, "template": template}}},
    }


def budget(namespace: str, name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"minAvailable": PDB_MIN_AVAILABLE, "selector": {"matchLabels": {"app": name}}},
    }


def policy(name: str, namespace: str, *, promql: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """An auto-apply policy for one namespace with fast canary steps; ``promql``: its PromQL health checks."""
    strategy = {"type": "canary", "steps": FAST_STEPS, "healthChecks": {"promql": promql or []}}
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": [namespace], "mode": "auto-apply", "rolloutStrategy": strategy, **spec},
    }


def analysis(name: str, profile: str, namespace: str) -> dict[str, Any]:
    """An Analysis of one namespace priced by ``profile``: what a recommendation's ``spec.analysisRef`` names."""
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {"profileRef": {"name": profile}, "namespaces": [namespace], "analyzers": [{"name": "idle"}]},
    }


def remove(kubectl: Any, kind: str, name: str) -> None:
    """Delete a cluster-scoped kcost object for good, whether or not an operator still holds its finalizer."""
    kubectl("delete", kind, name, "--ignore-not-found", "--wait=false")
    kubectl("patch", kind, name, "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
    kubectl("wait", "--for=delete", f"{kind}/{name}", "--timeout=60s")


def recommendation(
    namespace: str,
    target: str = "web",
    *,
    approved: bool = True,
    confidence: float = 0.95,
    cpu: str = "250m",
    analysis: str | None = None,
    kind: str = "Deployment",
) -> dict[str, Any]:
    """A right-sizing of ``kind``/``target``'s container ``app`` from 500m/512Mi to ``cpu``/384Mi."""
    replicas = {"replicas": REPLICAS} if kind in ("Deployment", "StatefulSet") else {}

    def shape(cpu: str, memory: str) -> dict[str, Any]:
        return {
            "containers": [{"name": "app", "requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}],
            **replicas,
        }

    approval = {"approved": True, "approvedBy": "e2e"} if approved else {}
    produced_by = {"analysisRef": {"name": analysis, "runId": "e2e", "analyzer": "rightsizing"}} if analysis else {}
    api_version = "batch/v1" if kind == "CronJob" else "apps/v1"
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": f"{kind.lower()}-{target}-right-sizing", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": api_version, "kind": kind, "name": target},
            "type": "right-sizing",
            "changes": shape(cpu, "384Mi"),
            "current": shape("500m", "512Mi"),
            "estimatedMonthlySavings": 42.0,
            "confidence": confidence,
            "riskLevel": "low",
            "evidence": {"method": "e2e"},
            "approval": approval,
            **produced_by,
        },
    }


class Watcher:
    """Samples available pods of a namespace's Deployments (or ``resource``) and the number of canaries every 200 ms."""

    def __init__(self, kubectl: Any, namespace: str, resource: str = "deployments") -> None:
        self.kubectl = kubectl
        self.namespace = namespace
        self.resource = resource
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
            listed = self.kubectl("get", self.resource, "-n", self.namespace, "-o", "json")
            if listed.returncode != 0:
                continue
            items = json.loads(listed.stdout)["items"]
            self.available.append(sum(int(d.get("status", {}).get("availableReplicas") or 0) for d in items))
            self.canaries.append(sum(1 for d in items if CANARY_LABEL in (d["metadata"].get("labels") or {})))


def wait_for_rec(
    kubectl: Any,
    namespace: str,
    check: Callable[[dict[str, Any]], bool],
    name: str = "deployment-web-right-sizing",
    timeout_s: float = 120,
) -> Any:
    deadline = time.monotonic() + timeout_s
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = kubectl("get", "rec", name, "-n", namespace, "-o", "json")
        if result.returncode == 0:
            body = json.loads(result.stdout)
            if check(body):
                return body
        time.sleep(0.2)
    seen = {"approval": body.get("spec", {}).get("approval"), "status": body.get("status")}
    raise AssertionError(f"{name} never reached the expected state: {json.dumps(seen)}")


def phase_is(*phases: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body.get("status", {}).get("phase") in phases


def condition(body: dict[str, Any], condition_type: str) -> dict[str, Any]:
    return next((c for c in body.get("status", {}).get("conditions", []) if c["type"] == condition_type), {})


def container(kubectl: Any, namespace: str, name: str = "web") -> dict[str, Any]:
    body = get_json(kubectl, "get", "deployment", name, "-n", namespace)
    return dict(body["spec"]["template"]["spec"]["containers"][0])


def events(kubectl: Any, namespace: str, name: str = "deployment-web-right-sizing") -> list[str]:
    listed = get_json(kubectl, "get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")
    return [f"{e['reason']}: {e['message']}" for e in listed["items"]]


def wait_for_event(
    kubectl: Any,
    namespace: str,
    matches: Callable[[str], bool],
    name: str = "deployment-web-right-sizing",
    timeout_s: float = 60,
) -> str:
    """The first of ``name``'s Events (``reason: message``) that ``matches``, waited for: kcost posts an Event after
    the status write that a test has just seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        said = events(kubectl, namespace, name)
        found = next((line for line in said if matches(line)), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no such Event of {namespace}/{name} after {timeout_s} s; its Events: {said}")
        time.sleep(0.2)


def kubectl_cost(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real kubectl running the ``kubectl cost`` plugin from this environment."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [binaries.kubectl(), "cost", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
