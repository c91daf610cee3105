"""numpy's answers to the bit without its generic machinery: percentiles from one sort, the median, the
correlation and the line's slope; the class features' daily peaks are the per-day loop's, the hourly peaks
np.maximum.at's."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.ml import anomaly, class_features, lines, quantiles

PERCENTS = (0, 1, 33.3, 50, 90, 95, 99, 99.9, 100)


def _series(rng: np.random.Generator, size: int) -> np.ndarray:
    values: np.ndarray = rng.lognormal(0.0, 1.0, size) * float(rng.choice([1e-4, 1.0, 1e9]))
    if rng.random() < 0.4:
        values = np.round(values, 1)  # ties, as memory rounded to pages has
    return values


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 2016, 4033])
def test_percentiles_are_numpy_s_exactly(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(50):
        values = _series(rng, size)
        assert np.array_equal(quantiles.percentiles(values, PERCENTS), np.percentile(values, PERCENTS))
        assert quantiles.percentiles(values, (95,))[0] == np.percentile(values, 95)
    assert np.array_equal(quantiles.percentiles(np.zeros(size), PERCENTS), np.percentile(np.zeros(size), PERCENTS))


def test_a_nan_makes_every_percentile_nan_as_in_numpy() -> None:
    values = np.array([1.0, np.nan, 3.0])
    assert np.isnan(quantiles.percentiles(values, (5, 50))).all()
    assert np.isnan(np.percentile(values, [5, 50])).all()
    with pytest.raises(ValueError, match="no values"):
        quantiles.percentiles(np.zeros(0), (50,))


def _daily_peak_over_mean_per_day(hourly: np.ndarray) -> float:
    """The loop over days the vectorised version replaced."""
    days = hourly.size // class_features.HOURS_PER_DAY
    if days == 0:
        return 1.0
    ratios = []
    for day in hourly[: days * class_features.HOURS_PER_DAY].reshape(days, class_features.HOURS_PER_DAY):
        present = day[~np.isnan(day)]
        if present.size and present.mean() > 0:
            ratios.append(float(present.max() / present.mean()))
    return float(np.median(ratios)) if ratios else 1.0


def test_the_daily_peak_over_mean_is_the_per_day_loop_s_exactly() -> None:
    rng = np.random.default_rng(5)
    for _ in range(2000):
        hourly = _series(rng, int(rng.integers(1, 24 * 15)))
        if rng.random() < 0.5:
            hourly[rng.random(hourly.size) < rng.random() * 0.3] = np.nan  # hours without samples
        if rng.random() < 0.2:
            hourly[rng.random(hourly.size) < 0.5] = 0.0  # idle hours, idle days
        assert class_features._daily_peak_over_mean(hourly) == _daily_peak_over_mean_per_day(hourly)
    assert class_features._daily_peak_over_mean(np.full(48, np.nan)) == 1.0


def test_the_active_share_of_shuffled_times_is_that_of_the_times_in_order() -> None:
    rng = np.random.default_rng(9)
    ts_s = np.repeat(np.arange(0.0, 3 * 86400, 60), 2)  # two pods' samples share each time
    cpu_cores = rng.lognormal(0.0, 1.0, ts_s.size)
    p95 = float(np.percentile(cpu_cores, 95))
    shuffled = rng.permutation(ts_s.size)
    in_order = class_features._active_share(ts_s, cpu_cores, p95)
    assert in_order == class_features._active_share(ts_s[shuffled], cpu_cores[shuffled], p95)
    assert 0 < in_order <= 1


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 100, 2016, 4033])
def test_the_median_is_numpy_s_exactly(size: int) -> None:
    rng = np.random.default_rng(size + 100)
    for _ in range(50):
        values = _series(rng, size)
        assert quantiles.median(values) == np.median(values)
    assert quantiles.median(np.zeros(size)) == np.median(np.zeros(size))
    with_nan = _series(rng, size)
    with_nan[size // 2] = np.nan
    assert np.isnan(quantiles.median(with_nan))
    with pytest.raises(ValueError, match="no values"):
        quantiles.median(np.zeros(0))


def test_the_correlation_is_numpy_s_corrcoef_exactly() -> None:
    rng = np.random.default_rng(11)
    for _ in range(2000):
        hourly = _series(rng, int(rng.integers(3, 24 * 15)))
        if rng.random() < 0.3:
            hourly[rng.random(hourly.size) < 0.3] = 0.0
        lag = int(rng.integers(1, hourly.size // 2 + 1))
        head, tail = hourly[:-lag], hourly[lag:]
        if head.size > 1 and head.std() > 0 and tail.std() > 0:
            assert class_features.correlation(head, tail) == float(np.corrcoef(head, tail)[0, 1])


def test_the_slope_is_numpy_s_polyfit_exactly() -> None:
    rng = np.random.default_rng(12)
    for _ in range(2000):
        size = int(rng.integers(2, 24 * 15))
        hours = np.sort(rng.choice(np.arange(24 * 15, dtype=np.float64), size, replace=False))
        values = _series(rng, size)
        assert lines.slope(hours, values) == float(np.polyfit(hours, values, 1)[0])
        days = np.arange(size, dtype=np.float64)
        assert lines.slope(days, values) == float(np.polyfit(days, values, 1)[0])


def _hourly_by_ufunc_at(ts_s: np.ndarray, cpu: np.ndarray, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hourly peaks by ``np.maximum.at``, as before the in-order reduceat."""
    hour = np.floor((ts_s - ts_s[0]) / class_features.HOUR_S).astype(np.intp)
    peaks = np.full(int(hour[-1]) + 1, -np.inf)
    np.maximum.at(peaks, hour, memory)
    _, memory_hourly = class_features._hourly(ts_s, cpu, memory)
    present = ~np.isnan(memory_hourly)
    return memory_hourly[present], peaks[present]


def test_hourly_memory_peaks_are_the_ufunc_at_s() -> None:
    rng = np.random.default_rng(13)
    for _ in range(300):
        size = int(rng.integers(2, 3000))
        ts_s = np.sort(rng.choice(np.arange(0.0, 14 * 86400.0, 600.0), size))  # ties: pooled pods
        memory = _series(rng, size)
        found, expected = _hourly_by_ufunc_at(ts_s, memory, memory)
        assert np.array_equal(found, expected)


def _robust_z_along_axis(values: np.ndarray) -> np.ndarray:
    """``anomaly.robust_z`` as numpy's reductions along axis 0 compute it (before the column-by-column one)."""
    median = np.median(values, axis=0)
    mad = np.median(np.abs(values - median), axis=0)
    typical = np.maximum(np.abs(median), np.percentile(np.abs(values), 90, axis=0))
    floor = np.maximum(anomaly.MAD_FLOOR_SHARE * typical, 1e-12)
    result: np.ndarray = anomaly.MAD_TO_SIGMA * (values - median) / np.maximum(mad, floor)
    return result


def test_robust_z_column_by_column_is_numpy_s_along_the_axis() -> None:
    rng = np.random.default_rng(14)
    for _ in range(500):
        rows, columns = int(rng.integers(1, 400)), int(rng.integers(1, 5))
        values = np.column_stack([_series(rng, rows) for _ in range(columns)])
        if rng.random() < 0.2:
            values[:, 0] = 0.0  # a flat series: the MAD floor
        assert np.array_equal(anomaly.robust_z(values), _robust_z_along_axis(values))
