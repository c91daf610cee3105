"""Features of one container's usage history for the workload-class model.

Each feature is read from hourly aggregates (mean CPU, peak memory per hour), from
shares of time, or from percentiles of the samples (which estimate shares of time), so
it does not depend on the sampling interval: a history scraped every 30 s, every
minute or every 5 minutes gives the same features, up to noise. Samples of several
pods of one workload may share timestamps; they are pooled, as the analyzer pools them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from kcost.ml import lines, moments, quantiles, runs

FloatArray = npt.NDArray[np.float64]

HOUR_S = 3600.0
HOURS_PER_DAY = 24
# Less history than this is not classified: one day shows neither a daily cycle nor a trend.
MIN_HISTORY_HOURS = 24.0
# A sample counts as active above this share of the CPU p95 (an off batch job, a stopped VM).
ACTIVE_SHARE_OF_P95 = 0.1
# A drop of the hourly memory peak by more than this share is a restart (a leak's OOM kill).
MEMORY_DROP_FRACTION = 0.15
# Hourly memory peaks above the previous hour's by more than this share count as rising.
MEMORY_RISE_FRACTION = 0.002
# An hour with fewer samples than this share of the usual hour's is not read (it is mostly outside the data).
MIN_HOUR_SAMPLES_SHARE = 0.5

FEATURES = (
    "active_share",
    "cpu_hourly_cv",
    "cpu_p99_over_p50",
    "cpu_share_over_2x_median",
    "cpu_autocorr_24h",
    "cpu_daily_peak_over_mean",
    "memory_hourly_cv",
    "memory_rising_hour_share",
    "memory_drops_per_day",
    "memory_trend_per_day",
    "cpu_p95_log10_cores",
    "cpu_p95_over_request",
)


def _ratio(numerator: float, denominator: float, *, empty: float = 0.0, cap: float = 100.0) -> float:
    if denominator > 0:
        return min(numerator / denominator, cap)
    return empty if numerator <= 0 else cap


def _hourly(ts_s: FloatArray, cpu_cores: FloatArray, memory_bytes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean CPU and peak memory of each hour from the first sample on; NaN where an hour has no sample."""
    hour = np.floor((ts_s - ts_s[0]) / HOUR_S).astype(np.intp)
    hours = int(hour[-1]) + 1
    counts = np.bincount(hour, minlength=hours).astype(np.float64)
    cpu_sum = np.bincount(hour, weights=cpu_cores, minlength=hours)
    memory_peak = np.full(hours, -np.inf)
    if bool((hour[1:] >= hour[:-1]).all()):
        # In time order each hour's samples are one run: its peak is a reduceat (np.maximum.at's answer, quicker).
        starts = runs.starts(hour)
        memory_peak[hour[starts]] = np.maximum.reduceat(memory_bytes, starts)
    else:
        np.maximum.at(memory_peak, hour, memory_bytes)
    # An hour with few samples is cut off by the window's end (where the last steps read rates past the
    # last scrape and memory not at all): left out, as ``kcost.ml.anomaly.hourly`` leaves it out.
    present = counts >= MIN_HOUR_SAMPLES_SHARE * quantiles.median(counts[counts > 0])
    cpu_mean = np.where(present, cpu_sum / np.maximum(counts, 1.0), np.nan)
    return cpu_mean, np.where(present, memory_peak, np.nan)


def _active_share(ts_s: FloatArray, cpu_cores: FloatArray, cpu_p95: float) -> float:
    """Share of the span during which the container ran and used CPU: its duty cycle (``cpu_p95``: of ``cpu_cores``)."""
    # In time order the distinct times are the first of each run (np.unique's answer without its sort).
    in_order = bool((ts_s[1:] >= ts_s[:-1]).all())
    distinct = ts_s[runs.starts(ts_s)] if in_order else np.unique(ts_s)
    interval_s = quantiles.median(distinct[1:] - distinct[:-1]) if distinct.size > 1 else HOUR_S
    span_s = float(distinct[-1] - distinct[0]) + interval_s
    covered = min(1.0, distinct.size * interval_s / span_s)
    running = moments.share(cpu_cores > ACTIVE_SHARE_OF_P95 * cpu_p95) if cpu_p95 > 0 else 0.0
    return covered * running


def _autocorrelation(hourly: FloatArray, lag: int) -> float:
    """Correlation of the hourly series with itself ``lag`` hours later; hours without samples count as zero."""
    filled = np.nan_to_num(hourly)
    if filled.size < 2 * lag:
        return 0.0
    head, tail = filled[:-lag], filled[lag:]
    if moments.std(head) == 0 or moments.std(tail) == 0:
        return 0.0
    return correlation(head, tail)


def correlation(x: FloatArray, y: FloatArray) -> float:
    """``np.corrcoef(x, y)[0, 1]`` of two float series of one length: the very operations of
    ``np.cov`` and ``np.corrcoef`` in their order, without their argument handling (most of their cost)."""
    rows = np.concatenate((x[np.newaxis], y[np.newaxis]), axis=0)
    rows -= rows.mean(axis=1)[:, None]
    covariance = np.dot(rows, rows.T.conj())
    covariance *= np.true_divide(1, rows.shape[1] - 1)
    deviation = np.sqrt(np.diag(covariance).real)
    covariance /= deviation[:, None]
    covariance /= deviation[None, :]
    np.clip(covariance.real, -1, 1, out=covariance.real)
    return float(covariance[0, 1])


def _daily_peak_over_mean(hourly: FloatArray) -> float:
    """Median over whole days of the day's highest hour over its mean hour."""
    days = hourly.size // HOURS_PER_DAY
    if days == 0:
        return 1.0
    by_day = hourly[: days * HOURS_PER_DAY].reshape(days, HOURS_PER_DAY)
    # The whole days at once (a row's mean sums as the day's own would); a day with a missing hour alone.
    whole = ~np.isnan(by_day).any(axis=1)
    means = np.zeros(days)
    peaks = np.zeros(days)
    means[whole], peaks[whole] = by_day[whole].mean(axis=1), by_day[whole].max(axis=1)
    for index in np.flatnonzero(~whole):
        present = by_day[index][~np.isnan(by_day[index])]
        if present.size:
            means[index], peaks[index] = moments.mean(present), present.max()
    counted = means > 0
    return quantiles.median(peaks[counted] / means[counted]) if counted.any() else 1.0


def _memory_shape(memory_peaks: FloatArray, days: float) -> tuple[float, float, float]:
    """Share of rising hours, drops (restarts) per day, and the linear trend per day relative to the level."""
    present = memory_peaks[~np.isnan(memory_peaks)]
    hours = np.flatnonzero(~np.isnan(memory_peaks)).astype(np.float64)
    if present.size < 3 or moments.mean(present) <= 0:
        return 0.0, 0.0, 0.0
    before, after = present[:-1], present[1:]
    rising = moments.share(after > before * (1 + MEMORY_RISE_FRACTION))
    drops = float(np.sum(after < before * (1 - MEMORY_DROP_FRACTION))) / days
    slope_per_hour = lines.slope(hours, present)
    return rising, drops, slope_per_hour * HOURS_PER_DAY / moments.mean(present)


def history_hours(ts_s: FloatArray) -> float:
    """Hours from the first sample to the last."""
    return float(ts_s[-1] - ts_s[0]) / HOUR_S if ts_s.size else 0.0


def features(
    ts_s: FloatArray,
    cpu_cores: FloatArray,
    memory_bytes: FloatArray,
    cpu_request_cores: float | None,
    *,
    cpu_sorted: FloatArray | None = None,
) -> FloatArray:
    """The ``FEATURES`` of a history in time order (at least ``MIN_HISTORY_HOURS`` long); ``cpu_sorted``:
    ``np.sort(cpu_cores)`` when the caller has it."""
    if history_hours(ts_s) < MIN_HISTORY_HOURS:
        raise ValueError(f"class features need {MIN_HISTORY_HOURS:g}h of history, got {history_hours(ts_s):.1f}h")
    cpu_hourly, memory_hourly = _hourly(ts_s, cpu_cores, memory_bytes)
    cpu_present = cpu_hourly[~np.isnan(cpu_hourly)]
    memory_present = memory_hourly[~np.isnan(memory_hourly)]
    cpu_sorted = np.sort(cpu_cores) if cpu_sorted is None else cpu_sorted
    cpu_p50, cpu_p95, cpu_p99 = (float(v) for v in quantiles.percentiles_of_sorted(cpu_sorted, (50, 95, 99)))
    days = max(history_hours(ts_s) / HOURS_PER_DAY, 1.0)
    rising, drops, trend = _memory_shape(memory_hourly, days)
    return np.array(
        [
            _active_share(ts_s, cpu_cores, cpu_p95),
            _ratio(moments.std(cpu_present), moments.mean(cpu_present)),
            _ratio(cpu_p99, cpu_p50, empty=1.0),
            moments.share(cpu_cores > 2 * cpu_p50) if cpu_p50 > 0 else 0.0,
            _autocorrelation(cpu_hourly, HOURS_PER_DAY),
            _daily_peak_over_mean(cpu_hourly),
            _ratio(moments.std(memory_present), moments.mean(memory_present)),
            rising,
            drops,
            trend,
            float(np.log10(max(cpu_p95, 1e-6))),
            _ratio(cpu_p95, cpu_request_cores, empty=0.0) if cpu_request_cores else -1.0,
        ],
        dtype=np.float64,
    )
