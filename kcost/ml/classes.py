"""Workload classes: steady, diurnal, bursty, batch, idle or leaking, read by a random forest.

The forest is trained on labelled series of the scenario generator (its usage patterns,
at several sampling intervals, sizes and lengths; ``kcost ml train``) over the features of
``class_features``, which do not depend on the sampling interval. The class chooses a
container's right-sizing settings (``kcost.analyzers.rightsizing.classes``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kcost.api.v1alpha1.recommendation import WorkloadClass
from kcost.ml import artifacts, class_features, trees
from kcost.ml.class_features import FloatArray

ARTIFACT = "classes"
CLASSES = tuple(WorkloadClass)


@dataclass(frozen=True)
class ClassScorer:
    """What classifying needs of a ``ClassModel``, in plain arrays: no scikit-learn is imported to use it."""

    forest: trees.FlatTrees
    labels: tuple[str, ...]

    def classify_many(self, rows: FloatArray) -> list[WorkloadClass]:
        """The class of each row of features: the forest's ``predict``, answer for answer.

        It sums the trees' class shares itself, walking all trees at once for all rows (``trees.FlatTrees``),
        without the forest's per-call checks and thread pool, which took most of the time for a few rows.
        """
        leaves = self.forest.leaves(rows.reshape(-1, len(class_features.FEATURES)))
        # In the trees' order, one after the other, as the forest adds them up.
        shares = np.cumsum(self._shares[leaves], axis=1)[:, -1]
        return [WorkloadClass(self.labels[index]) for index in np.argmax(shares, axis=1)]

    def classify(self, row: FloatArray) -> WorkloadClass:
        """The class of one row of features (``classify_many`` of one row)."""
        return self.classify_many(row)[0]

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Everything above as arrays, for ``artifacts.save_arrays``."""
        return self.forest.arrays("trees_") | {"labels": np.array(self.labels, dtype=np.str_)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> ClassScorer:
        return cls(trees.FlatTrees.from_arrays(arrays, "trees_"), tuple(str(label) for label in arrays["labels"]))

    @functools.cached_property
    def _shares(self) -> FloatArray:
        """Each node's class shares, as one tree's ``predict_proba`` gives them."""
        values = self.forest.values[:, : len(self.labels)]
        shares: FloatArray = values / values.sum(axis=1, keepdims=True)
        return shares


@dataclass
class ClassModel:
    """A fitted random forest over ``class_features.FEATURES``."""

    forest: Any

    def classify_many(self, rows: FloatArray) -> list[WorkloadClass]:
        """The class of each row of features (``ClassScorer.classify_many``)."""
        return self.scorer.classify_many(rows)

    def classify(self, row: FloatArray) -> WorkloadClass:
        """The class of one row of features (``ClassScorer.classify``)."""
        return self.scorer.classify(row)

    @functools.cached_property
    def scorer(self) -> ClassScorer:
        """The forest's trees flattened and its class labels: all that classifying reads."""
        return ClassScorer(trees.FlatTrees.of(self.forest.estimators_), tuple(str(c) for c in self.forest.classes_))


def fit(rows: FloatArray, labels: npt.NDArray[np.str_], *, seed: int) -> ClassModel:
    """Fit the forest on labelled features; deterministic for a seed."""
    # Imported here: scikit-learn takes seconds to import, and only training needs it up front.
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415

    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1)
    forest.fit(rows, labels)
    return ClassModel(forest)


def confusion(true: list[WorkloadClass], predicted: list[WorkloadClass]) -> dict[str, Any]:
    """Accuracy and the confusion matrix (rows: true class, columns: predicted), by class name."""
    matrix = {str(row): {str(column): 0 for column in CLASSES} for row in CLASSES}
    for expected, found in zip(true, predicted, strict=True):
        matrix[str(expected)][str(found)] += 1
    right = sum(expected == found for expected, found in zip(true, predicted, strict=True))
    return {"accuracy": round(right / len(true), 3) if true else None, "series": len(true), "confusion": matrix}


@functools.cache
def shipped() -> ClassModel:
    """The model shipped in the package (loaded once); ``artifacts.ArtifactError`` when it cannot be used."""
    return ClassModel(artifacts.load(ARTIFACT).model)


@functools.cache
def shipped_scorer() -> ClassScorer:
    """The shipped model's scoring form, read from its arrays: what an analysis uses, without scikit-learn."""
    return ClassScorer.from_arrays(artifacts.load_arrays(ARTIFACT))


def classify(
    ts_s: FloatArray, cpu_cores: FloatArray, memory_bytes: FloatArray, cpu_request_cores: float | None
) -> WorkloadClass | None:
    """The class of a history by the shipped model; None when it is shorter than a day."""
    return classify_histories([(ts_s, cpu_cores, memory_bytes, cpu_request_cores)])[0]


def classify_histories(
    histories: Sequence[tuple[FloatArray, FloatArray, FloatArray, float | None]],
    cpu_sorted: Sequence[FloatArray] | None = None,
) -> list[WorkloadClass | None]:
    """The class of each history (``ts_s``, ``cpu_cores``, ``memory_bytes``, ``cpu_request_cores``) by the
    shipped model, all rows in one call; None for one shorter than a day. ``cpu_sorted``: each history's
    ``np.sort(cpu_cores)``, when the caller has them."""
    long_enough = [
        index
        for index, history in enumerate(histories)
        if class_features.history_hours(history[0]) >= class_features.MIN_HISTORY_HOURS
    ]
    found: list[WorkloadClass | None] = [None] * len(histories)
    if not long_enough:
        return found
    rows = np.array(
        [
            class_features.features(*histories[index], cpu_sorted=None if cpu_sorted is None else cpu_sorted[index])
            for index in long_enough
        ]
    )
    for index, workload_class in zip(long_enough, shipped_scorer().classify_many(rows), strict=True):
        found[index] = workload_class
    return found
