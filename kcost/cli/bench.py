"""``kcost bench``: right-sizing quality on recorded data; analysis at scale on the local stack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kcost.cli import (
    bench_analysis,
    bench_anomaly,
    bench_classes,
    bench_forecast,
    bench_ml_overhead,
    bench_promql,
    bench_sizing,
)
from kcost.cli.options import traces_option

if TYPE_CHECKING:
    from rich.console import Console

    from kcost.analyzers.rightsizing.churn import ChurnReport
    from kcost.analyzers.rightsizing.quality import QualityReport
    from kcost.api.v1alpha1.policy import Hysteresis

STRATEGY_NAMES = ("kcost", "vpa", "krr-simple")
REFERENCE_NAMES = ("vpa", "krr-simple")
WITH_HYSTERESIS = "kcost+hysteresis"
# What hysteresis may cost, in points of the cost ratio against the better reference.
HYSTERESIS_COST_BUDGET_POINTS = 2.0


@click.group("bench")
def bench() -> None:
    """Benchmarks: right-sizing quality on recorded data, and analysis at scale on the local stack.

    \b
    Examples:
      kcost bench analysis --workloads 1000 --workloads 10000
      kcost bench quality --traces ../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz
      kcost bench quality --traces trace.csv.gz --train-days 7 --eval-days 7 --json
      kcost bench churn --traces ../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz
      kcost bench forecast --traces ../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz
    """


bench.add_command(bench_analysis.analysis)
bench.add_command(bench_forecast.forecast)
bench.add_command(bench_anomaly.anomaly)
bench.add_command(bench_ml_overhead.ml_overhead)
bench.add_command(bench_sizing.sizing)
bench.add_command(bench_promql.promql)


@bench.command()
@traces_option
@click.option(
    "--train-days",
    default=14.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Days of each series the strategies learn from.",
)
@click.option(
    "--eval-days",
    default=14.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Days after those on which the values are scored.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def quality(traces_path: Path, train_days: float, eval_days: float, as_json: bool) -> None:
    """Right-sizing quality: kcost, VPA and KRR against what is provisioned, on a usage trace."""
    from kcost.analyzers.rightsizing import calibration, strategies, traces
    from kcost.analyzers.rightsizing import classes as rightsizing_classes
    from kcost.analyzers.rightsizing import quality as rightsizing_quality
    from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy
    from kcost.ml import artifacts

    started = time.perf_counter()
    try:
        series = traces.load(traces_path)
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    created = {name: strategies.create(name) for name in STRATEGY_NAMES}
    created[bench_classes.CLASS_AWARE] = rightsizing_classes.ClassAwareStrategy(AdaptiveSettings())
    try:
        report = rightsizing_quality.evaluate(series, created, train_days=train_days, eval_days=eval_days)
        ours = created["kcost"]
        assert isinstance(ours, AdaptiveStrategy)
        reliability, judged_on = calibration.held_out_calibration(
            series, ours, train_days=train_days, eval_days=eval_days
        )
        workload_classes = bench_classes.report(series, report, train_days=train_days)
    except artifacts.ArtifactError as error:
        raise click.ClickException(str(error)) from None
    elapsed_s = time.perf_counter() - started
    if as_json:
        figures = report.to_json()
        figures["strategies"]["kcost"] |= {"calibration": reliability, "calibration_held_out": judged_on}
        figures["workload_classes"] = workload_classes
        click.echo(json.dumps({**figures, "elapsed_s": round(elapsed_s, 2)}, indent=2))
    else:
        _print_table(report, traces_path, elapsed_s)
        _print_calibration(reliability, judged_on)
        bench_classes.print_report(workload_classes)


def _print_table(report: QualityReport, traces_path: Path, elapsed_s: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Right-sizing quality on {traces_path.name}: train {report.train_days:g}d, eval {report.eval_days:g}d"
    )
    for header in ("strategy", "cost USD", "CPU shortfall %", "mem pressure %", "OOMs", "CPU slack core-h",
                   "mem slack GiB-h", "series", "not enough data"):  # fmt: skip
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for name, score in report.scores.items():
        figures = score.to_json()
        table.add_row(
            name,
            f"{figures['cost_usd']:,.2f}",
            f"{figures['cpu_shortfall_pct']:.2f}",
            f"{figures['mem_pressure_pct']:.2f}",
            str(figures["oom_count"]),
            f"{figures['cpu_slack_core_hours']:,.1f}",
            f"{figures['mem_slack_gib_hours']:,.1f}",
            str(figures["series"]),
            str(figures["not_enough_data"]),
        )
    # Wide enough for every column even when piped (rich assumes 80 columns then).
    console = Console(width=max(Console().width, 132))
    console.print(table)
    console.print(
        f"scored {report.series_total - report.skipped_series} of {report.series_total} series; "
        f"skipped {report.skipped_series} shorter than {report.train_days + report.eval_days:g} days. "
        "'not enough data': series kept at their provisioned values."
    )
    versus = report.versus_references()
    if versus:
        console.print(
            "kcost vs the better of vpa and krr-simple: "
            + ", ".join(f"{key} {'n/a' if value is None else value}" for key, value in versus.items())
        )
    _print_per_workload(report, console)
    console.print(f"took {elapsed_s:.1f}s")


def _print_per_workload(report: QualityReport, console: Console) -> None:
    from rich.table import Table

    table = Table(title="Per workload: CPU shortfall % and memory pressure % of each series")
    for header in ("strategy", "CPU p50", "CPU p95", "CPU max", "mem p50", "mem p95", "mem max", "> 10% CPU"):
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for name, score in report.scores.items():
        tail = score.to_json()["per_workload"]
        cpu, memory = tail["cpu_shortfall_pct"], tail["mem_pressure_pct"]
        table.add_row(
            name,
            *(f"{figures[key]:.2f}" for figures in (cpu, memory) for key in ("p50", "p95", "max")),
            f"{tail['share_over_10pct_cpu_shortfall']:.1%}",
        )
    console.print(table)


def _print_calibration(reliability: dict[str, Any], judged_on: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"kcost confidence on {judged_on['workloads']} held-out workloads ({judged_on['cuts']} cuts, one a day)"
    )
    for header in ("confidence", "cuts", "mean confidence", "share held"):
        table.add_column(header, justify="right")
    for bucket in reliability["buckets"]:
        mean, share = bucket["mean_confidence"], bucket["share_held"]
        table.add_row(
            f"{bucket['from']:.2f}–{bucket['to']:.2f}",
            str(bucket["count"]),
            "—" if mean is None else f"{mean:.3f}",
            "—" if share is None else f"{share:.3f}",
        )
    console = Console(width=max(Console().width, 132))
    console.print(table)
    console.print(
        f"Brier {reliability['brier']}; confidence >= 0.9: {reliability['count_confidence_ge_0_9']} cuts, "
        f"{reliability['share_held_confidence_ge_0_9']} held; cuts above 10% CPU shortfall at confidence >= 0.9: "
        f"{judged_on['cuts_over_10pct_cpu_shortfall_at_confidence_ge_0_9']}"
    )


@bench.command()
@traces_option
@click.option("--runs", default=14, show_default=True, type=click.IntRange(min=2), help="Daily runs replayed.")
@click.option(
    "--train-days",
    default=14.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Days of usage before the first run.",
)
@click.option("--min-change-percent", type=click.FloatRange(0, 100), help="Hysteresis band (policy default if unset).")
@click.option("--min-monthly-savings-usd", type=click.FloatRange(min=0), help="Hysteresis band in USD a month.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def churn(
    traces_path: Path,
    runs: int,
    train_days: float,
    min_change_percent: float | None,
    min_monthly_savings_usd: float | None,
    as_json: bool,
) -> None:
    """Churn: replay a trace as daily runs and count, per workload, how often each strategy's proposal changes."""
    from kcost.analyzers.rightsizing import churn as rightsizing_churn
    from kcost.analyzers.rightsizing import strategies, traces
    from kcost.api.v1alpha1.policy import Hysteresis

    started = time.perf_counter()
    try:
        series = traces.load(traces_path)
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    given = {"min_change_percent": min_change_percent, "min_monthly_savings_usd": min_monthly_savings_usd}
    band = Hysteresis(**{name: value for name, value in given.items() if value is not None})
    variants = {
        "kcost": rightsizing_churn.Variant(strategies.create("kcost")),
        WITH_HYSTERESIS: rightsizing_churn.Variant(strategies.create("kcost"), band),
        **{name: rightsizing_churn.Variant(strategies.create(name)) for name in REFERENCE_NAMES},
    }
    report = rightsizing_churn.replay(series, variants, runs=runs, train_days=train_days)
    elapsed_s = time.perf_counter() - started
    given_back = _hysteresis_cost_points(report)
    if as_json:
        figures = {**report.to_json(), "hysteresis_cost_ratio_points": given_back, "elapsed_s": round(elapsed_s, 2)}
        click.echo(json.dumps(figures, indent=2))
    else:
        _print_churn_table(report, traces_path, band, given_back, elapsed_s)


def _hysteresis_cost_points(report: ChurnReport) -> float | None:
    """How many points of the cost ratio (x100) hysteresis gives back; negative when it saves."""
    with_band = report.cost_ratio(WITH_HYSTERESIS, REFERENCE_NAMES)
    without = report.cost_ratio("kcost", REFERENCE_NAMES)
    return None if with_band is None or without is None else round((with_band - without) * 100, 1)


def _print_churn_table(
    report: ChurnReport, traces_path: Path, band: Hysteresis, given_back: float | None, elapsed_s: float
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Churn on {traces_path.name}: {report.runs} daily runs after {report.train_days:g}d")
    for header in ("strategy", "workloads", "changes median", "changes p95", "applied median", "applied p95",
                   "cost USD", "cost ratio", "CPU shortfall %", "mem pressure %"):  # fmt: skip
        table.add_column(header, justify="left" if header == "strategy" else "right")
    for name, replay in report.replays.items():
        figures = replay.to_json()
        ratio = report.cost_ratio(name, REFERENCE_NAMES)
        table.add_row(
            name,
            str(figures["workloads"]),
            f"{figures['changes']['median']:g}",
            f"{figures['changes']['p95']:.1f}",
            f"{figures['applied']['median']:g}",
            f"{figures['applied']['p95']:.1f}",
            f"{figures['cost_usd']:,.2f}",
            "n/a" if ratio is None else f"{ratio:.3f}",
            f"{figures['cpu_shortfall_pct']:.2f}",
            f"{figures['mem_pressure_pct']:.2f}",
        )
    console = Console(width=max(Console().width, 132))
    console.print(table)
    console.print(
        f"replayed {report.series_total - report.skipped_series} of {report.series_total} series "
        f"(skipped {report.skipped_series} shorter than {report.train_days + report.runs:g} days). "
        "changes: runs after the first whose proposal differs from the run before; applied: those rolled out "
        "under the default auto-approval. Cost ratio: against the cheaper of vpa and krr-simple, "
        "each run's values priced over the day after it."
    )
    if given_back is not None:
        verdict = "within" if given_back <= HYSTERESIS_COST_BUDGET_POINTS else "OVER"
        console.print(
            f"hysteresis (minChangePercent {band.min_change_percent:g}, minMonthlySavingsUsd "
            f"{band.min_monthly_savings_usd:g}) costs {given_back:+.1f} cost-ratio points "
            f"({verdict} the {HYSTERESIS_COST_BUDGET_POINTS:g}-point budget)"
        )
    console.print(f"took {elapsed_s:.1f}s")
