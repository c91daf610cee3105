"""The churn replay: daily runs over a trace, with and without hysteresis."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from kcost.analyzers.rightsizing import churn, strategies
from kcost.analyzers.rightsizing.traces import TraceSeries
from kcost.api.v1alpha1.policy import Hysteresis
from kcost.cli.bench import bench
from tests.analyzers.rightsizing.series import DAY_S, GIB, START_S

STEP_S = 900.0
DAYS = 14


def _series(vm: str, cpu_cores: np.ndarray, memory_bytes: np.ndarray) -> TraceSeries:
    ts_s = (START_S + np.arange(cpu_cores.size) * STEP_S).astype(np.float64)
    return TraceSeries(
        vm,
        ts_s,
        cpu_cores.astype(np.float64),
        np.full(ts_s.size, 4.0),
        memory_bytes.astype(np.float64),
        np.full(ts_s.size, 8.0 * GIB),
    )


def _workloads() -> dict[str, TraceSeries]:
    """A steady service with a little noise, one whose usage doubles on day 10, and a daily cycle."""
    samples = int(DAYS * DAY_S / STEP_S)
    rng = np.random.default_rng(7)
    days = np.arange(samples) * STEP_S / DAY_S
    steady = _series("steady", 0.5 * rng.uniform(0.97, 1.03, samples), GIB * rng.uniform(0.98, 1.02, samples))
    doubling = np.where(days < 10, 1.0, 2.0)
    grows = _series("grows", 0.3 * doubling, GIB * doubling * rng.uniform(0.99, 1.01, samples))
    cycle = 1 + 0.5 * np.sin(2 * np.pi * days)
    daily = _series("daily", 0.4 * cycle * rng.uniform(0.9, 1.1, samples), 2 * GIB * cycle)
    return {series.vm: series for series in (steady, grows, daily)}


def _replay() -> churn.ChurnReport:
    variants = {
        "kcost": churn.Variant(strategies.create("kcost")),
        "banded": churn.Variant(strategies.create("kcost"), Hysteresis()),
    }
    return churn.replay(_workloads(), variants, runs=6, train_days=7)


def test_hysteresis_never_adds_changes_and_still_follows_a_real_shift() -> None:
    report = _replay()
    kcost, banded = report.replays["kcost"], report.replays["banded"]
    assert len(kcost.changes) == len(banded.changes) == 3
    by_vm = dict(zip(_workloads(), zip(kcost.changes, banded.changes, banded.applied, strict=True), strict=True))
    for vm, (unbanded_changes, banded_changes, banded_applied) in by_vm.items():
        assert banded_changes <= unbanded_changes, vm
        assert banded_applied <= banded_changes <= 5, vm
    assert by_vm["steady"][1] == 0, "noise inside the band is no change"
    assert by_vm["grows"][1] >= 1, "usage that doubled is proposed, band or not"
    assert all(applied <= changes for applied, changes in zip(kcost.applied, kcost.changes, strict=True))


def test_the_values_in_effect_are_priced_over_the_day_after_each_run() -> None:
    report = _replay()
    steady = churn.replay({"steady": _workloads()["steady"]}, {"banded": churn.Variant(strategies.create("kcost"))})
    assert steady.skipped_series == 1, "14 days do not hold 14 runs after 14 days of history"
    kcost = report.replays["kcost"]
    assert kcost.samples == 3 * 6 * int(DAY_S / STEP_S)
    assert kcost.cost_usd > 0
    assert report.cost_ratio("banded", ("kcost",)) is not None


def _write_trace(path: Path) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.write("trace,vm,ts,cpu_cores,cpu_cores_provisioned,mem_mib,mem_mib_provisioned\n")
        for vm, series in _workloads().items():
            for ts_s, cpu, memory in zip(series.ts_s, series.cpu_cores, series.memory_bytes, strict=True):
                handle.write(f"t,{vm},{ts_s:.0f},{cpu:.4f},4,{memory / 2**20:.1f},8192\n")
    return path


def test_cli_replays_a_small_trace_with_consistent_figures(tmp_path: Path) -> None:
    trace = _write_trace(tmp_path / "trace.csv.gz")
    args = ["churn", "--traces", str(trace), "--runs", "6", "--train-days", "7"]
    result = CliRunner().invoke(bench, [*args, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    replays = figures["strategies"]
    assert set(replays) == {"kcost", "kcost+hysteresis", "vpa", "krr-simple"}
    for name, replay in replays.items():
        assert replay["workloads"] == 3, name
        for statistic in ("median", "p95"):
            assert replay["applied"][statistic] <= replay["changes"][statistic] <= 5, name
            assert replay["changes"][statistic] >= 0, name
    for statistic in ("median", "p95"):
        assert replays["kcost+hysteresis"]["changes"][statistic] <= replays["kcost"]["changes"][statistic]
    assert isinstance(figures["hysteresis_cost_ratio_points"], float)
    table = CliRunner().invoke(bench, [*args, "--min-change-percent", "20"])
    assert table.exit_code == 0, table.output
    assert "minChangePercent 20" in table.output
    assert "cost-ratio points" in table.output
