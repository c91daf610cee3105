"""The dev cluster's control plane, seen through the real kubectl."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes

# The console script installed beside this interpreter.
KCOST = str(Path(sys.executable).with_name("kcost"))

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: e2e-hello}
spec:
  replicas: 3
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      nodeSelector: {type: kwok}
      containers:
        - name: hello
          image: registry.k8s.io/pause:3.10
          resources: {requests: {cpu: 100m, memory: 64Mi}}
"""


def test_nodes_are_simulated_with_cloud_labels(dev_cluster: DevCluster, kubectl: Any) -> None:
    result = kubectl("get", "nodes,pods", "-A")
    assert result.returncode == 0, result.stderr
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    by_name = {node["metadata"]["name"]: node for node in nodes}
    for expected in default_nodes():
        node = by_name[expected.name]
        assert expected.name in result.stdout
        labels = node["metadata"]["labels"]
        assert labels["node.kubernetes.io/instance-type"] == expected.instance_type
        assert labels["topology.kubernetes.io/zone"] == expected.zone
        assert labels["karpenter.sh/capacity-type"] == expected.capacity_type
        assert node["status"]["capacity"]["cpu"] == str(expected.cpu_cores)
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert ready["Ready"] == "True"


def test_server_version_is_the_pinned_release(kubectl: Any) -> None:
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == binaries.KUBERNETES_VERSION


def test_deployment_gets_running_ready_pods(kubectl: Any) -> None:
    assert kubectl("create", "namespace", "e2e-hello").returncode in (0, 1)
    applied = kubectl("apply", "-f", "-", input_text=DEPLOYMENT)
    assert applied.returncode == 0, applied.stderr
    rollout = kubectl("rollout", "status", "deployment/hello", "-n", "e2e-hello", "--timeout=60s")
    assert rollout.returncode == 0, rollout.stderr
    pods = json.loads(kubectl("get", "pods", "-n", "e2e-hello", "-o", "json").stdout)["items"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert conditions["Ready"] == "True"
        nodes = json.loads(kubectl("get", "nodes", "-l", "type=kwok", "-o", "json").stdout)["items"]
        assert pod["spec"]["nodeName"] in {node["metadata"]["name"] for node in nodes}
        assert pod["status"]["podIP"]


def test_minted_user_is_refused_until_rbac_allows(dev_cluster: DevCluster, kubectl: Any) -> None:
    alice = dev_cluster.mint_user_kubeconfig("alice", ["team-a"])
    assert kubectl("create", "namespace", "e2e-rbac").returncode in (0, 1)
    denied = kubectl("auth", "can-i", "list", "pods", "-n", "e2e-rbac", kubeconfig_path=alice)
    assert denied.stdout.strip() == "no"
    assert denied.returncode == 1
    grant = kubectl("create", "rolebinding", "team-a-view", "--clusterrole=view", "--group=team-a", "-n", "e2e-rbac")
    assert grant.returncode == 0, grant.stderr
    allowed = kubectl("auth", "can-i", "list", "pods", "-n", "e2e-rbac", kubeconfig_path=alice)
    assert allowed.stdout.strip() == "yes"
    # view does not include writes, nor other namespaces
    assert kubectl("auth", "can-i", "delete", "pods", "-n", "e2e-rbac", kubeconfig_path=alice).stdout.strip() == "no"
    assert kubectl("auth", "can-i", "list", "pods", "-n", "default", kubeconfig_path=alice).stdout.strip() == "no"
    listing = kubectl("get", "pods", "-n", "default", kubeconfig_path=alice)
    assert listing.returncode != 0
    assert "forbidden" in listing.stderr


def test_minted_service_account_token_authenticates(dev_cluster: DevCluster, kubectl: Any) -> None:
    path = dev_cluster.mint_service_account_kubeconfig("e2e-sa", "reader")
    who = json.loads(kubectl("auth", "whoami", "-o", "json", kubeconfig_path=path).stdout)
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:e2e-sa:reader"
    assert kubectl("auth", "can-i", "list", "secrets", "-n", "e2e-sa", kubeconfig_path=path).stdout.strip() == "no"


def test_api_server_serves_tls_from_the_harness_ca_and_refuses_anonymous(dev_cluster: DevCluster) -> None:
    state = dev_cluster.require_state()
    context = ssl.create_default_context(cafile=str(dev_cluster.pki_dir / "ca.crt"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{state.apiserver_url}/api/v1/namespaces", context=context, timeout=10)
    assert refused.value.code in (401, 403)
    untrusted = ssl.create_default_context()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{state.apiserver_url}/readyz", context=untrusted, timeout=10)


def test_admission_webhook_plugins_are_enabled(kubectl: Any) -> None:
    # The registration APIs are served only with the webhook admission plugins on.
    resources = kubectl("api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name")
    assert "validatingwebhookconfigurations" in resources.stdout
    assert "mutatingwebhookconfigurations" in resources.stdout


def test_cli_env_and_status(dev_cluster: DevCluster) -> None:
    env = subprocess.run(
        [KCOST, "dev-cluster", "env", "--dir", str(dev_cluster.work_dir)], capture_output=True, text=True, check=True
    ).stdout
    state = dev_cluster.require_state()
    assert f"export KUBECONFIG={state.admin_kubeconfig}" in env
    assert f"export KCOST_PROMETHEUS_URL={state.prometheus_url}" in env
    assert "export KCOST_DATABASE_URL=sqlite+aiosqlite:///" in env
    status = subprocess.run(
        [KCOST, "dev-cluster", "status", "--dir", str(dev_cluster.work_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("running (pid") == 6
