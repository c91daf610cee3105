"""What `kcost dev-cluster env` exports: the status API's URL once `kcost demo` started it."""

from __future__ import annotations

from pathlib import Path

from kcost.devcluster.state import ClusterState, Ports


def _state(tmp_path: Path) -> ClusterState:
    ports = Ports(etcd_client=1, etcd_peer=2, apiserver=3, controller_manager=4, scheduler=5, kwok=6, prometheus=7)
    return ClusterState(work_dir=tmp_path, ports=ports)


def test_the_api_url_is_exported_once_known_and_survives_a_reload(tmp_path: Path) -> None:
    state = _state(tmp_path)
    assert "KCOST_API_URL" not in state.exports()
    state.api_url = "http://127.0.0.1:8090"
    state.save()
    reloaded = ClusterState.load(tmp_path)
    assert reloaded is not None
    assert reloaded.exports()["KCOST_API_URL"] == "http://127.0.0.1:8090"
