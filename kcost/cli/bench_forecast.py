"""``kcost bench forecast``: prophet against seasonal-naive and linear-trend on daily costs from a trace.

The series and the scoring are described in ``kcost.ml.forecast_backtest``. The verdict line
says which method had the lowest MAPE with at least ``MIN_PROPHET_DAYS`` of history (where
prophet may run) and below it (where only the baselines may).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kcost.cli.options import traces_option

if TYPE_CHECKING:
    from kcost.api.v1alpha1.profile import ForecastMethod
    from kcost.ml.forecast_backtest import BacktestReport, MethodScore


@click.command("forecast")
@traces_option
@click.option("--group-size", default=10, show_default=True, type=click.IntRange(min=1), help="Machines per series.")
@click.option(
    "--train-days",
    "train_days",
    multiple=True,
    type=click.IntRange(min=2),
    default=(7, 10, 14, 17, 20, 23),
    show_default=True,
    help="Training lengths (rolling origins), repeatable.",
)
@click.option("--horizon-days", default=7, show_default=True, type=click.IntRange(min=1), help="Days forecast.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def forecast(traces_path: Path, group_size: int, train_days: tuple[int, ...], horizon_days: int, as_json: bool) -> None:
    """Daily cost forecast: backtest MAPE and 80% interval coverage of prophet and two baselines."""
    import numpy as np

    from kcost.analyzers.cost.model import DEFAULT_ON_DEMAND
    from kcost.analyzers.rightsizing import traces
    from kcost.ml import forecast_backtest
    from kcost.ml.forecast_backtest import SECONDS_PER_DAY

    started = time.perf_counter()
    try:
        machines = traces.load(traces_path)
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    start_s = min(float(series.ts_s[0]) for series in machines.values())
    # Machines that join later would make their group's cost jump: only those there from the first day.
    machines = {vm: series for vm, series in machines.items() if series.ts_s[0] - start_s < SECONDS_PER_DAY}
    # The trace's own interval (300 s for Bitbrains): the median step of the first machine.
    first = next(iter(machines.values()))
    interval_s = float(np.median(np.diff(first.ts_s)))
    per_machine = [
        forecast_backtest.daily_costs(
            series.ts_s,
            series.cpu_cores,
            series.memory_bytes,
            usd_per_core_hour=DEFAULT_ON_DEMAND.cpu_core_hour or 0.0,
            usd_per_gib_hour=DEFAULT_ON_DEMAND.memory_gib_hour or 0.0,
            start_s=start_s,
            sample_interval_s=interval_s,
        )
        for _, series in sorted(machines.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0)
    ]
    groups = forecast_backtest.group_series(per_machine, group_size)
    series = {f"group-{index}": values for index, values in enumerate(groups)}
    series["all"] = np.sum(groups, axis=0)
    report = forecast_backtest.backtest(series, sorted(set(train_days)), horizon_days)
    elapsed_s = time.perf_counter() - started
    verdict = _verdict(report)
    if as_json:
        click.echo(json.dumps(_to_json(report, verdict, elapsed_s), indent=2))
    else:
        described = f"{len(machines)} machines there from the first day, in groups of {group_size}, and their total"
        _print(report, traces_path, described, verdict, elapsed_s)


def _winners(report: BacktestReport) -> dict[str, tuple[ForecastMethod, MethodScore] | None]:
    from kcost.api.v1alpha1.profile import ForecastMethod
    from kcost.ml.forecast import MIN_PROPHET_DAYS

    winners: dict[str, tuple[ForecastMethod, MethodScore] | None] = {}
    for label, lengths in (
        ("long", [n for n in report.scores if n >= MIN_PROPHET_DAYS]),
        ("short", [n for n in report.scores if n < MIN_PROPHET_DAYS]),
    ):
        pooled = report.pooled(lengths)
        if label == "short":
            pooled.pop(ForecastMethod.PROPHET)
        scored = [(m, s) for m, s in pooled.items() if s.absolute_percentage_errors]
        winners[label] = min(scored, key=lambda item: item[1].mape_percent) if scored else None
    return winners


def _verdict(report: BacktestReport) -> str:
    from kcost.ml.forecast import DEFAULT_METHOD, MIN_PROPHET_DAYS

    winners = _winners(report)
    parts = []
    long_winner, short_winner = winners["long"], winners["short"]
    if long_winner is not None:
        method, score = long_winner
        agrees = "the default" if method is DEFAULT_METHOD else f"NOT the default ({DEFAULT_METHOD.value})"
        parts.append(
            f"with ≥{MIN_PROPHET_DAYS} days of history {method.value} forecast best "
            f"(MAPE {score.mape_percent:.1f}%, WAPE {score.wape_percent:.1f}%), {agrees}"
        )
    if short_winner is not None:
        method, score = short_winner
        parts.append(
            f"below {MIN_PROPHET_DAYS} days {method.value} "
            f"(MAPE {score.mape_percent:.1f}%, WAPE {score.wape_percent:.1f}%)"
        )
    return "; ".join(parts) or "nothing scored: series shorter than training plus horizon"


def _to_json(report: BacktestReport, verdict: str, elapsed_s: float) -> dict[str, object]:
    return {
        "horizon_days": report.horizon_days,
        "series": report.series_count,
        "by_train_days": {
            str(length): {
                method.value: {
                    "mape_pct": round(score.mape_percent, 2),
                    "wape_pct": round(score.wape_percent, 2),
                    "coverage_80_pct": round(score.coverage_percent, 1),
                    "mean_fit_s": round(score.mean_fit_seconds, 4),
                    "forecasts": len(score.fit_seconds),
                }
                for method, score in scores.items()
                if score.fit_seconds
            }
            for length, scores in report.scores.items()
        },
        "verdict": verdict,
        "elapsed_s": round(elapsed_s, 2),
        "loadavg": _loadavg(),
    }


def _loadavg() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def _print(report: BacktestReport, traces_path: Path, described: str, verdict: str, elapsed_s: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Daily cost forecast on {traces_path.name}: {report.horizon_days} days ahead")
    for header in ("train days", "method", "MAPE %", "WAPE %", "80% coverage %", "mean fit s", "forecasts"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for length, scores in report.scores.items():
        for method, score in scores.items():
            if score.fit_seconds:
                table.add_row(
                    str(length),
                    method.value,
                    f"{score.mape_percent:.2f}",
                    f"{score.wape_percent:.2f}",
                    f"{score.coverage_percent:.1f}",
                    f"{score.mean_fit_seconds:.3f}",
                    str(len(score.fit_seconds)),
                )
    console = Console(width=max(Console().width, 100))
    console.print(table)
    console.print(f"{report.series_count} series: {described}; verdict: {verdict}")
    console.print(f"took {elapsed_s:.1f}s, load average {_loadavg()}")
