"""Fitted scikit-learn trees laid end to end, so a batch of rows walks all of them at once.

An analysis scores a batch of containers at a time. scikit-learn's ``predict`` on a few rows
spends milliseconds in input checks and per-tree calls (100 trees for the class forest,
150 stages for the confidence booster) for microseconds of tree walking; that was most
of what the learned parts added to an analysis. Here every tree's nodes sit in one set
of arrays, and the rows go down all trees together, one level per step, with the very
comparison scikit-learn makes (the row cast to float32, ``x <= threshold`` goes left),
so each tree ends in the same leaf. Leaves point to themselves, so extra steps are no-ops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# scikit-learn's marker for a leaf in ``tree_.children_left``.
_LEAF = -1


@dataclass(frozen=True)
class FlatTrees:
    """The nodes of several trees in one array each; ``values`` (nodes, outputs) are the leaves' values."""

    roots: IntArray
    feature: IntArray
    threshold: FloatArray
    left: IntArray
    right: IntArray
    values: FloatArray
    depth: int

    @classmethod
    def of(cls, trees: Sequence[Any]) -> FlatTrees:
        """From fitted ``DecisionTreeClassifier`` / ``DecisionTreeRegressor`` objects (their ``tree_``)."""
        roots, features, thresholds, lefts, rights, values = [], [], [], [], [], []
        offset = 0
        for tree in (estimator.tree_ for estimator in trees):
            nodes = np.arange(tree.node_count, dtype=np.intp) + offset
            leaf = tree.children_left == _LEAF
            roots.append(offset)
            # A leaf tests feature 0 against +inf and "goes left" to itself: walking on changes nothing.
            features.append(np.where(leaf, 0, tree.feature).astype(np.intp))
            thresholds.append(np.where(leaf, np.inf, tree.threshold).astype(np.float64))
            lefts.append(np.where(leaf, nodes, tree.children_left + offset).astype(np.intp))
            rights.append(np.where(leaf, nodes, tree.children_right + offset).astype(np.intp))
            values.append(tree.value[:, 0, :].astype(np.float64))
            offset += tree.node_count
        return cls(
            roots=np.array(roots, dtype=np.intp),
            feature=np.concatenate(features),
            threshold=np.concatenate(thresholds),
            left=np.concatenate(lefts),
            right=np.concatenate(rights),
            values=np.concatenate(values),
            depth=max(int(estimator.tree_.max_depth) for estimator in trees),
        )

    def arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        """The trees as plain arrays (named ``prefix`` + field), to be saved without pickling."""
        fields = {
            "roots": self.roots,
            "feature": self.feature,
            "threshold": self.threshold,
            "left": self.left,
            "right": self.right,
            "values": self.values,
            "depth": np.array(self.depth, dtype=np.int64),
        }
        return {prefix + name: array for name, array in fields.items()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str) -> FlatTrees:
        """The trees ``arrays`` wrote under ``prefix``."""
        return cls(
            roots=arrays[prefix + "roots"].astype(np.intp),
            feature=arrays[prefix + "feature"].astype(np.intp),
            threshold=arrays[prefix + "threshold"].astype(np.float64),
            left=arrays[prefix + "left"].astype(np.intp),
            right=arrays[prefix + "right"].astype(np.intp),
            values=arrays[prefix + "values"].astype(np.float64),
            depth=int(arrays[prefix + "depth"]),
        )

    def leaves(self, rows: FloatArray) -> IntArray:
        """The leaf each tree sends each row to: (rows, trees), in the trees' order; one 1-D row gives (trees,)."""
        # scikit-learn compares the float32 value of each feature with the float64 threshold.
        x = np.asarray(rows, dtype=np.float32).astype(np.float64)
        table = np.atleast_2d(x)
        # All rows walk together: one step of fancy indexing moves every (row, tree) pair down a level.
        picked = np.arange(table.shape[0])[:, np.newaxis]
        nodes = np.broadcast_to(self.roots, (table.shape[0], self.roots.size))
        for _ in range(self.depth):
            nodes = np.where(
                table[picked, self.feature[nodes]] <= self.threshold[nodes], self.left[nodes], self.right[nodes]
            )
        found: IntArray = nodes[0] if x.ndim == 1 else nodes
        return found
