"""Builders of synthetic usage histories for the right-sizing tests."""

from __future__ import annotations

import numpy as np

from kcost.analyzers.rightsizing.history import CurrentResources, OomEvent, UsageHistory

MIB = 1024**2
GIB = 1024**3
STEP_S = 300.0
DAY_S = 86_400.0
START_S = 1_700_000_000.0


def times(days: float, step_s: float = STEP_S) -> np.ndarray:
    """Sample times every ``step_s`` over ``days`` (the last one a step before the end)."""
    return START_S + np.arange(0, days * DAY_S, step_s)


def history(
    cpu_cores: np.ndarray | float,
    memory_bytes: np.ndarray | float,
    *,
    days: float = 14,
    step_s: float = STEP_S,
    oom_events: tuple[OomEvent, ...] = (),
    current: CurrentResources | None = None,
) -> UsageHistory:
    """A history of ``days`` at ``step_s``; scalars are repeated over every sample."""
    ts_s = times(days, step_s)
    return UsageHistory(
        ts_s=ts_s,
        cpu_cores=np.broadcast_to(np.asarray(cpu_cores, dtype=np.float64), ts_s.shape).copy(),
        memory_bytes=np.broadcast_to(np.asarray(memory_bytes, dtype=np.float64), ts_s.shape).copy(),
        oom_events=oom_events,
        current=current or CurrentResources(),
    )


def bursts(count: int, share: float, low: float, high: float) -> np.ndarray:
    """``count`` values, ``share`` of them ``high`` spread evenly through the series, the rest ``low``."""
    index = np.arange(count)
    return np.where((index * share) % 1 + share > 1 - 1e-9, high, low).astype(np.float64)
