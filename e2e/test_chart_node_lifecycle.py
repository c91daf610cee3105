"""`dev-cluster up --real-node` then `down`: a pod really runs, and the host is left as it was found.

Skipped, saying why, where the machine cannot run a node (not root, Debian packages missing).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from kcost.devcluster import realnode
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes


def _host_state(work_dir: Path) -> dict[str, object]:
    """What the node may leave behind: iptables chains, the bridge, mounts and processes under its folder, sysctls."""
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    mounts = Path("/proc/self/mountinfo").read_text()
    leftover_processes = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(work_dir) in (entry / "cmdline").read_text(errors="replace"):
                    leftover_processes.append(entry.name)
            except OSError:
                continue
    return {
        "kube chains": sorted({line for line in rules.splitlines() if "KUBE-" in line or "CNI-" in line}),
        "bridge": [link["ifname"] for link in json.loads(links) if link["ifname"] == realnode.BRIDGE],
        "mounts": [line for line in mounts.splitlines() if str(work_dir) in line],
        "processes": leftover_processes,
        "sysctls": {name: Path("/proc/sys", name).read_text().strip() for name in realnode.HOST_SYSCTLS},
    }


def test_a_pod_runs_and_down_restores_the_host(tmp_path_factory: pytest.TempPathFactory) -> None:
    try:
        realnode.require_host()
    except realnode.RealNodeError as error:
        pytest.skip(str(error))
    # A short folder: the test's own (named after it) is too deep for the node's Unix sockets.
    work_dir = tmp_path_factory.mktemp("node") / "cluster"
    before = _host_state(work_dir)
    cluster = DevCluster(work_dir, Console(stderr=True))
    try:
        cluster.up(default_nodes(), real_node=True)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "sandbox", "namespace": "default"},
            "spec": {
                "nodeSelector": {realnode.REAL_NODE_KEY: "true"},
                "tolerations": [{"key": realnode.REAL_NODE_KEY, "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "pause", "image": realnode.PAUSE_IMAGE, "imagePullPolicy": "Never"}],
            },
        }
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(pod))
        cluster.kubectl("wait", "--for=condition=Ready", "--timeout=120s", "pod/sandbox")
        during = _host_state(work_dir)
        assert during["bridge"] == [realnode.BRIDGE], "the pod is on the node's bridge"
        assert during["mounts"], "the pod has a sandbox"
    finally:
        cluster.down()
    assert _host_state(work_dir) == before
