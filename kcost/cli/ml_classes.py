"""The workload-class model's training and held-out check on the scenario generator's labelled series."""

from __future__ import annotations

from typing import Any

import numpy as np

from kcost.devcluster.scenario import labelled
from kcost.ml import artifacts, class_features, classes

TRAINING_PER_PATTERN = 60
HELD_OUT_PER_PATTERN = 20
# Held-out series are drawn with another seed: series the forest never saw.
HELD_OUT_SEED_OFFSET = 10_000


def matrix(series: list[labelled.LabelledSeries]) -> tuple[np.ndarray, np.ndarray]:
    """Features (one row per series) and the class of each."""
    rows = np.array(
        [class_features.features(s.ts_s, s.cpu_cores, s.memory_bytes, s.cpu_request_cores) for s in series],
        dtype=np.float64,
    ).reshape(-1, len(class_features.FEATURES))
    return rows, np.array([str(s.label) for s in series], dtype=np.str_)


def held_out(model: classes.ClassModel, seed: int, per_pattern: int = HELD_OUT_PER_PATTERN) -> dict[str, Any]:
    """Accuracy and confusion of ``model`` on generator series drawn with a seed it was not trained with."""
    series = labelled.labelled(per_pattern, seed + HELD_OUT_SEED_OFFSET)
    rows, _ = matrix(series)
    return classes.confusion([s.label for s in series], model.classify_many(rows))


def train(seed: int) -> tuple[classes.ClassModel, dict[str, Any]]:
    """Fit the forest on labelled generator series; deterministic for a seed."""
    series = labelled.labelled(TRAINING_PER_PATTERN, seed)
    rows, labels = matrix(series)
    model = classes.fit(rows, labels, seed=seed)
    metadata = {
        "trained_from": f"scenario generator, {TRAINING_PER_PATTERN} series per usage pattern",
        "seed": seed,
        "training_data_sha256": artifacts.data_hash(rows, labels),
        "training_rows": len(labels),
        "features": list(class_features.FEATURES),
        "classes": [str(found) for found in classes.CLASSES],
        "sampling_intervals_s": list(labelled.STEPS_S),
        "metrics_held_out": held_out(model, seed),
    }
    return model, metadata
