from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kcost.analyzers.rightsizing import stats


def test_weighted_quantile_follows_the_weights() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0])
    assert stats.weighted_quantile(values, np.ones(4), 0.5) == 2.0
    assert stats.weighted_quantile(values, np.ones(4), 0.51) == 3.0
    # The last value carries 70% of the weight: it is the median.
    assert stats.weighted_quantile(values, np.array([0.1, 0.1, 0.1, 0.7]), 0.5) == 4.0
    assert stats.weighted_quantile(values[::-1], np.ones(4), 1.0) == 4.0


def test_weighted_quantile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.weighted_quantile(np.zeros(0), np.zeros(0), 0.5)


def test_sample_intervals_count_gaps_and_repeats_as_unobserved() -> None:
    ts_s = np.array([0.0, 300.0, 300.0, 600.0, 3600.0, 3900.0])
    assert stats.sample_intervals_s(ts_s).tolist() == [300, 0, 300, 300, 300, 300]
    assert stats.sample_intervals_s(ts_s, end_s=4000.0).tolist() == [300, 0, 300, 300, 300, 100]


def test_interval_peaks_take_the_highest_sample_of_each_slot() -> None:
    ts_s = np.array([0.0, 10.0, 20.0, 100.0, 130.0, 250.0])
    values = np.array([5.0, 9.0, 1.0, 2.0, 7.0, 3.0])
    peak_ts_s, peaks = stats.interval_peaks(ts_s, values, start_s=0.0, interval_s=100.0)
    assert peak_ts_s.tolist() == [10.0, 130.0, 250.0]
    assert peaks.tolist() == [9.0, 7.0, 3.0]


def test_theil_sen_slope_ignores_an_outlier() -> None:
    days = np.arange(7, dtype=np.float64)
    peaks = 100 + 10 * days
    peaks[3] = 10_000
    assert stats.theil_sen_slope(days, peaks) == pytest.approx(10.0)
    assert stats.theil_sen_slope(days[:1], peaks[:1]) == 0.0


def test_usage_stats_percentiles_and_max() -> None:
    usage = stats.usage_stats(np.arange(101, dtype=np.float64))
    assert (usage.p50, usage.p90, usage.p95, usage.p99, usage.max) == (50, 90, 95, 99, 100)


def _peaks_by_sorting(ts_s: np.ndarray, values: np.ndarray, start_s: float, interval_s: float) -> tuple[Any, Any]:
    slots = np.floor((ts_s - start_s) / interval_s).astype(np.int64)
    order = np.lexsort((values, slots))
    chosen = order[np.append(slots[order][1:] != slots[order][:-1], True)]
    return ts_s[chosen], values[chosen]


def test_interval_peaks_of_samples_in_time_order_pick_what_sorting_picks() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 500, 2016):
        ts_s = np.array(
            np.sort(rng.choice(np.arange(0.0, 14 * 86400, 600), size=size, replace=False)), dtype=np.float64
        )
        values = rng.integers(0, 5, size).astype(float)  # many ties: the last sample at the peak is the one
        expected = _peaks_by_sorting(ts_s, values, 0.0, 86400.0)
        got = stats.interval_peaks(ts_s, values, 0.0, 86400.0)
        for part, expected_part in zip(got, expected, strict=True):
            np.testing.assert_array_equal(part, expected_part)
    shuffled = rng.permutation(2016)
    steps_s, levels = np.array(np.arange(2016.0) * 600, dtype=np.float64), rng.random(2016)
    got = stats.interval_peaks(steps_s[shuffled], levels[shuffled], 0.0, 86400.0)
    for part, expected_part in zip(got, _peaks_by_sorting(steps_s, levels, 0.0, 86400.0), strict=True):
        np.testing.assert_array_equal(part, expected_part)


def test_the_packed_order_of_page_sized_values_is_the_stable_sort_s() -> None:
    rng = np.random.default_rng(8)
    for size in (2, 3, 64, 2016, 6048, 8193):
        pages = np.round(rng.normal(4e8, 1e7, size) / 4096) * 4096  # memory: ties, low bits zero
        for values in (pages, np.zeros(size), np.concatenate([pages[: size // 2], np.zeros(size - size // 2)])):
            packed = stats._packed_stable_order(values)
            assert packed is not None
            assert np.array_equal(packed, np.argsort(values, kind="stable"))
            assert np.array_equal(stats.stable_order(values, np.sort(values)), np.argsort(values, kind="stable"))
    # Values whose low bits are used, a negative zero, inf or NaN: the float sort's order, not this one.
    for odd in (
        rng.lognormal(0.0, 1.0, 100),
        np.array([0.0, -0.0, 4096.0]),
        np.array([np.inf, 0.0]),
        np.array([np.nan, 0.0]),
    ):
        assert stats._packed_stable_order(odd) is None
        assert np.array_equal(stats.stable_order(odd), np.argsort(odd, kind="stable"))


def test_ties_put_in_index_order_give_the_stable_sort_s_order() -> None:
    rng = np.random.default_rng(9)
    for size in (2, 3, 50, 2016, 6048):
        for values in (np.round(rng.gamma(2.0, 0.1, size), 2), np.zeros(size), np.array([0.0, -0.0] * (size // 2 + 1))):
            expected = np.argsort(values, kind="stable")
            assert np.array_equal(stats._ties_by_index(values, np.argsort(values)), expected)
            assert np.array_equal(stats.stable_order(values, np.sort(values)), expected)


def test_one_sort_gives_numpy_s_sorted_values_and_stable_order() -> None:
    rng = np.random.default_rng(10)
    for size in (0, 1, 2, 3, 50, 2016, 6048):
        distinct = rng.lognormal(0.0, 1.0, size)
        with_nan = distinct.copy()
        with_nan[::7] = np.nan
        signed_zeros = np.where(rng.random(size) < 0.5, -0.0, 0.0)
        for values in (
            distinct,
            np.round(distinct, 1),
            np.round(distinct * 1e8 / 4096) * 4096,
            with_nan,
            np.zeros(size),
            signed_zeros,
            np.concatenate([signed_zeros[: size // 2], distinct[size // 2 :]]),
        ):
            ordered, order = stats.sort_once(values)
            assert np.array_equal(ordered, np.sort(values), equal_nan=True)
            assert np.array_equal(np.signbit(ordered), np.signbit(np.sort(values)))
            assert np.array_equal(order, np.argsort(values, kind="stable"))


def test_the_order_weighted_quantiles_sort_by_is_the_stable_sort_s() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 50, 2016):
        distinct = rng.lognormal(0.0, 1.0, size)
        tied = np.round(distinct, 1)  # memory rounded to pages, idle CPU at zero
        with_nan = distinct.copy()
        with_nan[::7] = np.nan
        for values in (distinct, tied, with_nan, np.zeros(size)):
            expected = np.argsort(values, kind="stable")
            assert np.array_equal(stats.stable_order(values), expected)
            assert np.array_equal(stats.stable_order(values, np.sort(values)), expected)
