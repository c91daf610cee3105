"""Anomalous hours in a workload's usage: a robust z-score baseline and an IsolationForest.

Usage is cut into hourly windows (the mean of each resource over the hour), so the
result does not depend on the scrape interval. Both methods score each window against
the workload's own history:

- ``robust-z``: how far the window's level is from the median of all windows, in units
  of the median absolute deviation (scaled to a standard deviation); an hour beyond
  ``ROBUST_Z_THRESHOLD`` in any resource is anomalous.
- ``isolation-forest``: scikit-learn's IsolationForest over per-window features that
  describe level, change from the previous hour, distance from the same hour on other
  days and the 6-hour trend (each as a robust z-score), gated so a window must also be
  away from the median level: an unsupervised forest flags a fixed share of any
  series otherwise, anomalies or not.

Which one is the default is decided by ``kcost bench anomaly`` on real traces with
injected anomalies (``DEFAULT_METHOD``; see the README's figures).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kcost.ml import quantiles, runs

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

HOUR_S = 3600.0
# 0.6745 × (x − median) / MAD is a standard score for normal data; 3.5 is the usual cut (Iglewicz & Hoaglin).
MAD_TO_SIGMA = 0.6745
ROBUST_Z_THRESHOLD = 3.5
# A flat series has MAD 0: its deviation is measured against this share of its typical level instead.
MAD_FLOOR_SHARE = 0.05
# Fewer windows than this (a day) say nothing about what is normal: no window is anomalous.
MIN_WINDOWS = 24
FOREST_TREES = 100
FOREST_CONTAMINATION = 0.05
# The forest's outliers count only where the level is at least this many robust deviations away.
FOREST_LEVEL_GATE = 2.0
TREND_WINDOWS = 6
MIN_HOUR_SAMPLES_SHARE = 0.5


class Method(enum.StrEnum):
    ROBUST_Z = "robust-z"
    ISOLATION_FOREST = "isolation-forest"


# From `kcost bench anomaly` on the Bitbrains trace (README, "Anomalies"): the forest's overall F1 is only
# 0.02 higher (better on spikes and drops, worse on level shifts and leaks) at ~380× the time per series,
# which an analysis of thousands of containers cannot afford; the baseline stays the default.
DEFAULT_METHOD = Method.ROBUST_Z


@dataclass(frozen=True)
class HourlyUsage:
    """Usage per hourly window: ``start_s`` (n,) and ``levels`` (n, resources), the mean of each hour."""

    start_s: FloatArray
    levels: FloatArray


@dataclass(frozen=True)
class Detection:
    """Which hourly windows are anomalous, and each window's score (higher is stranger)."""

    start_s: FloatArray
    anomalous: BoolArray
    scores: FloatArray
    method: Method

    @property
    def count(self) -> int:
        return int(self.anomalous.sum())

    def recent(self, since_s: float) -> bool:
        """Whether any window starting at or after ``since_s`` is anomalous (usage is anomalous now)."""
        return bool((self.anomalous & (self.start_s >= since_s)).any())

    def sample_mask(self, ts_s: FloatArray) -> BoolArray:
        """True for each sample at ``ts_s`` that falls in an anomalous window."""
        if not self.count:
            return np.zeros(ts_s.shape, dtype=np.bool_)
        hours = np.floor(ts_s / HOUR_S) * HOUR_S
        flagged = self.start_s[self.anomalous]
        at = np.minimum(np.searchsorted(flagged, hours), flagged.size - 1)
        mask: BoolArray = flagged[at] == hours
        return mask


def judged(ts_s: FloatArray, until_s: float) -> int:
    """How many of the samples (in time order) come before the clock hour ``until_s`` falls in:
    the prefix ``hourly`` reads when a window ends at ``until_s``."""
    return int(ts_s.searchsorted(np.floor(until_s / HOUR_S) * HOUR_S, side="left"))


def hourly(ts_s: FloatArray, *resources: FloatArray, until_s: float | None = None) -> HourlyUsage:
    """The mean of each resource per clock hour, from samples in time order.

    Hours with fewer than half the usual samples are left out: the hour a window ends in
    is mostly still to come, and its few samples (rates at the edge of the data) are not
    a level to judge. With ``until_s`` (the window's end), an hour that ends after it is left
    out whatever its count: a batch job's run still under way there has the usual number of
    samples for its hour, but only the first part of its run.
    """
    if until_s is not None:
        # In time order the samples before the last hour are a prefix: views, not copies.
        complete = judged(ts_s, until_s)
        ts_s, resources = ts_s[:complete], tuple(values[:complete] for values in resources)
    if ts_s.size == 0:
        return HourlyUsage(np.zeros(0), np.zeros((0, len(resources))))
    hours = np.floor(ts_s / HOUR_S) * HOUR_S
    # Samples are in time order: each hour is one run of equal values (no sort needed).
    starts = runs.starts(hours)
    start_s = hours[starts]
    counts = runs.lengths(starts, ts_s.size).astype(np.float64)
    levels = np.column_stack([np.add.reduceat(values, starts) / counts for values in resources])
    full = counts >= MIN_HOUR_SAMPLES_SHARE * quantiles.median(counts)
    return HourlyUsage(start_s[full], levels[full])


def robust_z(values: FloatArray) -> FloatArray:
    """Per column: 0.6745 × (x − median) / MAD, with the MAD floored for flat series.

    Column by column (``np.median`` and ``np.percentile`` along axis 0 give the same numbers): every
    container is screened, and numpy's generic reductions cost more than the few rows they read.
    """
    if values.shape[0] == 0:
        return np.zeros(values.shape)
    columns = values.T
    median = np.array([quantiles.median(column) for column in columns])
    mad = np.array([quantiles.median(np.abs(column - middle)) for column, middle in zip(columns, median, strict=True)])
    p90 = np.array([quantiles.percentiles(np.abs(column), (90,))[0] for column in columns])
    typical = np.maximum(np.abs(median), p90)
    floor = np.maximum(MAD_FLOOR_SHARE * typical, 1e-12)
    result: FloatArray = MAD_TO_SIGMA * (values - median) / np.maximum(mad, floor)
    return result


def _empty(usage: HourlyUsage, method: Method) -> Detection:
    n = usage.start_s.size
    return Detection(usage.start_s, np.zeros(n, dtype=np.bool_), np.zeros(n), method)


def detect_robust_z(usage: HourlyUsage, threshold: float = ROBUST_Z_THRESHOLD) -> Detection:
    """The baseline: a window is anomalous when any resource's level is ``threshold`` robust deviations away."""
    if usage.start_s.size < MIN_WINDOWS:
        return _empty(usage, Method.ROBUST_Z)
    scores = np.abs(robust_z(usage.levels)).max(axis=1)
    return Detection(usage.start_s, scores > threshold, scores, Method.ROBUST_Z)


def features(usage: HourlyUsage) -> FloatArray:
    """Per window and resource: level, change from the previous hour, distance from the hour-of-day median, trend."""
    levels = usage.levels
    level_z = robust_z(levels)
    change_z = robust_z(np.diff(levels, axis=0, prepend=levels[:1]))
    hour_of_day = ((usage.start_s // HOUR_S) % 24).astype(int)
    seasonal = np.zeros_like(levels)
    for hour in np.unique(hour_of_day):
        rows = hour_of_day == hour
        seasonal[rows] = np.median(levels[rows], axis=0)
    residual_z = robust_z(levels - seasonal)
    kernel = np.ones(TREND_WINDOWS) / TREND_WINDOWS
    trend = np.column_stack([np.convolve(column, kernel, mode="same") for column in level_z.T])
    return np.column_stack([level_z, change_z, residual_z, trend])


def detect_isolation_forest(usage: HourlyUsage, seed: int = 0) -> Detection:
    """IsolationForest outliers among the windows, kept where the level is also away from the median."""
    if usage.start_s.size < MIN_WINDOWS:
        return _empty(usage, Method.ISOLATION_FOREST)
    # scikit-learn (with scipy and pandas, ~110 MiB) only for this method, which is not the default.
    from sklearn.ensemble import IsolationForest  # noqa: PLC0415

    table = features(usage)
    forest = IsolationForest(n_estimators=FOREST_TREES, contamination=FOREST_CONTAMINATION, random_state=seed)
    forest.fit(table)
    # One scoring pass: ``predict`` would score every window again; its cut is ``offset_``.
    normality = forest.score_samples(table)
    away = np.abs(robust_z(usage.levels)).max(axis=1) > FOREST_LEVEL_GATE
    return Detection(usage.start_s, (normality < forest.offset_) & away, -normality, Method.ISOLATION_FOREST)


def detect(usage: HourlyUsage, method: Method = DEFAULT_METHOD, seed: int = 0) -> Detection:
    """Anomalous windows of ``usage`` by ``method``."""
    if method is Method.ISOLATION_FOREST:
        return detect_isolation_forest(usage, seed)
    return detect_robust_z(usage)
