"""Containers sized by an earlier run, remembered by a digest of everything their sizing read.

Sizing is most of a run's CPU (about 2.5 s per 1,000 workloads) and a pure function of its
inputs, so a run over unchanged usage need not do it again. Each container's answers are kept
under a digest of the strategy's settings, its samples (times, CPU, memory), its OOM kills, its
current requests and limits, and how many of its samples the anomaly screening judges (the
window's end changes the answers only when samples fall in the hour it ends in). A container
whose digest is known is neither screened, sized nor classified again; its answers are those
sizing would give, byte for byte. Anything else (new samples, an edited request, other
settings) is another digest, sized as before.

Each process that sizes keeps its own (the analyzer's thread, or each worker process), in
memory only: a restarted analyzer sizes everything once. The least recently used containers
are forgotten first, so a scope larger than the bound is sized as if nothing were kept.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import cachetools
import numpy as np

from kcost.analyzers.rightsizing import anomalies
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import Recommendation
from kcost.api.v1alpha1.recommendation import WorkloadClass

# About 4.7 KB each (the answer, its evidence and the sparkline; not the samples): the analyzer's
# peak RSS rose by 41-47 MiB with 10,000 kept. 30,000 is ~140 MB: scopes of 10,000-30,000 workloads.
MAX_CONTAINERS = 30_000


@dataclass(frozen=True)
class Sized:
    """One container's answers as its workload's proposal uses them: no samples are kept."""

    answer: Recommendation
    workload_class: WorkloadClass | None
    anomaly: anomalies.Found | None
    sparkline: tuple[float, ...] | None  # the evidence's; None unless it was its workload's first container
    oom_killed: bool


def digest(settings_json: str, history: UsageHistory, judged: int) -> bytes:
    """What a container's answers depend on, hashed (not for security: collisions are not a threat here)."""
    hashed = hashlib.sha1(settings_json.encode(), usedforsecurity=False)
    hashed.update(judged.to_bytes(8, "little"))
    for values in (history.ts_s, history.cpu_cores, history.memory_bytes):
        hashed.update(f"{values.dtype.str}{values.size};".encode())
        hashed.update(np.ascontiguousarray(values).data)
    # repr() of a float round-trips: equal text, equal values.
    hashed.update(repr((history.oom_events, history.current)).encode())
    return hashed.digest()


class Remembered:
    """Sized containers by digest, the least recently used forgotten beyond ``max_containers``."""

    def __init__(self, max_containers: int = MAX_CONTAINERS) -> None:
        self._sized: cachetools.LRUCache[bytes, Sized] = cachetools.LRUCache(maxsize=max_containers)
        self._lock = threading.Lock()  # a thread pool may size two chunks at once
        self.found = 0  # containers found here so far: a run's count is the difference

    def __len__(self) -> int:
        return len(self._sized)

    def get(self, key: bytes, *, with_sparkline: bool = False) -> Sized | None:
        """The container's answers; None if unknown, or if a sparkline is asked for and none was kept."""
        with self._lock:
            found = self._sized.get(key)
            if found is None or (with_sparkline and found.sparkline is None):
                return None
            self.found += 1
            return found

    def put(self, key: bytes, sized: Sized) -> None:
        with self._lock:
            self._sized[key] = sized
