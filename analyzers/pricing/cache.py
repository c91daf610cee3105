"""An in-process TTL cache for price fetches: one load at a time per key, failures not cached."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept for ``ttl_s`` seconds of ``clock`` (monotonic by default).

    Concurrent callers of ``get_or_load`` for the same key share one load, so a burst
    of analyzers asking for the same region makes one API call, not one each.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._locks: dict[K, asyncio.Lock] = {}

    def get(self, key: K) -> V | None:
        """The cached value if it is still fresh."""
        entry = self._values.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self._clock() - stored_at >= self.ttl_s:
            del self._values[key]
            return None
        return value

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The fresh cached value, or the result of ``load()`` (stored only when it succeeds)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self.get(key)
            if cached is not None:
                return cached
            value = await load()
            self._values[key] = (self._clock(), value)
            return value

    def invalidate(self, key: K) -> None:
        """Forget one key, e.g. a partial answer that should be retried soon rather than kept."""
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
