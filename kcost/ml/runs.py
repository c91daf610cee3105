"""Runs of equal values in a series in time order (the samples of one hour, one day, one slot).

Samples come sorted by time, so the samples of one hour or one day are one run: where the runs
start is all a reduction per hour needs (``np.add.reduceat``), without a sort or a group-by.
Every container's features cut its window this way several times; these are the array
operations of ``np.flatnonzero(np.append(True, a[1:] != a[:-1]))`` without their wrappers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IndexArray = npt.NDArray[np.intp]


def starts(values: npt.NDArray[np.generic]) -> IndexArray:
    """Where each run of equal values starts in a non-empty 1-D series: 0, then every index whose value
    differs from the one before it."""
    changed = np.empty(values.size, dtype=np.bool_)
    changed[0] = True
    np.not_equal(values[1:], values[:-1], out=changed[1:])
    found: IndexArray = changed.nonzero()[0]
    return found


def lengths(run_starts: IndexArray, size: int) -> IndexArray:
    """How many values each run holds, from ``starts`` of a series of ``size`` values."""
    bounds = np.empty(run_starts.size + 1, dtype=np.intp)
    bounds[:-1] = run_starts
    bounds[-1] = size
    found: IndexArray = bounds[1:] - bounds[:-1]
    return found
