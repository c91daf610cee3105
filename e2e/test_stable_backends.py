"""The same history from Prometheus and from VictoriaMetrics: the same recommendations.

VictoriaMetrics (Debian's package) is loaded from the session Prometheus' own TSDB blocks
with ``vmctl prometheus``, so both backends hold identical samples.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import custom_profile
from e2e.test_stable import _proposals
from kcost.devcluster import processes, victoriametrics
from kcost.devcluster.cluster import DevCluster


@pytest.fixture
def victoria_url(dev_cluster: DevCluster, smoke_end_s: int, tmp_path: Path) -> Iterator[str]:
    """VictoriaMetrics holding the session Prometheus' history (the smoke scenario's included)."""
    port = processes.free_port()
    pid = victoriametrics.start(tmp_path / "victoria-metrics", port, tmp_path)
    try:
        victoriametrics.import_tsdb(dev_cluster.work_dir / "prometheus" / "tsdb", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop(pid)


def _differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Where ``left`` and ``right`` differ; floats within 1e-9 relative count as the same.

    The engines sum the same samples in a different order. Rounding both to a number of
    digits is not enough: two values a rounding boundary apart round differently.
    """
    if isinstance(left, float) and isinstance(right, float):
        return [] if math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {left!r} != {right!r}"]
    if isinstance(left, dict) and isinstance(right, dict):
        if left.keys() != right.keys():
            return [f"{path}: keys {sorted(left)} != {sorted(right)}"]
        return [found for key in left for found in _differences(left[key], right[key], f"{path}.{key}")]
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [f"{path}: {len(left)} items != {len(right)}"]
        return [
            found
            for n, pair in enumerate(zip(left, right, strict=True))
            for found in _differences(*pair, f"{path}[{n}]")
        ]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def _profile(kubectl: Any, url: str) -> str:
    name = f"e2e-backend-{uuid.uuid4().hex[:6]}"
    assert kubectl("apply", "-f", "-", input_text=json.dumps(custom_profile(name, url))).returncode == 0
    return name


async def test_prometheus_and_victoriametrics_give_identical_recommendations(
    kcost_crds: DevCluster, kubectl: Any, smoke_end_s: int, victoria_url: str
) -> None:
    from_prometheus = _profile(kubectl, kcost_crds.require_state().prometheus_url)
    from_victoria = _profile(kubectl, victoria_url)
    try:
        kubeconfig = str(kcost_crds.require_state().admin_kubeconfig)
        end = datetime.datetime.fromtimestamp(smoke_end_s, datetime.UTC)
        prometheus_proposals = await _proposals(kubeconfig, from_prometheus, end)
        victoria_proposals = await _proposals(kubeconfig, from_victoria, end)
    finally:
        kubectl("delete", "ccp", from_prometheus, from_victoria, "--timeout=30s")
    assert len(prometheus_proposals) >= 3
    assert victoria_proposals.keys() == prometheus_proposals.keys()
    for key, proposal in prometheus_proposals.items():
        assert not _differences(victoria_proposals[key], proposal), key
