"""``kcost bench anomaly``: anomalies injected into a real usage trace, found by each detector."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kcost.cli.options import traces_option

if TYPE_CHECKING:
    from kcost.ml.anomaly_bench import MethodReport

DEFAULT_SEED = 14


@click.command()
@traces_option
@click.option("--seed", default=DEFAULT_SEED, show_default=True, help="Seeds the injection and the forest.")
@click.option("--series", "max_series", type=click.IntRange(min=1), help="Use only the first N series of the trace.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def anomaly(traces_path: Path, seed: int, max_series: int | None, as_json: bool) -> None:
    """Anomaly detection: precision, recall and F1 per injected kind, IsolationForest vs a robust z-score."""
    from kcost.analyzers.rightsizing import traces
    from kcost.ml import anomaly_bench
    from kcost.ml.anomaly import Method

    started = time.perf_counter()
    try:
        loaded = list(traces.load(traces_path).values())[:max_series]
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    usages = [anomaly_bench.Usage(s.ts_s, s.cpu_cores, s.memory_bytes) for s in loaded if s.ts_s.size]
    cases = anomaly_bench.cases(usages, seed)
    reports = anomaly_bench.evaluate(cases, list(Method), seed)
    verdict = anomaly_bench.verdict(reports)
    elapsed_s = time.perf_counter() - started
    if as_json:
        figures = {
            "series": len(usages),
            "seed": seed,
            "methods": {
                r.method.value: {
                    "overall": r.overall.as_dict(),
                    "by_kind": {kind.value: score.as_dict() for kind, score in r.by_kind.items()},
                    "clean_false_alarm_windows": r.clean_false_alarm_windows,
                    "ms_per_series": round(r.seconds_per_series * 1000, 2),
                }
                for r in reports
            },
            "verdict": verdict,
            "elapsed_s": round(elapsed_s, 2),
        }
        click.echo(json.dumps(figures, indent=2))
        return
    _print_table(reports, traces_path, len(usages), seed, verdict, elapsed_s)


def _print_table(
    reports: list[MethodReport], traces_path: Path, series: int, seed: int, verdict: str, elapsed_s: float
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Anomalies injected into {traces_path.name}: {series} series, seed {seed}")
    for header in ("method", "kind", "precision", "recall", "F1", "TP", "FP", "FN"):
        table.add_column(header, justify="left" if header in ("method", "kind") else "right")
    for report in reports:
        rows = [*((kind.value, score) for kind, score in report.by_kind.items()), ("overall", report.overall)]
        for kind, score in rows:
            table.add_row(
                report.method.value,
                kind,
                f"{score.precision:.3f}",
                f"{score.recall:.3f}",
                f"{score.f1:.3f}",
                str(score.tp),
                str(score.fp),
                str(score.fn),
            )
    console = Console(width=max(Console().width, 132))
    console.print(table)
    for report in reports:
        console.print(
            f"{report.method.value}: {report.clean_false_alarm_windows} hours flagged on the {series} clean series; "
            f"{report.seconds_per_series * 1000:.1f} ms per series"
        )
    console.print(
        "Window-level scores (one hour each). Per kind: the series injected with that kind; overall adds the clean "
        "series, so false alarms on normal usage count."
    )
    console.print(f"verdict: {verdict}")
    console.print(f"took {elapsed_s:.1f}s")
