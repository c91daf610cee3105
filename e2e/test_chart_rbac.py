"""kcost's real processes run as the chart's ServiceAccount, with only the chart's roles, and do their work.

The chart is installed into a dev cluster of its own; kwok "runs" its Pod without the image, so
the operator, the analyzers and the webhook run here as processes authenticated by a token of
the release's ServiceAccount. An Analysis of the smoke scenario (created by an admin, through
the webhook) must succeed and no process may be refused anything. Then the uninstall hook's
command, as the hook's ServiceAccount, deletes kcost's objects while the operator runs (kopf's
finalizers come off), and `helm uninstall` leaves nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from e2e.conftest import KcostProcess, custom_profile
from e2e.webhook_support import poll
from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.scenario import library, loader

CHART = Path(__file__).resolve().parents[1] / "helm" / "kcost"
RUN_DEADLINE_S = 180


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    own = DevCluster(tmp_path_factory.mktemp("chart-rbac") / "cluster", Console(stderr=True))
    try:
        own.up(default_nodes())
        loader.load(own, library.smoke())
        yield own
    finally:
        own.down()


def _helm(cluster: DevCluster, *args: str) -> str:
    command = [binaries.helm(), f"--kubeconfig={cluster.require_state().admin_kubeconfig}", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _apply(cluster: DevCluster, document: dict[str, Any]) -> None:
    result = cluster.kubectl("apply", "-f", "-", input_text=json.dumps(document), check=False)
    assert result.returncode == 0, result.stderr


def _phase(cluster: DevCluster, name: str) -> str:
    body = json.loads(cluster.kubectl("get", "analysis", name, "-o", "json").stdout)
    return str((body.get("status") or {}).get("phase", ""))


def test_kcost_works_with_only_the_charts_roles(cluster: DevCluster, tmp_path: Path) -> None:
    release, namespace, suffix = "kcost", f"kcost-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    _helm(cluster, "install", release, str(CHART), "--namespace", namespace, "--create-namespace",
          "--set", "history.sqlite.persistence=false", "--wait", "--timeout", "3m")  # fmt: skip
    identity = cluster.mint_service_account_kubeconfig(namespace, "kcost")
    port = _free_port()
    environment = {
        "KUBECONFIG": str(identity),
        "KCOST_NAMESPACE": namespace,
        "KCOST_PEERING_NAME": "kcost",
        "KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/history.db",
        "KCOST_WEBHOOK_TRUSTED_USERS": f"system:serviceaccount:{namespace}:kcost",
        "KCOST_WEBHOOK_PORT": str(port),
        "KCOST_WEBHOOK_URL": f"https://127.0.0.1:{port}",
        "KCOST_WEBHOOK_CERT_DIR": str(tmp_path / "certs"),
    }
    commands = {
        "operator": ["operator"],
        "rightsizing": ["analyzer", "rightsizing"],
        "idle": ["analyzer", "idle"],
        "cost": ["analyzer", "cost"],
        "webhook": ["webhook"],
    }
    processes = [KcostProcess(cluster, name, args, tmp_path, environment) for name, args in commands.items()]
    profile, analysis = f"chart-{suffix}", f"chart-{suffix}"
    try:
        # The webhook publishes its CA in the chart's configurations (its role allows only that update).
        poll("the webhook's caBundle published", lambda: cluster.kubectl(
            "get", "validatingwebhookconfiguration", "kcost", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"
        ).stdout)  # fmt: skip
        _apply(cluster, custom_profile(profile, cluster.require_state().prometheus_url))
        _apply(cluster, {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": analysis},
            "spec": {
                "profileRef": {"name": profile},
                "namespaces": ["shop", "jobs", "sandbox"],
                "window": "2d",
                "resolution": "1m",
                "timeout": "3m",
                "analyzers": [{"name": "rightsizing"}, {"name": "idle", "settings": {"minDays": 1}}],
            },
        })  # fmt: skip
        phase = poll("the Analysis finished", lambda: _phase(cluster, analysis) in ("Succeeded", "Failed") and _phase(
            cluster, analysis), timeout_s=RUN_DEADLINE_S)  # fmt: skip
        status = cluster.kubectl("get", "analysis", analysis, "-o", "jsonpath={.status}").stdout
        assert phase == "Succeeded", status
        recommendations = cluster.kubectl("get", "rec", "-A", "-l", f"kcost.dev/analysis={analysis}", "-o", "name")
        assert recommendations.stdout.strip(), "the run proposed nothing"
        # What the chart's pre-delete hook runs, as its ServiceAccount, while the operator still runs
        # (kwok only plays the hook's Pod).
        hook = cluster.mint_service_account_kubeconfig(namespace, "kcost-uninstall")
        cleanup = subprocess.run(
            [sys.executable, "-m", "kcost.cli.uninstall", "--timeout", "60"],
            env={**os.environ, "KUBECONFIG": str(hook), "PYTHONSAFEPATH": "1"},
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
        assert "deleted 2 kcost objects; none left" in cleanup.stdout
    finally:
        for process in processes:
            process.stop()
        _helm(cluster, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m")
    # An ApiException says "(403) Reason: Forbidden"; kopf says "Not enough permissions" for a watch.
    refused = {
        process.name: line
        for process in processes
        for line in process.output().splitlines()
        if "forbidden" in line.lower() or "permissions" in line.lower()
    }
    assert not refused, f"refused with the chart's roles: {refused}"
    # The recommendations go with their Analysis (owner references, the garbage collector).
    poll("no kcost object left", lambda: cluster.kubectl("get", "kcost", "-A", "-o", "name").stdout.strip() == "")
    assert cluster.kubectl("get", "clusterkopfpeering", "kcost", check=False).returncode != 0, "the peering is left"
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        assert cluster.kubectl("get", kind, "kcost", check=False).returncode != 0, f"{kind} kcost left behind"
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
