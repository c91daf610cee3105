"""Percentiles of a series from one sort: ``np.percentile``'s values, to the bit, at a fraction of its cost.

A container's window is read for several percentiles (its evidence, the class and the
confidence features); ``np.percentile`` partitions the series anew on each call and most
of its time is spent outside the partition, in argument handling. Sorting once and
interpolating as numpy does (its default ``linear`` method) gives the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def percentiles(values: FloatArray, percents: Sequence[float]) -> FloatArray:
    """``np.percentile(values, percents)`` of a non-empty 1-D series (NaN everywhere when it holds a NaN)."""
    return percentiles_of_sorted(np.sort(values), percents)


def percentiles_of_sorted(ordered: FloatArray, percents: Sequence[float]) -> FloatArray:
    """``percentiles`` of a series already sorted (``np.sort``'s order: a NaN last): for a caller that reads
    several percentiles of one series at different places and sorts it once."""
    if ordered.size == 0:
        raise ValueError("percentiles of no values")
    if np.isnan(ordered[-1]):  # NaN sorts last; numpy's answer is NaN
        return np.full(len(percents), np.nan)
    # A window reads a handful of percentiles: numpy's interpolation one float at a time, the same
    # operations in the same order (Python's floats are the same doubles), without a dozen array calls.
    return np.array([_of_sorted(ordered, float(percent) / 100) for percent in percents], dtype=np.float64)


def _of_sorted(ordered: FloatArray, quantile: float) -> float:
    """``of_sorted`` of one quantile in [0, 1]."""
    last = ordered.size - 1
    virtual = last * quantile
    if virtual >= last:
        return float(ordered[last])
    previous = math.floor(virtual)
    gamma = virtual - previous
    a, b = float(ordered[previous]), float(ordered[previous + 1])
    difference = b - a
    return b - difference * (1 - gamma) if gamma >= 0.5 else a + difference * gamma


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


def median(values: FloatArray) -> float:
    """``np.median`` of a 1-D series, to the bit (NaN when it holds one), without its generic machinery.

    numpy partitions at the middle (two middles for an even count) and at the end (where a NaN
    goes), then takes the mean of the middles: their sum halved. A container's window reads a dozen
    medians of small series, where numpy's argument handling cost several times the partition.
    """
    size = values.size
    if size == 0:
        raise ValueError("median of no values")
    half = size // 2
    middles = [half - 1, half] if size % 2 == 0 else [half]
    # ``np.partition``'s copy and in-place partition, without its wrapper.
    parted = values.copy()
    parted.partition([*middles, size - 1])
    if np.isnan(parted[-1]):
        return float("nan")
    if size % 2:
        return float(parted[half])
    return float((parted[half - 1] + parted[half]) / 2)
