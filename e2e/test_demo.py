"""`make demo` in short: `kcost demo` on a cluster of its own ends with findings of every type."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from kcost.devcluster.cluster import DevCluster

KCOST = str(Path(sys.executable).with_name("kcost"))


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
    finally:
        DevCluster(work, Console(stderr=True)).down()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "USD/hour" in out, "the cluster was priced"
    assert "Potential savings:" in out
    for kind in ("right-sizing", "idle-workload"):
        assert kind in out, f"no {kind} recommendation in the demo"
    # The hints name the demo's own folder, not the default cluster.
    assert f'eval "$(.venv/bin/kcost dev-cluster env --dir {shlex.quote(str(work))})"' in out
    assert f"kcost dev-cluster down --dir {shlex.quote(str(work))}" in out
