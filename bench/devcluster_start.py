"""How fast the local stack starts and how much memory it holds.

Prints, as medians over several runs:
- fresh start: a new work folder (certificates, etcd data, every process);
- warm restart: the same folder again after `down` (the usual `make demo` re-run);
- resident memory of the stack with the smoke scenario loaded;
- history throughput: samples per second for writing OpenMetrics and building blocks.

Usage: python bench/devcluster_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kcost.devcluster import binaries, processes, prometheus
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.scenario import library, loader, openmetrics
from kcost.devcluster.scenario.model import Scenario


def _rss_mib(pid: int) -> float:
    total_kib = 0
    for member in processes.group_members(pid) or [pid]:
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


def _timed_up(cluster: DevCluster) -> float:
    started = time.perf_counter()
    cluster.up(default_nodes())
    return time.perf_counter() - started


def _history_throughput(scenario: Scenario, scratch: Path) -> tuple[float, float, int]:
    end = loader.aligned_end()
    started = time.perf_counter()
    files, samples = openmetrics.write(scenario, end, scratch, shards=2)
    written = time.perf_counter() - started
    started = time.perf_counter()
    for index, path in enumerate(files):
        prometheus.create_blocks(path, scratch / f"blocks-{index}")
    built = time.perf_counter() - started
    return samples / written, samples / built, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    console = Console(stderr=True)
    binaries.ensure_built(console)
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the benchmark
    fresh: list[float] = []
    warm: list[float] = []
    memory: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="kcost-bench-") as scratch:
        for run in range(args.runs):
            cluster = DevCluster(Path(scratch) / f"run-{run}", quiet)
            try:
                fresh.append(_timed_up(cluster))
                cluster.down()
                warm.append(_timed_up(cluster))
                loader.load(cluster, library.smoke())
                state = cluster.require_state()
                memory.append({name: _rss_mib(pid) for name, pid in state.pids.items()})
            finally:
                cluster.down()
            console.print(f"run {run + 1}/{args.runs}: fresh {fresh[-1]:.1f} s, warm {warm[-1]:.1f} s")
        write_rate, build_rate, samples = _history_throughput(library.smoke(), Path(scratch))

    table = Table(title="local stack start (median of runs)")
    for column in ("measure", "median", "min", "max"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name, values in (("fresh start, s", fresh), ("warm restart, s", warm)):
        table.add_row(name, f"{statistics.median(values):.2f}", f"{min(values):.2f}", f"{max(values):.2f}")
    table.add_row("warm / fresh", f"{statistics.median(warm) / statistics.median(fresh):.2f}", "", "")
    table.add_row("warm / 20 s target", f"{statistics.median(warm) / 20:.2f}", "", "")
    Console().print(table)

    rss = Table(title="resident memory with the smoke scenario loaded, MiB (median of runs)")
    rss.add_column("process")
    rss.add_column("MiB", justify="right")
    for name in memory[0]:
        rss.add_row(name, f"{statistics.median(m[name] for m in memory):.0f}")
    rss.add_row("total", f"{statistics.median(sum(m.values()) for m in memory):.0f}")
    Console().print(rss)
    Console().print(
        f"history: {samples:,} samples; OpenMetrics written at {write_rate:,.0f} samples/s, "
        f"promtool blocks at {build_rate:,.0f} samples/s (one core)"
    )


if __name__ == "__main__":
    main()
