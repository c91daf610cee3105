"""Workload discovery against the real API server: every kind, Argo Rollouts only where installed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kcost.analyzers.metrics import workloads
from kcost.devcluster.cluster import DevCluster
from kcost.kube.client import connect

NAMESPACE = "e2e-discovery"
ROLLOUT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "rollouts.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "names": {"kind": "Rollout", "plural": "rollouts", "singular": "rollout", "listKind": "RolloutList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def _container(cpu: str, memory: str) -> dict[str, Any]:
    return {
        "name": "app",
        "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}},
    }


def _pod_template(app: str, cpu: str = "100m", memory: str = "64Mi") -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [_container(cpu, memory)]}}


def _objects() -> list[dict[str, Any]]:
    job_spec = {
        "template": {**_pod_template("batch"), "spec": {**_pod_template("batch")["spec"], "restartPolicy": "Never"}}
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NAMESPACE, "labels": {"tier": "front"}},
            "spec": {
                "replicas": 3,
                "paused": True,
                "selector": {"matchLabels": {"app": "web"}},
                "template": _pod_template("web", "250m", "256Mi"),
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate", "namespace": NAMESPACE},
            "spec": {**job_spec, "parallelism": 2, "suspend": True},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": NAMESPACE},
            "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": job_spec}},
        },
    ]


def _cron_job_owned_job(uid: str) -> dict[str, Any]:
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": uid, "controller": True}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "nightly-29000000", "namespace": NAMESPACE, "ownerReferences": [owner]},
        "spec": {
            "suspend": True,
            "template": {
                **_pod_template("batch"),
                "spec": {**_pod_template("batch")["spec"], "restartPolicy": "Never"},
            },
        },
    }


def _rollout() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "checkout", "namespace": NAMESPACE},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": _pod_template("checkout", "500m", "1Gi"),
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
        },
    }


def _apply(kubectl: Any, *documents: dict[str, Any]) -> None:
    result = kubectl(
        "apply", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(documents)})
    )
    assert result.returncode == 0, result.stderr


async def _discover(cluster: DevCluster) -> dict[tuple[str, str], workloads.Workload]:
    async with connect(str(cluster.require_state().admin_kubeconfig)) as kube:
        found = await workloads.discover(kube, [NAMESPACE], None)
    return {(w.kind, w.name): w for w in found}


@pytest.fixture
def scene(dev_cluster: DevCluster, kubectl: Any) -> Any:
    kubectl("delete", "crd", "rollouts.argoproj.io", "--ignore-not-found", "--wait=true")
    _apply(kubectl, *_objects())
    uid = json.loads(kubectl("get", "cronjob", "nightly", "-n", NAMESPACE, "-o", "json").stdout)["metadata"]["uid"]
    _apply(kubectl, _cron_job_owned_job(uid))
    yield
    kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    kubectl("delete", "crd", "rollouts.argoproj.io", "--ignore-not-found", "--wait=true")


async def test_every_kind_is_found_and_rollouts_once_their_crd_exists(
    scene: Any, dev_cluster: DevCluster, kubectl: Any
) -> None:
    found = await _discover(dev_cluster)
    # No Argo Rollouts here: no error, no Rollout.
    assert set(found) == {("Deployment", "web"), ("Job", "migrate"), ("CronJob", "nightly")}
    web = found["Deployment", "web"]
    assert web.replicas == 3
    assert web.requests("app") == {
        "cpu_request": 0.25,
        "memory_request": 256 * 1024**2,
        "cpu_limit": None,
        "memory_limit": 256 * 1024**2,
    }
    assert found["Job", "migrate"].replicas == 2, "a Job runs `parallelism` pods at once"
    assert ("Job", "nightly-29000000") not in found, "a CronJob's Jobs are sized through the CronJob"

    _apply(kubectl, ROLLOUT_CRD)
    kubectl("wait", "--for=condition=Established", "crd/rollouts.argoproj.io", "--timeout=60s")
    _apply(kubectl, _rollout())
    found = await _discover(dev_cluster)
    rollout = found["Rollout", "checkout"]
    assert rollout.replicas == 4
    assert rollout.api_version == "argoproj.io/v1alpha1"
    assert rollout.requests("app")["cpu_request"] == 0.5
    assert rollout.requests("app")["memory_request"] == 1024**3
