"""Trees walked all at once end in scikit-learn's leaves, and the models' one-row answers are their batch answers."""

from __future__ import annotations

import numpy as np

from kcost.api.v1alpha1.recommendation import WorkloadClass
from kcost.ml import class_features, classes, confidence, trees
from kcost.ml.confidence_features import FEATURES


def _rows(count: int, width: int, seed: int) -> np.ndarray:
    # Sizes over several decades, some negative: rows on both sides of most thresholds.
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], (count, width), p=[0.1, 0.9])
    rows: np.ndarray = rng.lognormal(0.0, 1.5, (count, width)) * signs
    return rows


def test_each_tree_sends_a_row_to_the_leaf_scikit_learn_does() -> None:
    forest = classes.shipped().forest
    flat = trees.FlatTrees.of(forest.estimators_)
    offsets = np.cumsum([0] + [tree.tree_.node_count for tree in forest.estimators_[:-1]])
    for row in _rows(50, len(class_features.FEATURES), seed=1):
        expected = [tree.tree_.apply(row.astype(np.float32).reshape(1, -1))[0] for tree in forest.estimators_]
        assert (flat.leaves(row) - offsets).tolist() == expected


def test_the_trees_walked_for_a_batch_end_where_each_row_alone_does() -> None:
    forest = classes.shipped().forest
    flat = trees.FlatTrees.of(forest.estimators_)
    rows = _rows(300, len(class_features.FEATURES), seed=4)
    assert np.array_equal(flat.leaves(rows), np.array([flat.leaves(row) for row in rows]))


def test_confidence_estimates_are_bit_identical_to_the_booster_s_one_by_one_and_in_a_batch() -> None:
    model = confidence.shipped()
    rows = _rows(2000, len(FEATURES), seed=2)
    booster = np.interp(model.booster.decision_function(rows), model.decision_thresholds, model.probability_thresholds)
    one_by_one = np.array([model.estimate(row) for row in rows])
    assert np.array_equal(model.estimate_many(rows), booster)
    assert np.array_equal(one_by_one, booster)
    assert np.unique(one_by_one).size > 10


def test_classes_are_the_forest_s_one_by_one_and_in_a_batch_on_rows_of_every_kind() -> None:
    model = classes.shipped()
    rows = _rows(2000, len(class_features.FEATURES), seed=3)
    forest = [WorkloadClass(label) for label in model.forest.predict(rows)]
    assert model.classify_many(rows) == forest
    assert [model.classify(row) for row in rows] == forest
    assert len(set(forest)) > 2


def test_the_shipped_confidence_arrays_score_bit_for_bit_as_the_pickled_booster() -> None:
    # The analyzer scores from the arrays (no scikit-learn); they must be the pickle's, not a stale copy.
    model = confidence.shipped()
    rows = _rows(2000, len(FEATURES), seed=5)
    booster = np.interp(model.booster.decision_function(rows), model.decision_thresholds, model.probability_thresholds)
    assert np.array_equal(confidence.shipped_scorer().estimate_many(rows), booster)


def test_the_shipped_class_arrays_classify_as_the_pickled_forest() -> None:
    model = classes.shipped()
    rows = _rows(2000, len(class_features.FEATURES), seed=6)
    forest = [WorkloadClass(label) for label in model.forest.predict(rows)]
    assert classes.shipped_scorer().classify_many(rows) == forest
