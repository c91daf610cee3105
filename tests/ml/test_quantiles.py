"""Percentiles from one sort are numpy's, to the bit; the class features' daily peaks are the per-day loop's."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.ml import class_features, quantiles

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
