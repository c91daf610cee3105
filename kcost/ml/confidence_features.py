"""Features of one container's history and of the values proposed for it, for the confidence model.

Every feature is a ratio, a share or a count of days, so it does not depend on the
sampling interval nor on the container's size: a model learned on 5-minute VM traces
reads a 1-minute Prometheus history the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kcost.ml import lines, moments, quantiles, runs

FloatArray = npt.NDArray[np.float64]

DAY_S = 86_400.0

FEATURES = (
    "history_days",
    "cpu_cv",
    "cpu_p95_over_p50",
    "cpu_daily_peak_spread",
    "memory_cv",
    "memory_daily_peak_spread",
    "memory_trend_per_day",
    "oom_events",
    "cpu_request_over_p50",
    "cpu_request_over_p95",
    "cpu_share_over_request",
    "cpu_share_over_request_last_day",
    "memory_request_over_p95",
    "memory_share_over_request",
    "memory_limit_over_peak",
)


@dataclass(frozen=True)
class Proposal:
    """The values whose chance of holding is estimated; no memory limit is None."""

    cpu_request_cores: float
    memory_request_bytes: float
    memory_limit_bytes: float | None


def _ratio(numerator: float, denominator: float, *, empty: float = 0.0) -> float:
    """A ratio that stays finite: ``empty`` when both are zero, capped at 100 when only the denominator is."""
    if denominator > 0:
        return min(numerator / denominator, 100.0)
    return empty if numerator <= 0 else 100.0


def _day_starts(ts_s: FloatArray) -> npt.NDArray[np.intp]:
    """Where each day from the first sample on starts (samples in time order: one run per day)."""
    days = np.floor((ts_s - ts_s[0]) / DAY_S).astype(np.int64)
    return runs.starts(days)


def _spread(peaks: FloatArray) -> float:
    """Coefficient of variation of the daily peaks: how unlike one day is from the next."""
    mean = moments.mean(peaks)
    return moments.std(peaks) / mean if peaks.size >= 2 and mean > 0 else 0.0


def _trend_per_day(peaks: FloatArray) -> float:
    """Least-squares slope of the daily peaks, per day, relative to their mean."""
    mean = moments.mean(peaks)
    if peaks.size < 3 or mean <= 0:
        return 0.0
    slope = lines.slope(np.arange(peaks.size, dtype=np.float64), peaks)
    return slope / mean


def features(
    ts_s: FloatArray,
    cpu_cores: FloatArray,
    memory_bytes: FloatArray,
    oom_events: int,
    proposal: Proposal,
    *,
    cpu_sorted: FloatArray | None = None,
    memory_sorted: FloatArray | None = None,
) -> FloatArray:
    """The ``FEATURES`` of a non-empty history in time order and the values proposed from it
    (``cpu_sorted``, ``memory_sorted``: ``np.sort`` of the samples, when the caller has them)."""
    if ts_s.size == 0:
        raise ValueError("confidence features of an empty history")
    cpu_sorted = np.sort(cpu_cores) if cpu_sorted is None else cpu_sorted
    memory_sorted = np.sort(memory_bytes) if memory_sorted is None else memory_sorted
    cpu_p50, cpu_p95 = (float(v) for v in quantiles.percentiles_of_sorted(cpu_sorted, (50, 95)))
    memory_p95 = float(quantiles.percentiles_of_sorted(memory_sorted, (95,))[0])
    memory_peak = float(memory_bytes.max())
    last_day = ts_s >= ts_s[-1] - DAY_S
    # The days are the same for both resources: cut once.
    day_starts = _day_starts(ts_s)
    cpu_peaks = np.maximum.reduceat(cpu_cores, day_starts)
    memory_peaks = np.maximum.reduceat(memory_bytes, day_starts)
    limit = proposal.memory_limit_bytes
    return np.array(
        [
            float(ts_s[-1] - ts_s[0]) / DAY_S,
            _ratio(moments.std(cpu_cores), moments.mean(cpu_cores)),
            _ratio(cpu_p95, cpu_p50, empty=1.0),
            _spread(cpu_peaks),
            _ratio(moments.std(memory_bytes), moments.mean(memory_bytes)),
            _spread(memory_peaks),
            _trend_per_day(memory_peaks),
            float(oom_events),
            _ratio(proposal.cpu_request_cores, cpu_p50, empty=1.0),
            _ratio(proposal.cpu_request_cores, cpu_p95, empty=1.0),
            moments.share(cpu_cores > proposal.cpu_request_cores),
            moments.share(cpu_cores[last_day] > proposal.cpu_request_cores),
            _ratio(proposal.memory_request_bytes, memory_p95, empty=1.0),
            moments.share(memory_bytes > proposal.memory_request_bytes),
            100.0 if limit is None else _ratio(limit, memory_peak, empty=1.0),
        ],
        dtype=np.float64,
    )
