"""Starting, restarting and stopping a dev cluster of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from kcost.devcluster import binaries, processes
from kcost.devcluster import cluster as cluster_module
from kcost.devcluster.cluster import PROCESS_ORDER, DevCluster
from kcost.devcluster.nodes import default_nodes


def _listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_up_is_idempotent_restarts_after_a_crash_and_down_leaves_nothing(tmp_path: Path) -> None:
    cluster = DevCluster(tmp_path / "cluster", Console(stderr=True))
    try:
        state = cluster.up(default_nodes()[:1])
        first_pids = dict(state.pids)
        assert set(first_pids) == set(PROCESS_ORDER)
        assert cluster.up().pids == first_pids, "a second `up` must not start anything"

        # A crashed API server brings the control plane back on the next `up`.
        os.kill(first_pids["kube-apiserver"], signal.SIGKILL)
        processes.wait_until(lambda: not processes.is_alive(first_pids["kube-apiserver"]), what="kill", timeout_s=10)
        restarted = cluster.up()
        assert restarted.pids["kube-apiserver"] != first_pids["kube-apiserver"]
        assert not processes.is_alive(first_pids["kube-controller-manager"])
        nodes = subprocess.run(
            [binaries.kubectl(), f"--kubeconfig={restarted.admin_kubeconfig}", "get", "nodes", "-o", "name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "node/ip-10-0-1-11" in nodes, "etcd data survives a restart"

        all_pids = list(restarted.pids.values())
        ports = set(restarted.ports.model_dump().values())
        assert ports <= _listening_ports()
    finally:
        cluster.down()
    for pid in all_pids:
        assert not processes.is_alive(pid)
        assert not processes.group_members(pid), f"process group {pid} left members behind"
    assert not ports & _listening_ports(), "a port is still listening after down"
    assert all(value == "stopped" for value in cluster.status().values())


def test_a_port_taken_between_choosing_and_binding_is_chosen_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process (another cluster starting at the same moment) binds the API server's port
    # after the harness saw it free: the API server dies on it, and starts again on a new port.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", processes.free_port()))
        holder.listen()
        taken = holder.getsockname()[1]
        fresh = cluster_module._fresh_ports
        monkeypatch.setattr(cluster_module, "_fresh_ports", lambda: fresh().model_copy(update={"apiserver": taken}))
        looked_free = processes.port_is_free
        monkeypatch.setattr(processes, "port_is_free", lambda port: port == taken or looked_free(port))
        cluster = DevCluster(tmp_path / "cluster", Console(stderr=True))
        try:
            state = cluster.up()
            assert state.ports.apiserver != taken
            assert "address already in use" in (cluster.log_dir / "kube-apiserver.log").read_text()
            nodes = cluster.kubectl("get", "namespaces", "-o", "name").stdout
            assert "namespace/default" in nodes, "the kubeconfig names the API server's new port"
        finally:
            cluster.down()
