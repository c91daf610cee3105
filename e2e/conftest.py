"""Fixtures for tests against the real local stack: control plane, Prometheus, PostgreSQL.

One dev cluster serves the whole session (it takes seconds to start once the
binaries are cached); tests that stop or break a cluster start their own.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kcost.devcluster import binaries, processes
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.postgres import ThrowawayPostgres
from kcost.devcluster.scenario import library, loader
from kcost.devcluster.scenario.model import Scenario

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("KCOST_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"../shared/data not found at {SHARED_DATA}: set KCOST_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dev_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    cluster = DevCluster(tmp_path_factory.mktemp("dev-cluster"), Console(stderr=True))
    try:
        cluster.up(default_nodes())
        yield cluster
    finally:
        cluster.down()


@pytest.fixture(scope="session")
def smoke() -> Scenario:
    return library.smoke()


@pytest.fixture(scope="session")
def smoke_end_s(dev_cluster: DevCluster, smoke: Scenario) -> int:
    """The smoke scenario loaded into the session cluster; its history's last timestamp."""
    return loader.load(dev_cluster, smoke)


def custom_profile(name: str, prometheus_url: str, provider: str = "aws") -> dict[str, Any]:
    """A ClusterCostProfile priced by custom unit rates (no price API or file needed)."""
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "ClusterCostProfile",
        "metadata": {"name": name},
        "spec": {
            "provider": provider,
            "pricing": {"source": "custom", "customRates": {"cpuCoreHour": 0.03, "memoryGiBHour": 0.004}},
            "prometheus": {"url": prometheus_url},
        },
    }


class Prometheus:
    """A tiny synchronous client for assertions."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str, at_s: float) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"query": promql, "time": str(at_s)})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=30) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def scalar(self, promql: str, at_s: float) -> float:
        result = self.query(promql, at_s)
        assert len(result) == 1, f"{promql} at {at_s}: expected one series, got {result}"
        return float(result[0]["value"][1])


@pytest.fixture(scope="session")
def prometheus(dev_cluster: DevCluster) -> Prometheus:
    return Prometheus(dev_cluster.require_state().prometheus_url)


@pytest.fixture(scope="session")
def kubectl(dev_cluster: DevCluster) -> Any:
    """Run the real kubectl with the admin kubeconfig; returns the completed process."""
    kubeconfig = str(dev_cluster.require_state().admin_kubeconfig)

    def run(
        *args: str, input_text: str | None = None, kubeconfig_path: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binaries.kubectl(), f"--kubeconfig={kubeconfig_path or kubeconfig}", *args],
            input=input_text,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture(scope="session")
def kcost_crds(dev_cluster: DevCluster) -> DevCluster:
    """The generated CRDs installed, and established, in the session cluster."""
    dev_cluster.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
    dev_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=kcost"
    )
    return dev_cluster


LOG_TAIL_LINES = 80
# A process importing numpy and scikit-learn took over a minute to start on two busy cores.
STARTUP_TIMEOUT_S = 300
ROUTINE_LOG_LINE = re.compile(r"kopf\.objects: (Handler|Timer) '[^']+' succeeded|is processed: \d+ succeeded")


class KcostProcess:
    """``kcost operator`` or ``kcost analyzer …`` as a separate process against the dev cluster."""

    def __init__(
        self, cluster: DevCluster, name: str, args: list[str], log_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        environment = {
            "KUBECONFIG": str(cluster.require_state().admin_kubeconfig),
            "KCOST_TIMER_SECONDS": "1",
            # A killed replica stops counting after this; later tests must not wait a minute for it.
            "KCOST_PEERING_LIFETIME_SECONDS": "6",
            "KCOST_ANALYZER_POLL_SECONDS": "0.5",
            "KCOST_ANALYZER_HEARTBEAT_SECONDS": "1",
            "KCOST_ANALYZER_STALE_SECONDS": "5",
            "PYTHONPATH": str(REPO_ROOT / "e2e" / "plugins"),
            **(env or {}),
        }
        self.pid = processes.spawn(name, [KCOST, *args], log_dir, env=environment)

    def kill(self) -> None:
        os.killpg(self.pid, signal.SIGKILL)
        processes.wait_until(lambda: not processes.is_alive(self.pid), what=f"{self.name} killed", timeout_s=10)

    def stop(self) -> None:
        processes.stop(self.pid, timeout_s=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_logged(self, text: str, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Wait until the log holds ``text`` (a start-up line, say); fail at once if the process died."""
        processes.wait_until(
            lambda: text in self.output(), what=f"{self.name} logging {text!r}", timeout_s=timeout_s, pid=self.pid
        )

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The log's last lines, without kopf's routine "succeeded" lines, to say what went wrong."""
        telling = [line for line in self.output().splitlines() if not ROUTINE_LOG_LINE.search(line)]
        return "\n".join(telling[-lines:])


KCOST = str(Path(sys.executable).with_name("kcost"))


@pytest.fixture
def spawn(dev_cluster: DevCluster, tmp_path: Path) -> Iterator[Any]:
    """Start kcost processes; all are stopped at the end of the test.

    The operators of one test meet in a peering of their own: a replica another test
    killed (and its unexpired priority) can never pause them. Their analyzers read every
    window whole (no range cache) unless a test asks for one: no run reads what another cached.
    """
    started: list[KcostProcess] = []
    peering = f"e2e-{uuid.uuid4().hex[:8]}"
    base_env = {"KCOST_PEERING_NAME": peering, "KCOST_ANALYZER_CACHE_DIR": ""}

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> KcostProcess:
        process = KcostProcess(dev_cluster, name, list(args), tmp_path, {**base_env, **(env or {})})
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        # Captured output: pytest shows it only when the test failed (a CI run keeps no other trace).
        print(f"--- {process.name}: last lines of {process.log} ---\n{process.tail()}")
    dev_cluster.kubectl("delete", "clusterkopfpeering", peering, "--ignore-not-found", "--wait=false", check=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().start()
    try:
        yield server
    finally:
        server.stop()
