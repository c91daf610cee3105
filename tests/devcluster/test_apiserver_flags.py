"""The dev cluster's API server serves /debug/pprof only when asked (bench/apiserver_writes.py profiles it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kcost.devcluster import cluster, processes
from kcost.devcluster.state import ClusterState, Ports


def _apiserver_args(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> list[str]:
    spawned: list[list[str]] = []

    def spawn(name: str, args: list[str], log_dir: Path) -> int:
        spawned.append(args)
        return 1

    monkeypatch.setattr(processes, "spawn", spawn)
    monkeypatch.setattr(processes, "wait_until", lambda *args, **kwargs: None)
    ports = Ports(etcd_client=1, etcd_peer=2, apiserver=3, controller_manager=4, scheduler=5, kwok=6, prometheus=7)
    state = ClusterState(work_dir=tmp_path, ports=ports)
    cluster.DevCluster(tmp_path, Console(quiet=True), **options)._start_apiserver(state)
    return spawned[0]


def test_profiling_is_off_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--profiling=false" in _apiserver_args(tmp_path, monkeypatch)


def test_a_benchmark_can_turn_profiling_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = _apiserver_args(tmp_path, monkeypatch, apiserver_profiling=True)
    assert "--profiling=true" in args
    assert "--profiling=false" not in args
