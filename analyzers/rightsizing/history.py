"""One container's usage history: what every strategy reads."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kcost.analyzers.rightsizing.stats import FloatArray, median_interval_s, sort_once


@dataclass(frozen=True)
class OomEvent:
    """An OOM kill: when, and the memory in use (or the limit) at that moment."""

    ts_s: float
    memory_bytes: float


@dataclass(frozen=True)
class CurrentResources:
    """What the container asks for today; None where it sets nothing."""

    cpu_request_cores: float | None = None
    cpu_limit_cores: float | None = None
    memory_request_bytes: float | None = None
    memory_limit_bytes: float | None = None


@dataclass(frozen=True)
class UsageHistory:
    """Samples in time order: Unix seconds, CPU cores used, memory bytes used (working set).

    A resource that was not measured is all zeros (a memory-only or CPU-only series). The arrays are
    never changed: what several steps read of one window (its sorted values, its usual interval) is
    computed once and kept.
    """

    ts_s: FloatArray
    cpu_cores: FloatArray
    memory_bytes: FloatArray
    oom_events: tuple[OomEvent, ...] = ()
    current: CurrentResources = field(default_factory=CurrentResources)

    def __post_init__(self) -> None:
        sizes = {self.ts_s.shape, self.cpu_cores.shape, self.memory_bytes.shape}
        if len(sizes) != 1 or self.ts_s.ndim != 1:
            raise ValueError(
                f"ts_s, cpu_cores and memory_bytes must be 1-D arrays of one length; got shapes {sorted(sizes)}"
            )
        if self.ts_s.size > 1 and bool((self.ts_s[1:] < self.ts_s[:-1]).any()):
            raise ValueError("ts_s must be in time order; sort the samples first")

    @property
    def sample_count(self) -> int:
        return int(self.ts_s.size)

    @property
    def span_s(self) -> float:
        """Time from the first to the last sample."""
        return float(self.ts_s[-1] - self.ts_s[0]) if self.ts_s.size else 0.0

    @property
    def covered_s(self) -> float:
        """Time the samples stand for: first to last, plus the usual interval the last one covers.

        720 samples at 60 s are 12 h of history (their span is one interval shorter); this
        is what a minimum history is compared with.
        """
        return self.span_s + self.usual_interval_s if self.ts_s.size else 0.0

    @functools.cached_property
    def usual_interval_s(self) -> float:
        """``stats.median_interval_s`` of the samples."""
        return median_interval_s(self.ts_s)

    @property
    def cpu_sorted(self) -> FloatArray:
        """``np.sort`` of the CPU samples: their percentiles, wherever they are read."""
        return self._cpu_sort[0]

    @property
    def memory_sorted(self) -> FloatArray:
        """``np.sort`` of the memory samples."""
        return self._memory_sort[0]

    @property
    def cpu_order(self) -> npt.NDArray[np.intp]:
        """The CPU samples' stable sort order: their weighted quantiles."""
        return self._cpu_sort[1]

    @property
    def memory_order(self) -> npt.NDArray[np.intp]:
        """The memory samples' stable sort order."""
        return self._memory_sort[1]

    @functools.cached_property
    def _cpu_sort(self) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        return sort_once(self.cpu_cores)

    @functools.cached_property
    def _memory_sort(self) -> tuple[FloatArray, npt.NDArray[np.intp]]:
        return sort_once(self.memory_bytes)

    def since(self, start_s: float) -> UsageHistory:
        """The samples and OOM events at or after ``start_s`` (this very history when that is all of it)."""
        first = int(self.ts_s.searchsorted(start_s, side="left"))
        if first == 0 and all(event.ts_s >= start_s for event in self.oom_events):
            return self  # the same window: what was read of it already holds
        return UsageHistory(
            ts_s=self.ts_s[first:],
            cpu_cores=self.cpu_cores[first:],
            memory_bytes=self.memory_bytes[first:],
            oom_events=tuple(event for event in self.oom_events if event.ts_s >= start_s),
            current=self.current,
        )

    def last(self, duration_s: float) -> UsageHistory:
        """The most recent ``duration_s`` of history, counted back from the last sample."""
        if self.ts_s.size == 0:
            return self
        return self.since(float(self.ts_s[-1]) - duration_s)
