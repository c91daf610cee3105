"""The VPA recommender's decaying histogram with exponentially growing buckets.

Bucket ``i`` starts at ``first_bucket_size * (ratio**i - 1) / (ratio - 1)``; a
percentile is the *end* of the bucket where the cumulative weight reaches it (the
start of the last bucket, which has no end), as in the VPA's ``histogram.Percentile``.
Weights decay by half every half-life; they are kept relative to one reference time,
which leaves every percentile unchanged (only ratios of weights matter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kcost.analyzers.rightsizing.stats import FloatArray, decay_weights

# The VPA's ``epsilon``: a histogram whose total weight is below it is empty.
EPSILON = 0.0001


@dataclass(frozen=True)
class ExponentialBuckets:
    """Bucket layout: ``max_value``, the size of the first bucket, and the growth ratio of the next ones."""

    max_value: float
    first_bucket_size: float
    ratio: float

    @property
    def bucket_count(self) -> int:
        return math.ceil(math.log(self.max_value * (self.ratio - 1) / self.first_bucket_size + 1, self.ratio)) + 1

    def bucket_start(self, index: int) -> float:
        return self.first_bucket_size * (self.ratio**index - 1) / (self.ratio - 1)

    def find_buckets(self, values: FloatArray) -> np.ndarray:
        """The bucket index of each value (values below the first bucket's end go to bucket 0)."""
        scaled = np.maximum(values, 0.0) * (self.ratio - 1) / self.first_bucket_size + 1
        # np.log on both sides, so that a value on a bucket boundary lands in that bucket.
        indexes = np.floor(np.log(scaled) / float(np.log(self.ratio))).astype(np.int64)
        return np.clip(indexes, 0, self.bucket_count - 1)


# The VPA's layouts: CPU from 10 millicores to 1000 cores, memory from 10 MB to 1 TB, 5% growth.
CPU_BUCKETS = ExponentialBuckets(max_value=1000.0, first_bucket_size=0.01, ratio=1.05)
MEMORY_BUCKETS = ExponentialBuckets(max_value=1e12, first_bucket_size=1e7, ratio=1.05)


class DecayingHistogram:
    """Weighted samples in exponential buckets, each weight halved every ``half_life_s`` before ``reference_s``."""

    def __init__(self, buckets: ExponentialBuckets, half_life_s: float, reference_s: float) -> None:
        self.buckets = buckets
        self.half_life_s = half_life_s
        self.reference_s = reference_s
        self.weights = np.zeros(buckets.bucket_count)

    def add(self, values: FloatArray, ts_s: FloatArray, weights: FloatArray | float = 1.0) -> None:
        """Add samples taken at ``ts_s`` with the given weights (before decay)."""
        decayed = np.broadcast_to(weights, values.shape) * decay_weights(ts_s, self.reference_s, self.half_life_s)
        np.add.at(self.weights, self.buckets.find_buckets(values), decayed)

    @property
    def total_weight(self) -> float:
        return float(self.weights.sum())

    def percentile(self, quantile: float) -> float:
        """The end of the bucket where the cumulative weight reaches ``quantile`` of the total; 0 when empty."""
        total = self.total_weight
        if total < EPSILON:
            return 0.0
        cumulative = np.cumsum(self.weights)
        bucket = int(np.searchsorted(cumulative, quantile * total, side="left"))
        # Never past the last non-empty bucket (float rounding can leave the sum a hair short).
        bucket = min(bucket, int(np.flatnonzero(self.weights)[-1]))
        if bucket < self.buckets.bucket_count - 1:
            return self.buckets.bucket_start(bucket + 1)
        return self.buckets.bucket_start(bucket)
