"""Means, deviations, shares and runs of equal values: numpy's answers to the bit, on the series sizing sees
(small and large, ties, NaN, views), without numpy's generic reductions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kcost.ml import moments, runs

SIZES = [1, 2, 3, 7, 8, 9, 127, 128, 129, 2016, 4033]


def _series(rng: np.random.Generator, size: int) -> np.ndarray:
    values: np.ndarray = rng.lognormal(0.0, 1.0, size) * float(rng.choice([1e-4, 1.0, 1e9]))
    if rng.random() < 0.4:
        values = np.round(values, 1)  # ties, as memory rounded to pages has
    return values


@pytest.mark.parametrize("size", SIZES)
def test_the_mean_and_deviation_are_numpy_s_exactly(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(50):
        values = _series(rng, size)
        assert moments.mean(values) == float(values.mean())
        assert moments.std(values) == float(values.std())
        every_other = values[::2]  # a strided view, as a column or a day's slice can be
        assert moments.mean(every_other) == float(every_other.mean())
        assert moments.std(every_other) == float(every_other.std())


@pytest.mark.parametrize("size", SIZES)
def test_the_share_is_numpy_s_mean_of_the_mask_exactly(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(50):
        values = _series(rng, size)
        mask = values > np.median(values)
        assert moments.share(mask) == float(np.mean(mask))


def test_nan_and_no_values_answer_nan_as_numpy_does() -> None:
    with_nan = np.array([1.0, np.nan, 3.0])
    assert math.isnan(moments.mean(with_nan))
    assert math.isnan(moments.std(with_nan))
    assert math.isnan(moments.mean(np.zeros(0)))
    assert math.isnan(moments.std(np.zeros(0)))
    assert math.isnan(moments.share(np.zeros(0, dtype=np.bool_)))


@pytest.mark.parametrize("size", SIZES)
def test_runs_start_where_the_value_changes(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(50):
        # Hours of samples in time order: runs of equal values, some one sample long.
        hours = np.floor(np.cumsum(rng.exponential(0.4, size)))
        found = runs.starts(hours)
        assert np.array_equal(found, np.flatnonzero(np.append(True, hours[1:] != hours[:-1])))
        assert np.array_equal(runs.lengths(found, hours.size), np.diff(np.append(found, hours.size)))
        assert int(runs.lengths(found, hours.size).sum()) == size


def test_one_value_is_one_run_and_distinct_values_are_runs_of_one() -> None:
    assert runs.starts(np.array([5])).tolist() == [0]
    assert runs.lengths(runs.starts(np.array([5, 5, 5])), 3).tolist() == [3]
    assert runs.starts(np.arange(4)).tolist() == [0, 1, 2, 3]
