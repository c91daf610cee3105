"""``kcost bench ml-overhead --cluster``: the demo analysis end to end, with and without the learned parts.

The demo scenario (``kcost demo``'s workloads and 14 days of history) in a dev cluster of
its own, the operator and the rightsizing analyzer as processes, and one Analysis of the
whole cluster whose rightsizing settings flip between ``learned: false`` (the rules alone)
and ``learned: true`` (the default) on each run, alternating which goes first. Each flip is a
new generation, so the operator starts a new run; every run reads Prometheus and writes the
recommendations the other mode left different (their confidence and evidence differ), so
both modes pay the same reads and writes. Per run: the wall time from the spec edit to
Succeeded, and the analyzer's own time (analysis and writes, from its log); medians and ratios.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcost.cli.bench_analysis import _spawn, _stop
from kcost.cli.demo import PROFILE, _profile

ANALYSIS = "ml-overhead"
RUN_TIMEOUT_S = 600
ANALYZER_LOG = "ml-overhead-rightsizing"


@dataclass(frozen=True)
class ClusterRuns:
    """Per mode (``learned`` false / true), each run's wall time and the analyzer's duration, in seconds."""

    repeats: int
    wall_s: dict[bool, list[float]]
    analyzer_s: dict[bool, list[float]]

    def ratio(self, figures: dict[bool, list[float]]) -> float:
        return statistics.median(figures[True]) / statistics.median(figures[False])

    def to_json(self) -> dict[str, object]:
        return {
            "repeats": self.repeats,
            "wall_median_s": {str(mode).lower(): round(statistics.median(s), 2) for mode, s in self.wall_s.items()},
            "analyzer_median_s": {
                str(mode).lower(): round(statistics.median(s), 2) for mode, s in self.analyzer_s.items()
            },
            "wall_ratio": round(self.ratio(self.wall_s), 3),
            "analyzer_ratio": round(self.ratio(self.analyzer_s), 3),
            "wall_s": {str(mode).lower(): s for mode, s in self.wall_s.items()},
            "analyzer_s": {str(mode).lower(): s for mode, s in self.analyzer_s.items()},
        }


def _analysis(learned: bool, run: int) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": ANALYSIS},
        "spec": {
            "profileRef": {"name": PROFILE},
            "window": "14d",
            "resolution": "5m",
            # A new timeout each run: a new generation even when ``learned`` is what it was.
            "timeout": f"{10 + run}m",
            "analyzers": [{"name": "rightsizing", "settings": {"learned": learned}}],
        },
    }


def measure_on_cluster(repeats: int, work_dir: Path | None) -> ClusterRuns:
    """``repeats`` runs per mode on the demo cluster (an untimed first run per mode writes the recommendations)."""
    from rich.console import Console

    from kcost.devcluster import binaries
    from kcost.devcluster.cluster import DevCluster
    from kcost.devcluster.scenario import library, loader

    console = Console(stderr=True)
    cluster = DevCluster((work_dir or binaries.cache_root() / "bench-ml-overhead").absolute(), console)
    scenario = library.demo()
    state = cluster.up(scenario.nodes)
    try:
        loader.load(cluster, scenario)
        repo = Path(__file__).resolve().parents[2]
        cluster.kubectl("apply", "--server-side", "-f", str(repo / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost", "--timeout=60s"
        )
        profile = _profile(state.prometheus_url)
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input_text=json.dumps(profile))
        operator = _spawn(cluster, "ml-overhead-operator", ["operator"])
        analyzer = _spawn(cluster, ANALYZER_LOG, ["analyzer", "rightsizing"])
        try:
            wall_s: dict[bool, list[float]] = {False: [], True: []}
            analyzer_s: dict[bool, list[float]] = {False: [], True: []}
            runs = [False, True]  # untimed: the first writes create every recommendation
            for repeat in range(repeats):
                runs += (False, True) if repeat % 2 == 0 else (True, False)
            run_id: str | None = None
            for index, mode in enumerate(runs):
                run_id, wall, duration = _run(cluster, mode, index, run_id, console)
                if index >= 2:
                    wall_s[mode].append(wall)
                    analyzer_s[mode].append(duration)
            return ClusterRuns(repeats, wall_s, analyzer_s)
        finally:
            _stop(analyzer)
            _stop(operator)
    finally:
        cluster.purge()


def _run(cluster: Any, learned: bool, run: int, previous_run: str | None, console: Any) -> tuple[str, float, float]:
    """Apply the Analysis with ``learned``: the new run's id, wall time and analyzer time (analysis, writes)."""
    started = time.perf_counter()
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(_analysis(learned, run)))
    with console.status(f"analysis of the demo, learned: {str(learned).lower()}…"):
        while time.perf_counter() - started < RUN_TIMEOUT_S:
            status = json.loads(cluster.kubectl("get", "kca", ANALYSIS, "-o", "json").stdout).get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed") and status.get("runId") != previous_run:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"analysis {ANALYSIS} (learned: {learned}) did not finish in {RUN_TIMEOUT_S} s")
    wall = time.perf_counter() - started
    if status["phase"] != "Succeeded":
        raise RuntimeError(f"analysis {ANALYSIS} (learned: {learned}) failed: {status.get('conditions')}")
    # The status' durationSeconds is whole seconds; the analyzer logs its split to the millisecond.
    log_text = (cluster.log_dir / f"{ANALYZER_LOG}.log").read_text(errors="replace")
    splits = re.findall(r"analyzed \d+ workloads in ([\d.]+) s .*; wrote \d+ recommendations in ([\d.]+) s", log_text)
    if not splits:
        raise RuntimeError(f"no timing line in {cluster.log_dir / ANALYZER_LOG}.log")
    return str(status["runId"]), round(wall, 3), round(float(splits[-1][0]) + float(splits[-1][1]), 3)
