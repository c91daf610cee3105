"""Percentiles of a series from one sort: ``np.percentile``'s values, to the bit, at a fraction of its cost.

A container's window is read for several percentiles (its evidence, the class and the
confidence features); ``np.percentile`` partitions the series anew on each call and most
of its time is spent outside the partition, in argument handling. Sorting once and
interpolating as numpy does (its default ``linear`` method) gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def percentiles(values: FloatArray, percents: Sequence[float]) -> FloatArray:
    """``np.percentile(values, percents)`` of a non-empty 1-D series (NaN everywhere when it holds a NaN)."""
    ordered = np.sort(values)
    if ordered.size == 0:
        raise ValueError("percentiles of no values")
    quantiles = np.true_divide(np.asarray(percents, dtype=np.float64), 100)
    if np.isnan(ordered[-1]):  # NaN sorts last; numpy's answer is NaN
        return np.full(quantiles.shape, np.nan)
    return of_sorted(ordered, quantiles)


def of_sorted(ordered: FloatArray, quantiles: FloatArray) -> FloatArray:
    """The ``quantiles`` (0–1) of an ascending series without NaN, as numpy's ``linear`` method interpolates."""
    last = ordered.size - 1
    virtual = last * quantiles
    previous = np.floor(virtual)
    # numpy: at or past the last index both neighbours are the last value, below 0 both the first.
    below, above = virtual < 0, virtual >= last
    lower = np.where(above, last, np.where(below, 0, previous)).astype(np.intp)
    upper = np.where(above, last, np.where(below, 0, previous + 1)).astype(np.intp)
    gamma = virtual - np.where(above, -1.0, np.where(below, 0.0, previous))
    a, b = ordered[lower], ordered[upper]
    # numpy's _lerp: from the nearer end, so that gamma 1 gives b exactly.
    difference = b - a
    result: FloatArray = np.where(gamma >= 0.5, b - difference * (1 - gamma), a + difference * gamma)
    return result
