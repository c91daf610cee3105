"""``kcost bench``: right-sizing quality on recorded data; analysis at scale on the local stack."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kcost.cli import bench_analysis

if TYPE_CHECKING:
    from kcost.analyzers.rightsizing.quality import QualityReport

STRATEGY_NAMES = ("kcost", "vpa", "krr-simple")


@click.group("bench")
def bench() -> None:
    """Benchmarks: right-sizing quality on recorded data, and analysis at scale on the local stack.

    \b
    Examples:
      kcost bench analysis --workloads 1000 --workloads 10000
      kcost bench quality --traces ../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz
      kcost bench quality --traces trace.csv.gz --train-days 7 --eval-days 7 --json
    """


bench.add_command(bench_analysis.analysis)


@bench.command()
@click.option(
    "--traces",
    "traces_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Gzipped CSV: trace, vm, ts, cpu_cores, cpu_cores_provisioned, mem_mib, mem_mib_provisioned.",
)
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
    from kcost.analyzers.rightsizing import quality as rightsizing_quality
    from kcost.analyzers.rightsizing import strategies, traces

    started = time.perf_counter()
    try:
        series = traces.load(traces_path)
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    report = rightsizing_quality.evaluate(
        series,
        {name: strategies.create(name) for name in STRATEGY_NAMES},
        train_days=train_days,
        eval_days=eval_days,
    )
    elapsed_s = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps({**report.to_json(), "elapsed_s": round(elapsed_s, 2)}, indent=2))
    else:
        _print_table(report, traces_path, elapsed_s)


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
    console.print(f"took {elapsed_s:.1f}s")
