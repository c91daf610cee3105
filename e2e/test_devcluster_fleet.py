"""`kcost dev-cluster up --nodes N --node-type T --trace FILE` on a cluster of its own.

The first 40 VMs of the shared Bitbrains trace (real sizes: up to 32 cores, or 512 GiB, each) must fit the fleet the
harness sizes for it, and every hint it prints must name the cluster's own folder. A
scenario whose pods cannot be scheduled says which and why.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster, DevClusterError
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.scenario import loader
from kcost.devcluster.scenario.model import ContainerSpec, Scenario, WorkloadSpec

KCOST = str(Path(sys.executable).with_name("kcost"))
TRACE = "bitbrains-rnd-2013-07-vm001-150.csv.gz"
VMS = 40


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # A space in the path: hints must quote it.
    path = tmp_path_factory.mktemp("fleet") / "dev cluster"
    try:
        yield path
    finally:
        subprocess.run([KCOST, "dev-cluster", "down", "--dir", str(path)], check=False, capture_output=True)


@pytest.fixture(scope="module")
def up(work_dir: Path, shared_data: Path) -> subprocess.CompletedProcess[str]:
    command = [KCOST, "dev-cluster", "up", "--dir", str(work_dir), "--nodes", "3", "--node-type", "m5.2xlarge"]
    command += ["--trace", str(shared_data / "traces" / TRACE), "--trace-vms", str(VMS), "--trace-days", "2"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, result.stderr
    return result


def _cores(quantity: str) -> float:
    return float(quantity.removesuffix("m")) / 1000 if quantity.endswith("m") else float(quantity)


def _kubectl_json(work_dir: Path, *args: str) -> Any:
    command = [binaries.kubectl(), f"--kubeconfig={work_dir / 'kubeconfig'}", *args, "-o", "json"]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_nodes_flag_gives_that_many_nodes_of_that_type(work_dir: Path, up: subprocess.CompletedProcess[str]) -> None:
    nodes = _kubectl_json(work_dir, "get", "nodes", "-l", "node.kubernetes.io/instance-type=m5.2xlarge")["items"]
    assert len(nodes) == 3
    for node in nodes:
        assert node["status"]["capacity"]["cpu"] == "8"
        assert node["status"]["capacity"]["memory"] == str(32 * 1024**3)
        assert node["metadata"]["labels"]["topology.kubernetes.io/region"] == "us-east-1"
    assert {node["metadata"]["labels"]["topology.kubernetes.io/zone"] for node in nodes} == {
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
    }


def test_a_trace_of_40_real_sized_vms_runs_every_pod(work_dir: Path, up: subprocess.CompletedProcess[str]) -> None:
    assert re.search(r"40 pods request .* adding \d+ kwok nodes \(.*\) so they fit", up.stderr), up.stderr
    deadline = time.monotonic() + 120
    running: list[str] = []
    while time.monotonic() < deadline:
        pods = _kubectl_json(work_dir, "get", "pods", "-n", "traces")["items"]
        running = [pod["metadata"]["name"] for pod in pods if pod["status"].get("phase") == "Running"]
        if len(running) == VMS:
            break
        time.sleep(1)
    pending = [
        (pod["metadata"]["name"], pod["status"].get("conditions"))
        for pod in pods
        if pod["status"].get("phase") != "Running"
    ]
    assert len(running) == VMS, f"only {len(running)} of {VMS} pods Running; not: {pending}"
    requests = [pod["spec"]["containers"][0]["resources"]["requests"] for pod in pods]
    assert max(_cores(r["cpu"]) for r in requests) >= 32, "real-sized: 32-core VMs"


def test_hints_name_the_clusters_folder(work_dir: Path, up: subprocess.CompletedProcess[str]) -> None:
    assert f'eval "$(kcost dev-cluster env --dir {shlex.quote(str(work_dir))})"' in up.stderr
    missing = work_dir.parent / "not started"
    result = subprocess.run(
        [KCOST, "dev-cluster", "load", "smoke", "--dir", str(missing)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert f"run `kcost dev-cluster up --dir {shlex.quote(str(missing))}` first" in result.stderr


def test_a_scenario_that_cannot_be_scheduled_names_the_pods_and_why(
    dev_cluster: DevCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 10 cores fit the fleet's 12 in total, but no single node of it.
    big = WorkloadSpec(name="too-big", namespace="e2e-unschedulable", containers=[ContainerSpec(cpu_request_cores=10)])
    scenario = Scenario(name="e2e-unschedulable", days=0.1, nodes=default_nodes(), workloads=[big])
    monkeypatch.setattr(loader, "ROLLOUT_TIMEOUT_S", 3)
    try:
        with pytest.raises(
            DevClusterError, match=r"only 0 of 1 pods Running; e2e-unschedulable/too-big-.*Insufficient cpu"
        ):
            loader.load(dev_cluster, scenario)
    finally:
        dev_cluster.kubectl("delete", "namespace", "e2e-unschedulable", "--wait=false")
