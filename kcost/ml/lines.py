"""A least-squares line's slope: ``np.polyfit(x, y, 1)[0]``, to the bit, without its generic machinery.

Every container's features read two trends (memory by hour for the class, by day for the
confidence); ``np.polyfit`` spent more in argument handling than in its small solve. Here are its
very steps for a degree-1 fit: the Vandermonde matrix, its columns scaled to unit norm, numpy's
``lstsq`` with polyfit's ``rcond``, the scale taken back out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)


def slope(x: FloatArray, y: FloatArray) -> float:
    """The slope of the least-squares line through (``x``, ``y``): 1-D float series of one length ≥ 2."""
    lhs = np.empty((x.size, 2))
    lhs[:, 0] = x  # np.vander(x, 2): x, then ones
    lhs[:, 1] = 1.0
    scale = np.sqrt((lhs * lhs).sum(axis=0))
    lhs /= scale
    coefficients = np.linalg.lstsq(lhs, y, x.size * _EPS)[0]
    return float(coefficients[0] / scale[0])
