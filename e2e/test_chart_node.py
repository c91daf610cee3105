"""The Helm chart on a real node: kcost's own image run by a kubelet, talking to the cluster from inside.

A dev cluster of its own with ``--real-node`` (containerd, kubelet, kube-proxy on this machine);
kcost's image built without a registry and imported into the node. The chart's pods are put on
the real node (its taint and label); the demo scenario's workloads stay on the kwok nodes.
Skipped, saying why, where the machine cannot run a node (not root, Debian packages missing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from e2e.test_chart import CHART, _left_behind, _ok, helm
from e2e.webhook_support import poll
from kcost.devcluster import binaries, images, realnode
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.scenario import library, loader

GROUP_VERSION = "optimizer.kcost.dev/v1alpha1"


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    try:
        realnode.require_host()
    except realnode.RealNodeError as error:
        pytest.skip(str(error))
    own = DevCluster(tmp_path_factory.mktemp("chart-node") / "cluster", Console(stderr=True))
    try:
        own.up(default_nodes(), real_node=True)
        yield own
    finally:
        own.down()


@pytest.fixture(scope="module")
def image(node_cluster: DevCluster) -> images.BuiltImage:
    built = images.build_kcost_image(node_cluster.console)
    node_cluster.load_image(built)
    return built


def _values(image: images.BuiltImage) -> list[str]:
    values = [f"image.repository={image.repository}", f"image.tag={image.tag}", "image.pullPolicy=Never"]
    values += ["api.enabled=true", "history.sqlite.persistence=false"]
    return [*(flag for value in values for flag in ("--set", value)), *realnode.REAL_NODE_HELM_FLAGS]


def _analysis(name: str, profile: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {"profileRef": {"name": profile}, "window": "14d", "resolution": "1h", "timeout": "10m", **spec},
    }


def _profile(name: str, prometheus_url: str) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ClusterCostProfile",
        "metadata": {"name": name},
        "spec": {
            "provider": "aws",
            "region": "us-east-1",
            "pricing": {"source": "custom", "customRates": {"cpuCoreHour": 0.031611, "memoryGiBHour": 0.004237}},
            "prometheus": {"url": prometheus_url},
        },
    }


def _get_status(url: str) -> int:
    """The HTTP status, or 0 while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except OSError:
        return 0


def _kubectl_cost(cluster: DevCluster, *args: str) -> str:
    environment = {
        **os.environ,
        "KUBECONFIG": str(cluster.require_state().admin_kubeconfig),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    result = subprocess.run(
        [binaries.kubectl(), "cost", *args], capture_output=True, text=True, env=environment, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


# Its fixtures may build the image's layers (minutes on a cold cache) before the test proper starts.
@pytest.mark.timeout(1500)
def test_installed_on_the_real_node_kcost_analyzes_the_demo_from_inside(
    node_cluster: DevCluster, image: images.BuiltImage
) -> None:
    cluster = node_cluster
    release, namespace = "kcost", f"kcost-{uuid.uuid4().hex[:8]}"
    loader.load(cluster, library.demo())
    started = time.monotonic()
    installed = helm(
        cluster, "install", release, str(CHART), "--namespace", namespace, "--create-namespace",
        *_values(image), "--wait", "--timeout", "5m",
    )  # fmt: skip
    try:
        _ok(installed)
        print(f"install to Ready: {time.monotonic() - started:.1f} s")
        print(f"--- helm install output ---\n{installed.stdout}")
        pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
        assert {pod["spec"]["nodeName"] for pod in pods} == {realnode.NODE_NAME}
        # The API server calls the webhook through its Service: a refusal only the webhook makes.
        refused = cluster.kubectl(
            "apply", "-f", "-", input_text=json.dumps(_analysis("zero", "none", window="0d")), check=False
        )
        assert refused.returncode != 0, refused.stdout
        assert "spec.window" in refused.stderr, refused.stderr
        # The status API answers through its Service (kube-proxy's rules on the host).
        service = json.loads(cluster.kubectl("get", "service", "kcost-api", "-n", namespace, "-o", "json").stdout)
        api_url = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
        poll("the status API ready through its Service", lambda: _get_status(f"{api_url}/readyz") == 200)
        # An analysis by the in-cluster kcost, reading the host's Prometheus from the pod network.
        profile, analysis = f"node-{uuid.uuid4().hex[:6]}", f"node-{uuid.uuid4().hex[:6]}"
        state = cluster.require_state()
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(_profile(profile, state.pod_prometheus_url)))
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(_analysis(analysis, profile)))

        def phase() -> str:
            body = json.loads(cluster.kubectl("get", "analysis", analysis, "-o", "json").stdout)
            return str((body.get("status") or {}).get("phase") or "Pending")

        poll("the in-cluster analysis finished", lambda: phase() in ("Succeeded", "Failed"), timeout_s=600)
        assert phase() == "Succeeded", cluster.kubectl("get", "analysis", analysis, "-o", "yaml").stdout
        assert "right-sizing" in _kubectl_cost(cluster, "recommendations", "-A")
        _upgrade_then_roll_back(cluster, release, namespace, image)
    finally:
        # Captured: shown only when the test fails.
        print(_pod_story(cluster, namespace))
        _ok(helm(cluster, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "3m"))
    poll("the release's objects removed", lambda: _left_behind(cluster, release, namespace) == "")
    pods = ("get", "pods", "-n", namespace, "-o", "name")
    poll("the kcost pods gone", lambda: cluster.kubectl(*pods).stdout.strip() == "")
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def _pod_story(cluster: DevCluster, namespace: str) -> str:
    """What a failure needs to be understood: each container's readiness and restarts, and the namespace's Events."""
    lines = ["--- kcost pods ---"]
    pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json", check=False).stdout or "{}")
    for pod in pods.get("items", []):
        for status in pod["status"].get("containerStatuses", []):
            last = json.dumps(status.get("lastState") or {})
            lines.append(
                f"{pod['metadata']['name']}/{status['name']}: ready={status['ready']} "
                f"restarts={status['restartCount']} last={last}"
            )
    lines.append("--- events ---")
    lines.append(cluster.kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False).stdout)
    return "\n".join(lines)


def _kcost_objects(cluster: DevCluster) -> list[str]:
    """Every Analysis and recommendation, by name (they must outlive an upgrade and a rollback)."""
    listed = cluster.kubectl("get", "analyses,optimizationrecommendations", "-A", "-o", "name").stdout
    return sorted(listed.split())


def _only_pod(cluster: DevCluster, namespace: str) -> str:
    """The name of the kcost Pod once the rollout left one (its predecessor gone), else ""."""
    selector = "app.kubernetes.io/name=kcost,app.kubernetes.io/component!=uninstall"
    pods = json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout)["items"]
    if len(pods) != 1 or pods[0]["metadata"].get("deletionTimestamp"):
        return ""
    ready = {c["type"]: c["status"] for c in pods[0]["status"].get("conditions", [])}.get("Ready") == "True"
    return str(pods[0]["metadata"]["name"]) if ready else ""


def _operator_logs_json(cluster: DevCluster, namespace: str) -> bool:
    """Whether the running operator writes JSON lines (logFormat=json) rather than text; waits for its first lines."""
    pod = poll("one kcost Pod, Ready", lambda: _only_pod(cluster, namespace), timeout_s=300)

    def logged() -> str:
        return cluster.kubectl("logs", pod, "-n", namespace, "-c", "operator", check=False).stdout.strip()

    logs = poll(f"the operator of {pod} logging", logged)
    return any(line.startswith("{") for line in logs.splitlines())


def _upgrade_then_roll_back(cluster: DevCluster, release: str, namespace: str, image: images.BuiltImage) -> None:
    """`helm upgrade` to text logs, then `helm rollback` to JSON: each time a new Pod is Ready and shows it."""
    kept = _kcost_objects(cluster)
    assert kept, "nothing to keep across the upgrade"
    assert _operator_logs_json(cluster, namespace)
    started = time.monotonic()
    _ok(helm(cluster, "upgrade", release, str(CHART), "--namespace", namespace, *_values(image),
             "--set", "logFormat=text", "--wait", "--timeout", "5m"))  # fmt: skip
    assert not _operator_logs_json(cluster, namespace), "the upgraded Pod still logs JSON"
    print(f"upgrade to Ready with the new values: {time.monotonic() - started:.1f} s")
    assert _kcost_objects(cluster) == kept
    started = time.monotonic()
    _ok(helm(cluster, "rollback", release, "1", "--namespace", namespace, "--wait", "--timeout", "5m"))
    assert _operator_logs_json(cluster, namespace), "the rolled-back Pod does not log JSON again"
    print(f"rollback to Ready with the old values: {time.monotonic() - started:.1f} s")
    assert _kcost_objects(cluster) == kept
    # The webhook of the rolled-back Pod still answers the API server.
    refused = cluster.kubectl(
        "apply", "-f", "-", input_text=json.dumps(_analysis("zero", "none", window="0d")), check=False
    )
    assert "spec.window" in refused.stderr, refused.stderr
