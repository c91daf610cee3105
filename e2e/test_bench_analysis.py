"""`kcost bench analysis` end to end on small sizes: before/after runs, an unchanged re-run, flat query counts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

KCOST = str(Path(sys.executable).with_name("kcost"))


@pytest.mark.timeout(2100)  # ten analyses and two clusters: minutes on a busy machine
def test_bench_analysis_runs_both_read_paths_and_queries_do_not_grow_with_workloads(tmp_path: Path) -> None:
    sizes = ["--workloads", "12", "--workloads", "48"]
    sizing = ["--sizing-processes", "0", "--sizing-processes", "1"]
    command = [KCOST, "bench", "analysis", *sizes, *sizing, "--namespaces", "3", "--days", "1", "--json"]
    result = subprocess.run(
        [*command, "--dir", str(tmp_path / "bench")], capture_output=True, text=True, timeout=2000, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout)
    assert [(r["workloads"], r["read_path"], r["sizing_processes"], r["run"]) for r in runs] == [
        (n, path, processes, run)
        for n in (12, 48)
        for path, processes, run in (
            ("baseline", 0, "first"),
            ("fast", 0, "first"),
            ("fast", 0, "unchanged"),
            ("fast", 1, "first"),
            ("fast", 1, "unchanged"),
        )
    ]
    # Sizing in a worker process makes the same proposals, and its memory counts as the analyzer's.
    for n in (12, 48):
        threaded, worker = (
            next(r for r in runs if (r["workloads"], r["read_path"], r["sizing_processes"], r["run"]) == key)
            for key in ((n, "fast", 0, "first"), (n, "fast", 1, "first"))
        )
        assert worker["recommendations"] == threaded["recommendations"]
        assert worker["peak_rss_mib"] > threaded["peak_rss_mib"] + 40, "the worker's peak is added"
        unchanged = next(r for r in runs if (r["workloads"], r["sizing_processes"], r["run"]) == (n, 1, "unchanged"))
        assert unchanged["recommendations_changed"] == 0
    runs = [r for r in runs if r["sizing_processes"] == 0]
    for run in runs:
        assert run["phase"] == "Succeeded"
        # Per namespace: owners (series API), CPU, memory, OOM reasons, on either read path.
        assert run["analyzer_prometheus_requests"] == 4 * 3
        assert 0 < run["recommendations"] <= run["workloads"]
        assert run["peak_rss_mib"] > 50
        assert run["analyze_s"] > 0
        assert run["read_wait_s"] + run["size_s"] > 0, "the analyzer logged its read/size split"
        # An unchanged re-run of a few workloads can take less than a clock tick of the analyzer's CPU.
        assert run["cpu_s"]["analyzer"] > 0 if run["run"] == "first" else run["cpu_s"]["analyzer"] >= 0
        assert {"kube-apiserver", "kube-controller-manager", "kwok"} <= run["cpu_s"].keys(), "the cluster is watched"
    by_key = {(r["workloads"], r["read_path"], r["run"]): r for r in runs}
    for n in (12, 48):
        before, after = by_key[(n, "baseline", "first")], by_key[(n, "fast", "first")]
        assert after["recommendations"] == before["recommendations"], "both read paths make the same proposals"
        assert by_key[(n, "fast", "unchanged")]["recommendations_changed"] == 0, "an unchanged re-run writes none"
        # Each analyzer starts with an empty range cache; the re-run reads the new steps of CPU and memory only.
        assert (after["range_reads_incremental"], after["range_reads_whole"]) == (0, 2 * 3)
        unchanged = by_key[(n, "fast", "unchanged")]
        assert (unchanged["range_reads_incremental"], unchanged["range_reads_whole"]) == (2 * 3, 0)
        # Each analyzer starts with no sizing memory; the unchanged re-run sizes nothing again.
        assert after["containers_remembered"] == 0 < after["containers_sized"]
        assert unchanged["containers_remembered"] == unchanged["containers_sized"] == after["containers_sized"]
        assert before["recommendations_changed"] is None
    assert by_key[(48, "fast", "first")]["recommendations"] > by_key[(12, "fast", "first")]["recommendations"]
    assert not (tmp_path / "bench" / "12").exists(), "each run's cluster is removed afterwards"
