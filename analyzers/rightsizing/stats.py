"""Statistics shared by the strategies and the benchmark: quantiles, sample weights, peaks, trends."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from kcost.api.v1alpha1.recommendation import UsageStats
from kcost.ml import quantiles, runs

FloatArray = npt.NDArray[np.float64]

DAY_S = 86_400.0
HOUR_S = 3_600.0


def usage_stats(values: FloatArray) -> UsageStats:
    """p50, p90, p95, p99 and max of ``values`` (linear interpolation, as numpy and PromQL do)."""
    if values.size == 0:
        return UsageStats()
    return usage_stats_of_sorted(np.sort(values), float(values.max()))


def usage_stats_of_sorted(ordered: FloatArray, max_value: float) -> UsageStats:
    """``usage_stats`` of values already sorted (``np.sort``), whose maximum is ``max_value``."""
    if ordered.size == 0:
        return UsageStats()
    p50, p90, p95, p99 = (float(v) for v in quantiles.percentiles_of_sorted(ordered, (50, 90, 95, 99)))
    return UsageStats(p50=p50, p90=p90, p95=p95, p99=p99, max=max_value)


def weighted_quantile(
    values: FloatArray, weights: FloatArray, quantile: float, order: npt.NDArray[np.intp] | None = None
) -> float:
    """The smallest value whose cumulative weight reaches ``quantile`` of the total (0 ≤ quantile ≤ 1);
    ``order``: ``stable_order(values)`` when the caller has it already."""
    if values.size == 0:
        raise ValueError("weighted_quantile of no values")
    if order is None:
        order = stable_order(values)
    cumulative = weights[order].cumsum()
    total = cumulative[-1]
    if total <= 0:
        return float(values[order][-1])
    # A tiny tolerance so that a quantile that lands exactly on a boundary picks that value.
    index = int(cumulative.searchsorted(quantile * total * (1 - 1e-12), side="left"))
    return float(values[order][min(index, values.size - 1)])


def stable_order(values: FloatArray, ordered: FloatArray | None = None) -> npt.NDArray[np.intp]:
    """``np.argsort(values, kind="stable")``: the quicker unstable sort's order where no two values tie
    (then there is only one order), the stable sort's where some do (and where one is NaN).

    ``ordered``: ``np.sort(values)`` when the caller has it: which case it is can be read from it, so
    a series with ties (memory in pages) is sorted once more, not twice.
    """
    if ordered is None:
        order = np.argsort(values)
        ordered = values[order]
    else:
        order = None
    if ordered.size and np.isnan(ordered[-1]):
        return np.argsort(values, kind="stable")
    if ordered.size and bool((ordered[1:] == ordered[:-1]).any()):
        packed = _packed_stable_order(values)
        if packed is not None:
            return packed
        return _ties_by_index(values, np.argsort(values) if order is None else order)
    return np.argsort(values) if order is None else order


def sort_once(values: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """``np.sort(values)`` and ``np.argsort(values, kind="stable")`` (a window's percentiles and weighted
    quantiles) from as few sorts as the values allow: one of integers for memory in pages, one unstable
    argsort otherwise; the sorted values are then the samples taken in that order."""
    packed = _packed_stable_order(values)
    if packed is not None:  # non-negative: no -0.0 whose place among zeros np.sort might choose otherwise
        return values[packed], packed
    order = np.argsort(values)
    ordered = values[order]
    if ordered.size == 0 or np.isnan(ordered[-1]):
        return np.sort(values), np.argsort(values, kind="stable")
    if not bool((ordered[1:] == ordered[:-1]).any()):
        return ordered, order  # no ties: one order only (and no -0.0 beside a 0.0)
    stable = _ties_by_index(values, order)
    # Among tied zeros, np.sort may place a -0.0 elsewhere than the stable order does: its own sort then.
    return (np.sort(values) if bool(np.signbit(values).any()) else values[stable]), stable


def _ties_by_index(values: FloatArray, order: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The stable order from an unstable one (``np.argsort(values)``, no NaN): each run of equal values
    put in index order, by one sort of integers (run number × size + index), quicker than a stable
    sort of the floats."""
    ordered = values[order]
    runs = np.zeros(values.size, dtype=np.int64)
    np.cumsum(ordered[1:] != ordered[:-1], out=runs[1:])
    keys = runs * values.size + order
    keys.sort()
    stable: npt.NDArray[np.intp] = (keys % values.size).astype(np.intp)
    return stable


# The bit pattern of +inf: non-negative finite floats' patterns are below it (NaN's above).
_INF_BITS = 0x7FF0000000000000


def _packed_stable_order(values: FloatArray) -> npt.NDArray[np.intp] | None:
    """The stable sort's order from one sort of integers, where the values allow it (else None).

    A non-negative float's bits, read as an integer, sort as the float does. Where the lowest bits
    of every value are zero (memory in 4 KiB pages leaves dozens), the sample's index fits there:
    the keys are all distinct, ties sort by index as the stable sort puts them, and numpy sorts
    integers several times quicker than it stable-sorts floats.
    """
    if values.size < 2:
        return None
    bits = np.ascontiguousarray(values).view(np.int64)
    index_bits = (values.size - 1).bit_length()
    low = (1 << index_bits) - 1
    # A negative value or -0.0 has the sign bit (a negative integer); NaN and inf are left to the float sort.
    if int(bits.min()) < 0 or int(bits.max()) >= _INF_BITS or int(np.bitwise_or.reduce(bits & low)) != 0:
        return None
    keys = bits | np.arange(values.size, dtype=np.int64)
    keys.sort()
    order: npt.NDArray[np.intp] = (keys & low).astype(np.intp)
    return order


def median_interval_s(ts_s: FloatArray) -> float:
    """The usual time between two samples (0 when there are fewer than two distinct times)."""
    steps = ts_s[1:] - ts_s[:-1]
    steps = steps[steps > 0]
    return quantiles.median(steps) if steps.size else 0.0


def sample_intervals_s(ts_s: FloatArray, end_s: float | None = None, *, usual_s: float | None = None) -> FloatArray:
    """How long each sample stands for: until the next sample, at most one usual interval.

    Capping at the median interval makes a gap in the data count as unobserved time
    instead of stretching the sample before it; a repeated timestamp stands for nothing.
    The last sample stands for one usual interval, cut at ``end_s`` when given; ``usual_s``: the
    median interval when the caller has it.
    """
    if ts_s.size == 0:
        return np.zeros(0)
    if usual_s is None:
        usual_s = median_interval_s(ts_s)
    following = np.append(ts_s[1:], ts_s[-1] + usual_s)
    if end_s is not None:
        following = np.minimum(following, end_s)
    return np.clip(following - ts_s, 0.0, usual_s)


def decay_weights(ts_s: FloatArray, end_s: float, half_life_s: float) -> FloatArray:
    """Exponential-decay weights: 1 at ``end_s``, ½ one half-life earlier."""
    return np.exp2((ts_s - end_s) / half_life_s)


def interval_peaks(
    ts_s: FloatArray, values: FloatArray, start_s: float, interval_s: float
) -> tuple[FloatArray, FloatArray]:
    """The peak of ``values`` in each ``interval_s`` slot from ``start_s`` that has samples.

    Returns (time of each peak, peak value), in time order.
    """
    if ts_s.size == 0:
        return np.zeros(0), np.zeros(0)
    slots = np.floor((ts_s - start_s) / interval_s).astype(np.int64)
    if not (slots[1:] < slots[:-1]).any() and not np.isnan(values).any():
        return _sorted_interval_peaks(ts_s, values, slots)
    # Sort by slot, then by value, so the last row of each slot holds its peak.
    order = np.lexsort((values, slots))
    last_of_slot = np.append(slots[order][1:] != slots[order][:-1], True)
    chosen = order[last_of_slot]
    return ts_s[chosen], values[chosen]


def _sorted_interval_peaks(ts_s: FloatArray, values: FloatArray, slots: np.ndarray) -> tuple[FloatArray, FloatArray]:
    """``interval_peaks`` of samples in time order, without a sort: what the strategies see, at a third of the cost.

    Picks the same sample as the sort would: of the samples at a slot's peak, the last.
    """
    starts = runs.starts(slots)
    peaks = np.maximum.reduceat(values, starts)
    at_peak = values == np.repeat(peaks, runs.lengths(starts, values.size))
    chosen = np.maximum.reduceat(np.where(at_peak, np.arange(values.size), -1), starts)
    return ts_s[chosen], values[chosen]


@functools.lru_cache(maxsize=64)
def _pairs(size: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """``np.triu_indices(size, k=1)``: every window of a run has about as many days, so built once per size."""
    i, j = np.triu_indices(size, k=1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


def theil_sen_slope(xs: FloatArray, ys: FloatArray) -> float:
    """The median of pairwise slopes: a trend that a few outliers cannot drag (0 for < 2 points)."""
    if xs.size < 2:
        return 0.0
    i, j = _pairs(xs.size)
    dx = xs[j] - xs[i]
    valid = dx > 0
    if not valid.any():
        return 0.0
    return quantiles.median((ys[j] - ys[i])[valid] / dx[valid])
