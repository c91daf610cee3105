"""``kcost bench quality``'s workload-class report: classes on the trace, held-out accuracy, class-aware vs fixed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kcost.analyzers.rightsizing.quality import QualityReport
    from kcost.analyzers.rightsizing.traces import TraceSeries

CLASS_AWARE = "kcost+classes"
FIXED = "kcost"
# The figures compared, and whether more is better.
COMPARED = (("cost_usd", False), ("cpu_shortfall_pct", False), ("mem_pressure_pct", False), ("oom_count", False))


def report(
    series_by_vm: Mapping[str, TraceSeries],
    quality: QualityReport,
    *,
    train_days: float,
    held_out_per_pattern: int | None = None,
) -> dict[str, Any]:
    """The class of each series' training days, the shipped model's accuracy on generator series it never saw
    (``held_out_per_pattern`` of each pattern; the training's count by default), and class-aware against fixed
    kcost settings on ``quality``'s scores."""
    from kcost.analyzers.rightsizing import classes
    from kcost.analyzers.rightsizing import quality as rightsizing_quality
    from kcost.analyzers.rightsizing.settings import KcostRightsizing
    from kcost.cli import ml_classes
    from kcost.ml import artifacts
    from kcost.ml import classes as class_model

    found: Counter[str] = Counter()
    for series in series_by_vm.values():
        cut = rightsizing_quality.split(series, train_days, quality.eval_days)
        if cut is not None:
            found[str(classes.classify(cut.train) or "unclassified")] += 1
    seed = int(artifacts.read_metadata(class_model.ARTIFACT)["seed"])
    fixed, aware = quality.scores[FIXED].to_json(), quality.scores[CLASS_AWARE].to_json()
    gain = {
        name: {"fixed": fixed[name], "class_aware": aware[name], "better": aware[name] < fixed[name]}
        for name, _ in COMPARED
    }
    gain["share_over_10pct_cpu_shortfall"] = {
        "fixed": fixed["per_workload"]["share_over_10pct_cpu_shortfall"],
        "class_aware": aware["per_workload"]["share_over_10pct_cpu_shortfall"],
        "better": aware["per_workload"]["share_over_10pct_cpu_shortfall"]
        < fixed["per_workload"]["share_over_10pct_cpu_shortfall"],
    }
    return {
        "distribution": dict(sorted(found.items())),
        "held_out_generator": ml_classes.held_out(
            class_model.shipped(), seed, held_out_per_pattern or ml_classes.HELD_OUT_PER_PATTERN
        ),
        "class_aware_vs_fixed": gain,
        "default": "class-aware" if KcostRightsizing.model_fields["class_aware"].default else "fixed",
    }


def print_report(figures: dict[str, Any]) -> None:
    """The report as a person reads it: the distribution, the accuracy, and the verdict per figure."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 132))

    distribution = ", ".join(f"{name} {count}" for name, count in figures["distribution"].items())
    console.print(f"workload classes of the scored series (training days): {distribution}")
    held_out = figures["held_out_generator"]
    console.print(f"class model on {held_out['series']} generator series it never saw: accuracy {held_out['accuracy']}")
    matrix = Table(title="Confusion on held-out generator series (rows: true class, columns: predicted)")
    names = list(held_out["confusion"])
    for header in ("true \\ predicted", *names):
        matrix.add_column(header, justify="left" if header.startswith("true") else "right")
    for name in names:
        matrix.add_row(name, *(str(held_out["confusion"][name][column]) for column in names))
    console.print(matrix)
    gain = Table(title="Class-aware settings (kcost+classes) against fixed defaults (kcost)")
    for header in ("figure", "fixed", "class-aware", "class-aware better"):
        gain.add_column(header, justify="left" if header == "figure" else "right")
    for name, values in figures["class_aware_vs_fixed"].items():
        gain.add_row(name, str(values["fixed"]), str(values["class_aware"]), "yes" if values["better"] else "no")
    console.print(gain)
    console.print(f"default: {figures['default']} settings (the rightsizing analyzer's classAware setting)")
