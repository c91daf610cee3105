"""How fast history becomes Prometheus blocks: tsdbgen against OpenMetrics text + promtool.

The same data for both: pods with a CPU counter, a page-rounded memory gauge with gaps,
and a constant limit, at 60 s. tsdbgen writes all of it (600 series × 14 days by
default); promtool, far slower, gets the first days only. Prints, as medians of several
runs, for tsdbgen end to end (encoding in Python, the Go tool, blocks on disk; on every
core and on one), for `promtool tsdb create-blocks-from openmetrics` alone, and for
writing the OpenMetrics text then promtool:
- samples per second of wall time, and its ratio to promtool's;
- samples per CPU second (ours plus our children's), which other load on a shared
  machine does not skew, and its ratio;
- block bytes on disk per sample.

Usage: python bench/tsdbgen.py [--runs 3] [--series 600] [--days 14] [--promtool-days 2]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from kcost.api.units import MIB
from kcost.devcluster import prometheus, tsdbgen
from kcost.devcluster.tsdbgen import GeneratedSeries

STEP_MS = 60_000
STEPS_PER_DAY = 24 * 60
N_PROFILES = 50


@dataclass(frozen=True)
class Dataset:
    start_ms: int
    n_samples: int
    profiles: list[npt.NDArray[np.float64]]
    series: list[GeneratedSeries]


def _dataset(n_series: int, days: int) -> Dataset:
    n_samples = days * STEPS_PER_DAY
    rng = np.random.default_rng(1)
    steps = np.arange(n_samples)
    profiles = []
    for index in range(N_PROFILES):
        daily = 0.5 + 0.4 * np.sin(steps / STEPS_PER_DAY * 2 * np.pi + index) + rng.normal(0, 0.05, n_samples)
        profiles.append(np.cumsum(np.clip(daily, 0.01, None) * 60))  # CPU seconds: a counter
    for _ in range(N_PROFILES):
        memory = 0.7 + 0.2 * np.sin(steps / STEPS_PER_DAY * 2 * np.pi) + rng.normal(0, 0.01, n_samples)
        memory[rng.choice(n_samples, n_samples // 200, replace=False)] = np.nan  # missed scrapes
        profiles.append(memory)
    series = []
    for pod in range(n_series // 3):
        labels = {"namespace": f"team-{pod % 20}", "pod": f"app-{pod}-7c9f8d", "container": "app"}
        series += [
            GeneratedSeries(
                {"__name__": "container_cpu_usage_seconds_total", **labels}, pod % N_PROFILES, scale=0.1 + pod % 7
            ),
            GeneratedSeries(
                {"__name__": "container_memory_working_set_bytes", **labels},
                N_PROFILES + pod % N_PROFILES,
                scale=(256 + 64 * (pod % 11)) * MIB,
                round_to=4096,
            ),
            GeneratedSeries(
                {"__name__": "kube_pod_container_resource_limits", **labels, "resource": "memory"},
                None,
                constant=(512 + 64 * (pod % 11)) * MIB,
            ),
        ]
    # UTC midnight, whole days before today.
    start_ms = (int(time.time()) // 86_400 - days - 1) * tsdbgen.DAY_MS
    return Dataset(start_ms, n_samples, profiles, series)


def _write_openmetrics(data: Dataset, steps: int, path: Path) -> int:
    """The first ``steps`` of every series as OpenMetrics text, families together; returns the samples."""
    stamps = (data.start_ms + np.arange(steps) * STEP_MS) // 1000
    samples = 0
    with path.open("w") as out:
        for one in sorted(data.series, key=lambda item: item.labels["__name__"]):
            name = one.labels["__name__"]
            inner = ",".join(f'{key}="{value}"' for key, value in sorted(one.labels.items()) if key != "__name__")
            prefix = f"{name}{{{inner}}}"
            values = tsdbgen.expected_values(one, data.profiles, data.n_samples)[:steps]
            present = ~np.isnan(values)
            pairs = zip(values[present].tolist(), stamps[present].tolist(), strict=True)
            out.write("".join(f"{prefix} {value:.17g} {stamp}\n" for value, stamp in pairs))
            samples += int(present.sum())
        out.write("# EOF\n")
    return samples


@dataclass(frozen=True)
class Run:
    samples: int
    wall_s: float
    cpu_s: float  # ours and our children's: the rate per CPU second ignores other load on the machine
    bytes_on_disk: int


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), self._cpu_now()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = self._cpu_now() - self._cpu

    @staticmethod
    def _cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime


def _size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _tsdbgen_run(data: Dataset, workers: int, out: Path) -> Run:
    quiet = Console(file=io.StringIO())
    with Stopwatch() as watch:
        report = tsdbgen.write_blocks(
            out,
            start_ms=data.start_ms,
            step_ms=STEP_MS,
            n_samples=data.n_samples,
            profiles=data.profiles,
            series=data.series,
            workers=workers,
            console=quiet,
        )
    run = Run(report.samples, watch.wall_s, watch.cpu_s, _size(out))
    shutil.rmtree(out)
    return run


def _promtool_run(data: Dataset, days: int, scratch: Path) -> tuple[Run, Run]:
    """Writing the text, then promtool on it."""
    text = scratch / "history.om"
    with Stopwatch() as writing:
        samples = _write_openmetrics(data, days * STEPS_PER_DAY, text)
    with Stopwatch() as building:
        prometheus.create_blocks(text, scratch / "promtool")
    size = _size(scratch / "promtool")
    shutil.rmtree(scratch / "promtool")
    text.unlink()
    return Run(samples, writing.wall_s, writing.cpu_s, 0), Run(samples, building.wall_s, building.cpu_s, size)


def _median_run(runs: list[Run]) -> Run:
    return Run(
        runs[0].samples,
        statistics.median(run.wall_s for run in runs),
        statistics.median(run.cpu_s for run in runs),
        runs[0].bytes_on_disk,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--series", type=int, default=600)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--promtool-days", type=int, default=2)
    args = parser.parse_args()
    console = Console(stderr=True)
    prometheus.require_installed()
    tsdbgen.ensure_tsdbgen(console)
    data = _dataset(args.series, args.days)
    cores = os.cpu_count() or 1
    many, one = f"tsdbgen, {cores} workers", "tsdbgen, 1 worker"
    results: dict[str, list[Run]] = {many: [], one: [], "text": [], "promtool": []}
    with tempfile.TemporaryDirectory(prefix="kcost-bench-tsdbgen-") as scratch_name:
        scratch = Path(scratch_name)
        for run in range(args.runs):
            results[many].append(_tsdbgen_run(data, cores, scratch / "tsdbgen"))
            results[one].append(_tsdbgen_run(data, 1, scratch / "tsdbgen"))
            text, promtool = _promtool_run(data, args.promtool_days, scratch)
            results["text"].append(text)
            results["promtool"].append(promtool)
            timings = ", ".join(f"{name} {runs[-1].wall_s:.2f} s" for name, runs in results.items())
            console.print(f"run {run + 1}/{args.runs}: {timings}", soft_wrap=True)
    medians = {name: _median_run(runs) for name, runs in results.items()}
    _print(medians, f"{len(data.series)}×{args.days}d", f"{len(data.series)}×{args.promtool_days}d")


def _print(medians: dict[str, Run], whole: str, part: str) -> None:
    promtool = medians["promtool"]
    text_and_promtool = Run(
        promtool.samples,
        promtool.wall_s + medians["text"].wall_s,
        promtool.cpu_s + medians["text"].cpu_s,
        promtool.bytes_on_disk,
    )
    table = Table(title="history to Prometheus blocks (median of runs; data: series × days at 60 s)")
    for column in ("path", "data", "samples/s", "ratio", "samples/CPU-s", "ratio ", "B/sample"):
        table.add_column(column, justify="left" if column in {"path", "data"} else "right", no_wrap=True)
    rows = [*((name, whole, run) for name, run in medians.items() if name.startswith("tsdbgen"))]
    rows += [
        ("promtool", part, promtool),
        ("text + promtool", part, text_and_promtool),
    ]
    for name, data, run in rows:
        wall, cpu = run.samples / run.wall_s, run.samples / run.cpu_s
        table.add_row(
            name,
            data,
            f"{wall:,.0f}",
            f"{wall / (promtool.samples / promtool.wall_s):.1f}×",
            f"{cpu:,.0f}",
            f"{cpu / (promtool.samples / promtool.cpu_s):.1f}×",
            f"{run.bytes_on_disk / run.samples:.2f}",
        )
    Console(width=max(Console().width, 100)).print(table)  # wider than 80 columns: unwrapped in a pipe too


if __name__ == "__main__":
    main()
