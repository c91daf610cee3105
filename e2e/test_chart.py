"""The Helm chart against a real API server: lint, a server-side dry run, then install → Ready → uninstall.

A dev cluster of its own: the chart installs cluster-wide objects (the webhook configurations
`kcost`, ClusterRoles) that must not meet the session cluster's other tests. kwok plays the
kubelet, so the kcost Pod is scheduled and becomes Ready without running the image.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from e2e.webhook_support import poll
from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes

CHART = Path(__file__).resolve().parents[1] / "helm" / "kcost"
NON_DEFAULT = [
    "--set", "replicas=2", "--set", "history.database=postgresql",
    "--set", "history.postgresql.existingSecret=kcost-db", "--set", "api.enabled=true", "--set", "logFormat=text",
    "--set", "analyzers.idle.enabled=false", "--set", "networkPolicy.enabled=false",
    "--set", "serviceAccount.name=cost-bot",
]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    own = DevCluster(tmp_path_factory.mktemp("chart") / "cluster", Console(stderr=True))
    try:
        own.up(default_nodes())
        yield own
    finally:
        own.down()


def helm(cluster: DevCluster, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    kubeconfig = str(cluster.require_state().admin_kubeconfig)
    command = [binaries.helm(), f"--kubeconfig={kubeconfig}", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout_s)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_helm_lint_with_default_and_other_values(cluster: DevCluster) -> None:
    _ok(helm(cluster, "lint", "--strict", str(CHART)))
    _ok(helm(cluster, "lint", "--strict", str(CHART), *NON_DEFAULT))


@pytest.mark.parametrize("values", [[], NON_DEFAULT], ids=["default", "non-default"])
def test_the_api_server_accepts_every_rendered_object(cluster: DevCluster, values: list[str]) -> None:
    namespace = f"chart-{uuid.uuid4().hex[:8]}"
    # Installed for real: a dry run of a CRD does not make its kind known to the objects after it.
    cluster.kubectl("apply", "--server-side", "-f", str(CHART / "crds"))
    cluster.kubectl("create", "namespace", namespace)
    try:
        rendered = _ok(helm(cluster, "template", "kcost", str(CHART), "--namespace", namespace, *values))
        applied = cluster.kubectl("apply", "--dry-run=server", "-f", "-", input_text=rendered, check=False)
        assert applied.returncode == 0, applied.stderr
        assert "deployment.apps/kcost created (server dry run)" in applied.stdout
        assert (
            "validatingwebhookconfiguration.admissionregistration.k8s.io/kcost created (server dry run)"
            in applied.stdout
        )
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def _left_behind(cluster: DevCluster, release: str, namespace: str) -> str:
    """Objects of the release still in the cluster (cluster-scoped and in its namespace), one per line."""
    kinds = "clusterroles,clusterrolebindings,validatingwebhookconfigurations,mutatingwebhookconfigurations"
    kinds += ",clusterkopfpeerings"
    selector = f"app.kubernetes.io/instance={release}"
    cluster_wide = cluster.kubectl("get", kinds, "-l", selector, "-o", "name").stdout
    namespaced = cluster.kubectl("get", "all,serviceaccounts,roles,rolebindings,pvc,networkpolicies,configmaps",
                                 "-n", namespace, "-l", selector, "-o", "name").stdout  # fmt: skip
    return (cluster_wide + namespaced).strip()


def test_install_becomes_ready_and_uninstall_leaves_nothing(cluster: DevCluster) -> None:
    release, namespace = "kcost", f"kcost-{uuid.uuid4().hex[:8]}"
    # No storage provisioner in the dev cluster: the SQLite file in an emptyDir.
    installed = helm(
        cluster, "install", release, str(CHART), "--namespace", namespace, "--create-namespace",
        "--set", "history.sqlite.persistence=false", "--wait", "--timeout", "3m",
    )  # fmt: skip
    try:
        _ok(installed)
        ready = cluster.kubectl("get", "deployment", "kcost", "-n", namespace, "-o", "jsonpath={.status.readyReplicas}")
        assert ready.stdout == "1"
        assert "validatingwebhookconfiguration.admissionregistration.k8s.io/kcost" in _left_behind(
            cluster, release, namespace
        )
        sa = f"system:serviceaccount:{namespace}:kcost"
        can = cluster.kubectl("auth", "can-i", "patch", "deployments/scale", "--as", sa, "-A", check=False)
        assert can.stdout.strip() == "yes", can.stdout + can.stderr
        cannot = cluster.kubectl("auth", "can-i", "get", "secrets", "-n", "default", "--as", sa, check=False)
        assert cannot.stdout.strip() == "no", "secrets are readable in kcost's own namespace only"
    finally:
        _ok(helm(cluster, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m"))
    poll("the release's objects removed", lambda: _left_behind(cluster, release, namespace) == "")
    poll(
        "the kcost pod gone", lambda: cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout.strip() == ""
    )
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def _operator_env(cluster: DevCluster, namespace: str, variable: str) -> str:
    query = f'jsonpath={{.spec.template.spec.containers[0].env[?(@.name=="{variable}")].value}}'
    return cluster.kubectl("get", "deployment", "kcost", "-n", namespace, "-o", query).stdout


def _ca_bundle(cluster: DevCluster) -> str:
    query = "jsonpath={.webhooks[0].clientConfig.caBundle}"
    return cluster.kubectl("get", "validatingwebhookconfiguration", "kcost", "-o", query).stdout


def test_upgrade_keeps_the_webhooks_ca_bundle_and_rollback_restores_the_values(cluster: DevCluster) -> None:
    release, namespace = "kcost", f"kcost-{uuid.uuid4().hex[:8]}"
    _ok(helm(cluster, "install", release, str(CHART), "--namespace", namespace, "--create-namespace",
             "--set", "history.sqlite.persistence=false", "--wait", "--timeout", "3m"))  # fmt: skip
    try:
        # What the webhook does once it runs: publish its CA in the configuration helm installed.
        bundle = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nkcost\n-----END CERTIFICATE-----\n").decode()
        patch = json.dumps([{"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": bundle}])
        cluster.kubectl("patch", "validatingwebhookconfiguration", "kcost", "--type=json", "-p", patch)
        _ok(helm(cluster, "upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
                 "--set", "logFormat=text", "--wait", "--timeout", "3m"))  # fmt: skip
        assert _operator_env(cluster, namespace, "KCOST_LOG_FORMAT") == "text"
        assert _ca_bundle(cluster) == bundle, "an upgrade must not take the webhook's CA away from the API server"
        _ok(helm(cluster, "rollback", release, "1", "--namespace", namespace, "--wait", "--timeout", "3m"))
        assert _operator_env(cluster, namespace, "KCOST_LOG_FORMAT") == "json"
        assert _ca_bundle(cluster) == bundle
    finally:
        _ok(helm(cluster, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m"))
    poll("the release's objects removed", lambda: _left_behind(cluster, release, namespace) == "")
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
