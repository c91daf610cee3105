"""A cluster folder too deep for the real node's Unix sockets is refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcost.devcluster import realnode


def test_a_folder_too_deep_for_the_sockets_names_the_folder_and_the_limit() -> None:
    # The folder pytest gave the lifecycle test in CI, where containerd refused its socket.
    deep = Path("/tmp/pytest-of-root/pytest-207/test_a_pod_runs_and_down_resto0/cluster")
    with pytest.raises(realnode.RealNodeError, match=rf"{deep} is too deep .* over the 104 .* shorter --dir"):
        realnode.require_short_socket_paths(realnode.NodePaths(deep / "node"))


def test_a_usual_folder_is_accepted() -> None:
    realnode.require_short_socket_paths(realnode.NodePaths(Path("/tmp/pytest-of-root/pytest-207/node0/cluster/node")))
    realnode.require_short_socket_paths(realnode.NodePaths(Path.home() / ".kcost" / "dev-cluster" / "node"))
