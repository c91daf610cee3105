"""Mean, standard deviation and share of a 1-D series: numpy's values, to the bit, without its generic reductions.

A container's features read a dozen means and deviations of small series, and ``ndarray.mean``
and ``ndarray.std`` spend more on argument handling (axis, dtype, where, keepdims) than on
their sums. These are their very operations for a float64 vector: one pairwise sum (the same
``np.add.reduce``), then the division by the count.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def mean(values: FloatArray) -> float:
    """``float(values.mean())`` of a float64 vector (NaN when it is empty, as numpy's, without the warning)."""
    return float(np.add.reduce(values)) / values.size if values.size else math.nan


def std(values: FloatArray) -> float:
    """``float(values.std())`` of a float64 vector (population deviation, ``ddof=0``; NaN when it is empty)."""
    if not values.size:
        return math.nan
    deviations = values - mean(values)
    return math.sqrt(float(np.add.reduce(deviations * deviations)) / values.size)


def share(mask: BoolArray) -> float:
    """``float(np.mean(mask))``: the share of a boolean vector that is True (NaN when it is empty)."""
    return int(np.count_nonzero(mask)) / mask.size if mask.size else math.nan
