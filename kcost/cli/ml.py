"""``kcost ml``: build the model artifacts shipped in the package (never needed at install)."""

from __future__ import annotations

from pathlib import Path

import click

from kcost.cli.options import traces_option


@click.group("ml")
def ml() -> None:
    """Learned models: rebuild the shipped artifacts from traces.

    \b
    Examples:
      kcost ml train --traces ../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz --seed 1
    """


@ml.command()
@traces_option
@click.option("--seed", default=1, show_default=True, type=int, help="Seeds the held-out split and the model.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the artifacts (default: the package's, kcost/ml/models).",
)
def train(traces_path: Path, seed: int, out_dir: Path | None) -> None:
    """Fit the calibrated confidence model on backtests of a trace; deterministic for a seed."""
    from kcost.analyzers.rightsizing import calibration, traces
    from kcost.ml import artifacts, confidence

    try:
        series = traces.load(traces_path)
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    model, metadata = calibration.train(series, seed=seed, source=traces_path.name)
    model_path, metadata_path = artifacts.save(confidence.ARTIFACT, model, metadata, out_dir or artifacts.SHIPPED_DIR)
    held_out = metadata["metrics_held_out"]
    click.echo(
        f"confidence model: {metadata['training_rows']} backtests of {len(metadata['training_workloads'])} workloads; "
        f"held out {held_out['workloads']} workloads ({held_out['rows']} backtests): brier {held_out['brier']}, "
        f"share held at confidence >= 0.9: {held_out['share_held_confidence_ge_0_9']} "
        f"of {held_out['count_confidence_ge_0_9']}"
    )
    click.echo(f"wrote {model_path} and {metadata_path}")
