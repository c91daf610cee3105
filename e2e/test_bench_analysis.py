"""`kcost bench analysis` end to end on small sizes: it runs, and the query count stays flat as N grows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

KCOST = str(Path(sys.executable).with_name("kcost"))


def test_bench_analysis_runs_and_queries_do_not_grow_with_workloads(tmp_path: Path) -> None:
    sizes = ["--workloads", "12", "--workloads", "48"]
    command = [KCOST, "bench", "analysis", *sizes, "--namespaces", "3", "--days", "1", "--json"]
    result = subprocess.run(
        [*command, "--dir", str(tmp_path / "bench")], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    small, large = json.loads(result.stdout)
    for run in (small, large):
        assert run["phase"] == "Succeeded"
        # Per namespace: owners (series API), CPU, memory, OOM reasons.
        assert run["analyzer_prometheus_requests"] == 4 * 3
        assert 0 < run["recommendations"] <= run["workloads"]
        assert run["peak_rss_mib"] > 50
        assert run["analyze_s"] > 0
        assert run["cpu_s"]["analyzer"] > 0
    assert (small["workloads"], large["workloads"]) == (12, 48)
    assert large["recommendations"] > small["recommendations"]
    assert not (tmp_path / "bench" / "12").exists(), "each run's cluster is removed afterwards"
