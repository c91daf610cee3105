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
    "--model",
    "which",
    type=click.Choice(["all", "confidence", "classes"]),
    default="all",
    show_default=True,
    help="Which artifact to build (classes learns from the scenario generator, not from the trace).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the artifacts (default: the package's, kcost/ml/models).",
)
def train(traces_path: Path, seed: int, which: str, out_dir: Path | None) -> None:
    """Fit the calibrated confidence model on backtests of a trace, and the workload-class model on the
    scenario generator's labelled series; deterministic for a seed."""
    if which in ("all", "confidence"):
        _train_confidence(traces_path, seed, out_dir)
    if which in ("all", "classes"):
        _train_classes(seed, out_dir)


def _train_classes(seed: int, out_dir: Path | None) -> None:
    from kcost.cli import ml_classes
    from kcost.ml import artifacts, classes

    model, metadata = ml_classes.train(seed)
    directory = out_dir or artifacts.SHIPPED_DIR
    model_path, metadata_path = artifacts.save(classes.ARTIFACT, model.forest, metadata, directory)
    arrays_path = artifacts.save_arrays(classes.ARTIFACT, model.scorer.arrays(), directory)
    held_out = metadata["metrics_held_out"]
    click.echo(
        f"workload-class model: {metadata['training_rows']} generator series; held out {held_out['series']} "
        f"series: accuracy {held_out['accuracy']}"
    )
    click.echo(f"wrote {model_path}, {arrays_path} and {metadata_path}")


def _train_confidence(traces_path: Path, seed: int, out_dir: Path | None) -> None:
    from kcost.analyzers.rightsizing import calibration, traces
    from kcost.ml import artifacts, confidence

    try:
        series = traces.load(traces_path)
    except traces.TraceFormatError as error:
        raise click.ClickException(str(error)) from None
    model, metadata = calibration.train(series, seed=seed, source=traces_path.name)
    directory = out_dir or artifacts.SHIPPED_DIR
    model_path, metadata_path = artifacts.save(confidence.ARTIFACT, model, metadata, directory)
    arrays_path = artifacts.save_arrays(confidence.ARTIFACT, model.scorer.arrays(), directory)
    held_out = metadata["metrics_held_out"]
    click.echo(
        f"confidence model: {metadata['training_rows']} backtests of {len(metadata['training_workloads'])} workloads; "
        f"held out {held_out['workloads']} workloads ({held_out['rows']} backtests): brier {held_out['brier']}, "
        f"share held at confidence >= 0.9: {held_out['share_held_confidence_ge_0_9']} "
        f"of {held_out['count_confidence_ge_0_9']}"
    )
    click.echo(f"wrote {model_path}, {arrays_path} and {metadata_path}")
