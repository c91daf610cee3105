"""`make demo` in short: `kcost demo` on a cluster of its own ends with findings of every type."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from e2e.conftest import Prometheus
from e2e.webhook_support import poll
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.scenario import library

KCOST = str(Path(sys.executable).with_name("kcost"))


def _scraped_savings(cluster: DevCluster) -> tuple[float, float | None]:
    """The demo analysis's potential savings, and the last sum of the savings gauge in the demo's Prometheus."""
    analysis = json.loads(cluster.kubectl("get", "kca", "demo", "-o", "json").stdout)
    expected = float(analysis["status"]["summary"]["potentialMonthlySavings"])
    prometheus = Prometheus(cluster.require_state().prometheus_url)
    deadline, value = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        result = prometheus.query("sum(kcost_savings_potential_monthly_usd)", time.time())
        value = float(result[0]["value"][1]) if result else None
        if value is not None and round(value, 2) == expected:
            break
        time.sleep(1)
    return expected, value


def _status_api(cluster: DevCluster) -> tuple[int, int]:
    """What the demo's status API (at the KCOST_API_URL `dev-cluster env` exports) answers: /readyz, then
    the clusters without a token."""
    url = cluster.require_state().exports()["KCOST_API_URL"]
    deadline, ready = time.monotonic() + 60, 0
    while time.monotonic() < deadline and ready != 200:
        ready = _status(f"{url}/readyz")
        time.sleep(0.5)
    return ready, _status(f"{url}/api/v1/clusters")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _get(cluster: DevCluster, *args: str) -> dict[str, Any]:
    answer = cluster.kubectl("get", *args, "-o", "json", check=False)
    return dict(json.loads(answer.stdout)) if answer.returncode == 0 else {}


def _anomaly_story(cluster: DevCluster) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """The demo's injected anomaly: the workloads the Analysis flags, the AutoApproval condition an auto-apply
    policy over the anomalous workload gives its recommendation, and the profile's forecast."""
    namespace, kind, name = library.DEMO_ANOMALOUS
    flagged = _get(cluster, "kca", "demo")["status"]["analyzers"]["rightsizing"].get("anomalousWorkloads", [])
    policy = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": "demo-auto"},
        "spec": {
            "namespaces": [namespace],
            "workloadSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "mode": "auto-apply",
            "autoApprove": {"minConfidence": 0.0, "maxRiskLevel": "high", "maxChangePercent": 100},
        },
    }
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(policy))
    # The recommendation was written before the policy existed: a new auto-apply policy has every proposal
    # looked at again.
    rec = f"{kind.lower()}-{name}-right-sizing"

    def auto_approval() -> dict[str, Any] | None:
        conditions = _get(cluster, "rec", rec, "-n", namespace).get("status", {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == "AutoApproval"), None)

    held = poll(f"the AutoApproval condition of {namespace}/{rec}", auto_approval, timeout_s=120)
    forecast = poll(
        "the demo profile's forecast",
        lambda: _get(cluster, "ccp", "default").get("status", {}).get("forecast"),
        timeout_s=120,
    )
    return flagged, held, forecast


@pytest.mark.timeout(1500)  # `kcost demo` alone may take its 900 s on a busy machine
def test_demo_ends_with_a_summary_and_every_recommendation_type(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    try:
        result = subprocess.run(
            [KCOST, "demo", "--dir", str(work)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        scraped = _scraped_savings(DevCluster(work, Console(stderr=True)))
        api_answers = _status_api(DevCluster(work, Console(stderr=True)))
        flagged, held, forecast = _anomaly_story(DevCluster(work, Console(stderr=True)))
    finally:
        DevCluster(work, Console(stderr=True)).down()
    assert api_answers == (200, 401), "the status API runs, ready, and wants a token for data"
    expected, last_seen = scraped
    assert last_seen is not None, "the demo's Prometheus scrapes the kcost processes"
    assert round(last_seen, 2) == expected, "the savings gauge sums to the demo analysis's summary"
    namespace, kind, name = library.DEMO_ANOMALOUS
    assert flagged == [f"{namespace}/{kind}/{name}"], "the Analysis flags the workload with the injected spike"
    assert held["reason"] == "Held", held
    assert "its usage is anomalous" in held["message"], held
    assert forecast["historyDays"] >= 1, forecast
    assert forecast["monthEndCost"] > 0, forecast
    out = result.stdout
    assert f"Usage anomalous now (left out of sizing; auto-apply holds their changes): {namespace}/{kind}/{name}" in out
    assert "USD/hour" in out, "the cluster was priced"
    assert "Potential savings:" in out
    for kind in ("right-sizing", "idle-workload"):
        assert kind in out, f"no {kind} recommendation in the demo"
    # The hints name the demo's own folder, not the default cluster.
    assert f'eval "$(.venv/bin/kcost dev-cluster env --dir {shlex.quote(str(work))})"' in out
    assert f"kcost dev-cluster down --dir {shlex.quote(str(work))}" in out
