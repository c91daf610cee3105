"""Options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path

import click

# Every trace-driven command (bench quality, churn, forecast, anomaly; ml train) reads the same file.
traces_option = click.option(
    "--traces",
    "traces_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Gzipped CSV: trace, vm, ts, cpu_cores, cpu_cores_provisioned, mem_mib, mem_mib_provisioned.",
)
