"""Trees walked all at once end in scikit-learn's leaves, and the models' one-row answers are their batch answers."""

from __future__ import annotations

import numpy as np

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


def test_one_confidence_estimate_is_bit_identical_to_the_batch_one() -> None:
    model = confidence.shipped()
    rows = _rows(2000, len(FEATURES), seed=2)
    one_by_one = np.array([model.estimate(row) for row in rows])
    assert np.array_equal(one_by_one, model.estimate_many(rows))
    assert np.unique(one_by_one).size > 10


def test_one_class_is_the_forest_s_class_on_rows_of_every_kind() -> None:
    model = classes.shipped()
    rows = _rows(2000, len(class_features.FEATURES), seed=3)
    one_by_one = [model.classify(row) for row in rows]
    assert one_by_one == model.classify_many(rows)
    assert len(set(one_by_one)) > 2
