"""How fast `kubectl cost` answers: cold start of --help, and listing 5,000 recommendations.

Prints medians of several runs with ratios against a baseline measured in the same run:
`python -c pass` for the start-up, and `kubectl get rec -A` for the listing.

Usage: python bench/kubectl_cost.py [--runs 7] [--recommendations 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)


def _median_s(command: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _recommendation(index: int) -> dict[str, object]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": f"deployment-app-{index:05d}-right-sizing", "namespace": f"team-{index % 20:02d}"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"app-{index:05d}"},
            "type": "right-sizing",
            "current": {"containers": [{"name": "app", "requests": {"cpu": "1"}}]},
            "changes": {"containers": [{"name": "app", "requests": {"cpu": "250m"}}]},
            "estimatedMonthlySavings": round(index % 97 + 0.5, 2),
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {"method": "bench", "sampleCount": 4032},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--recommendations", type=int, default=5000)
    args = parser.parse_args()
    console = Console(stderr=True)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    python_s = _median_s([sys.executable, "-c", "pass"], args.runs)
    help_s = _median_s([f"{BIN}/kubectl-cost", "--help"], args.runs)
    plugin_help_s = _median_s([binaries.kubectl(), "cost", "--help"], args.runs, env)
    with tempfile.TemporaryDirectory(prefix="kcost-bench-cli-") as scratch:
        cluster = DevCluster(Path(scratch) / "cluster", console)
        try:
            state = cluster.up(default_nodes()[:1])
            cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
            cluster.kubectl("wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost")
            namespaces = [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n:02d}"}} for n in range(20)
            ]
            cluster.kubectl("apply", "-f", "-", input_text=yaml.safe_dump_all(namespaces))
            with console.status(f"creating {args.recommendations} recommendations…"):
                for start in range(0, args.recommendations, 500):
                    chunk = [_recommendation(i) for i in range(start, min(start + 500, args.recommendations))]
                    cluster.kubectl("apply", "--server-side", "-f", "-", input_text=yaml.safe_dump_all(chunk))
            env["KUBECONFIG"] = str(state.admin_kubeconfig)
            get_s = _median_s([binaries.kubectl(), "get", "rec", "-A"], args.runs, env)
            recs_s = _median_s([binaries.kubectl(), "cost", "recs", "-A"], args.runs, env)
            json_s = _median_s([binaries.kubectl(), "cost", "recs", "-A", "-o", "json"], args.runs, env)
        finally:
            cluster.down()
    table = Table(title=f"kubectl cost (median of {args.runs} runs)")
    for column in ("measure", "seconds", "ratio to baseline"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("python -c pass (baseline)", f"{python_s:.3f}", "1.00")
    table.add_row("kubectl-cost --help", f"{help_s:.3f}", f"{help_s / python_s:.2f}")
    table.add_row("kubectl cost --help (plugin discovery)", f"{plugin_help_s:.3f}", f"{plugin_help_s / python_s:.2f}")
    table.add_row(f"kubectl get rec -A, {args.recommendations} objects (baseline)", f"{get_s:.3f}", "1.00")
    table.add_row(f"kubectl cost recs -A, {args.recommendations}", f"{recs_s:.3f}", f"{recs_s / get_s:.2f}")
    table.add_row(f"kubectl cost recs -A -o json, {args.recommendations}", f"{json_s:.3f}", f"{json_s / get_s:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
