"""The benchmark's scoring, on a tiny trace worked out by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kcost.analyzers.rightsizing import base, quality, traces
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import NotEnoughData
from kcost.api.v1alpha1.recommendation import RiskLevel
from kcost.cli.bench import bench

HEADER = "trace,vm,ts,cpu_cores,cpu_cores_provisioned,mem_mib,mem_mib_provisioned\n"
T0 = 1_000_000
# Hourly samples; with 3h of training and 3h of evaluation, hours 3, 4 and 5 are scored.
ROWS: dict[str, list[tuple[float, float, float, float]]] = {
    # vm: (cpu_cores, cpu_cores_provisioned, mem_mib, mem_mib_provisioned) per hour
    "a": [(0.1, 2, 100, 4096), (0.1, 0, 100, 4096), (0.1, 2, 100, 4096),
          (0.2, 2, 512, 4096), (0.8, 2, 1024, 4096), (0.6, 2, 2048, 4096), (0.9, 2, 4000, 4096)],
    # Memory only: CPU was not measured.
    "b": [(0, 1, 256, 1024)] * 7,
    # Too short for 3h + 3h.
    "c": [(0.1, 1, 100, 1024)] * 4,
}  # fmt: skip
WINDOW_DAYS = 3 / 24


def write_trace(path: Path) -> Path:
    lines = [
        f"t,{vm},{T0 + hour * 3600},{cpu},{cpu_p},{mem},{mem_p}\n"
        for vm, rows in ROWS.items()
        for hour, (cpu, cpu_p, mem, mem_p) in enumerate(rows)
    ]
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "".join(reversed(lines)))  # out of order on purpose
    return path


class Fixed(base.Strategy[base.StrategySettings]):
    """0.5 core, 1 GiB request, 1.5 GiB limit; "not enough data" when CPU was not measured."""

    name = "fixed"
    settings_model = base.StrategySettings

    def size(self, window: UsageHistory) -> base.Sizing | NotEnoughData:
        if not window.cpu_cores.any():
            return NotEnoughData("no CPU", window.sample_count, 0.0)
        return base.Sizing(0.5, None, 1024 * 2**20, 1536 * 2**20, 1.0, RiskLevel.LOW, "fixed")


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return write_trace(tmp_path / "trace.csv.gz")


def test_loader_sorts_rows_and_converts_memory_to_bytes(trace: Path) -> None:
    series = traces.load(trace)
    assert sorted(series) == ["a", "b", "c"]
    assert series["a"].ts_s.tolist() == [T0 + hour * 3600 for hour in range(7)]
    assert series["a"].memory_bytes[3] == 512 * 2**20
    assert series["a"].cpu_provisioned_cores.tolist()[:2] == [2, 0]


def test_loader_reads_an_empty_usage_field_as_zero_and_names_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "t,1,0,,2,100,1024\n")
    assert traces.load(path)["1"].cpu_cores.tolist() == [0.0]
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "t,1,0,lots,2,100,1024\n")
    with pytest.raises(traces.TraceFormatError, match=r"column 'cpu_cores' is 'lots', expected a number"):
        traces.load(path)
    with gzip.open(path, "wt") as handle:
        handle.write("trace,vm,ts,cpu_cores\nt,1,0,1\n")
    with pytest.raises(traces.TraceFormatError, match=r"missing column\(s\) cpu_cores_provisioned"):
        traces.load(path)


def test_scores_by_hand(trace: Path) -> None:
    report = quality.evaluate(
        traces.load(trace), {"fixed": Fixed(base.StrategySettings())}, train_days=WINDOW_DAYS, eval_days=WINDOW_DAYS
    )
    assert (report.series_total, report.skipped_series) == (3, 1)
    fixed, current = report.scores["fixed"], report.scores["current"]

    # a: 0.5 core + 1 GiB for 3h; b ("not enough data"): provisioned 1 core + 1 GiB for 3h.
    assert fixed.cost_usd == pytest.approx(3 * (0.5 * 0.031611 + 0.004237) + 3 * (0.031611 + 0.004237))
    assert (fixed.series, fixed.not_enough_data, fixed.eval_samples) == (2, 1, 6)
    assert fixed.cpu_shortfall_pct == pytest.approx(100 * 2 / 6)  # a: 0.8 and 0.6 > 0.5
    assert fixed.mem_pressure_pct == pytest.approx(100 * 1 / 6)  # a: 2048 MiB > 1024 MiB (1024 is not above)
    assert fixed.oom_count == 1  # a: 2048 MiB > 1536 MiB; the 4000 MiB at hour 6 is past the window
    assert fixed.cpu_slack_core_hours == pytest.approx(0.3 + 3 * 1.0)
    assert fixed.mem_slack_gib_hours == pytest.approx(0.5 + 3 * 0.75)

    # Provisioned: the largest value of training (a VM that is off reports 0 cores).
    assert current.cost_usd == pytest.approx(3 * (2 * 0.031611 + 4 * 0.004237) + 3 * (0.031611 + 0.004237))
    assert (current.cpu_shortfall_pct, current.mem_pressure_pct, current.oom_count) == (0, 0, 0)
    assert current.cpu_slack_core_hours == pytest.approx((1.8 + 1.2 + 1.4) + 3.0)
    assert current.mem_slack_gib_hours == pytest.approx((3.5 + 3.0 + 2.0) + 2.25)

    figures = report.to_json()
    assert figures["skipped_series"] == 1
    assert figures["strategies"]["fixed"] == {
        "cost_usd": 0.17,
        "cpu_shortfall_pct": 33.33,
        "mem_pressure_pct": 16.67,
        "oom_count": 1,
        "cpu_slack_core_hours": 3.3,
        "mem_slack_gib_hours": 2.8,
        "series": 2,
        "not_enough_data": 1,
        # Per series: a is short of CPU in 2 of 3 samples and above its memory request in 1; b in none.
        "per_workload": {
            "cpu_shortfall_pct": {"p50": 33.33, "p95": 63.33, "max": 66.67},
            "mem_pressure_pct": {"p50": 16.67, "p95": 31.67, "max": 33.33},
            "share_over_10pct_cpu_shortfall": 0.5,
        },
    }


def test_a_series_must_reach_the_end_of_the_evaluation_window(trace: Path) -> None:
    series = traces.load(trace)["a"]
    assert quality.split(series, WINDOW_DAYS, WINDOW_DAYS) is not None
    # Needs samples up to 7h - 1h (one sampling interval); the last one is at 6h.
    assert quality.split(series, WINDOW_DAYS, 4 / 24) is not None
    assert quality.split(series, WINDOW_DAYS, 4.01 / 24) is None


def test_comparison_with_the_references() -> None:
    report = quality.QualityReport(14, 14, series_total=1, skipped_series=0)
    report.scores = {
        "kcost": quality.StrategyScore(cost_usd=60, oom_count=1),
        "vpa": quality.StrategyScore(cost_usd=80, oom_count=4),
        "krr-simple": quality.StrategyScore(cost_usd=100, oom_count=2),
    }
    assert report.versus_references() == {
        "cost_ratio": 0.75,
        "oom_ratio": 0.5,
        "cpu_shortfall_pct_delta": 0.0,
        "mem_pressure_pct_delta": 0.0,
    }


def test_cli_prints_json_and_a_table(trace: Path) -> None:
    args = ["quality", "--traces", str(trace), "--train-days", "0.125", "--eval-days", "0.125"]
    result = CliRunner().invoke(bench, [*args, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert list(figures["strategies"]) == ["current", "kcost", "vpa", "krr-simple", "kcost+classes"]
    assert figures["skipped_series"] == 1
    # Three hours of training are too short to classify: class-aware sizing falls back to the fixed settings.
    assert figures["workload_classes"]["distribution"] == {"unclassified": 2}
    assert figures["strategies"]["kcost+classes"]["cost_usd"] == figures["strategies"]["kcost"]["cost_usd"]
    # Three hourly samples are too few for kcost and KRR: they keep the provisioned values.
    assert figures["strategies"]["kcost"]["not_enough_data"] == 2
    assert figures["strategies"]["krr-simple"]["cost_usd"] == figures["strategies"]["current"]["cost_usd"]
    assert figures["strategies"]["vpa"]["not_enough_data"] == 0
    table = CliRunner().invoke(bench, args)
    assert table.exit_code == 0, table.output
    assert "krr-simple" in table.output
    assert "skipped 1 shorter than 0.25 days" in table.output


def test_cli_names_a_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("vm,ts\n1,0\n")
    result = CliRunner().invoke(bench, ["quality", "--traces", str(path)])
    assert result.exit_code == 1
    assert "missing column(s) trace" in result.output
