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

from rich.console import Console

from e2e.conftest import Prometheus
from kcost.devcluster.cluster import DevCluster

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
    finally:
        DevCluster(work, Console(stderr=True)).down()
    assert api_answers == (200, 401), "the status API runs, ready, and wants a token for data"
    expected, last_seen = scraped
    assert last_seen is not None, "the demo's Prometheus scrapes the kcost processes"
    assert round(last_seen, 2) == expected, "the savings gauge sums to the demo analysis's summary"
    out = result.stdout
    assert "USD/hour" in out, "the cluster was priced"
    assert "Potential savings:" in out
    for kind in ("right-sizing", "idle-workload"):
        assert kind in out, f"no {kind} recommendation in the demo"
    # The hints name the demo's own folder, not the default cluster.
    assert f'eval "$(.venv/bin/kcost dev-cluster env --dir {shlex.quote(str(work))})"' in out
    assert f"kcost dev-cluster down --dir {shlex.quote(str(work))}" in out
