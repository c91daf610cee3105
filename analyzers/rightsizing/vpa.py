"""The Kubernetes VPA recommender, re-implemented from its published constants (``vpa``).

- CPU: every usage sample goes into a decaying histogram (half-life 24h; buckets from
  10m, growing 5%). The VPA weighs a CPU sample by the container's request (at least
  0.1 core); one container keeps one request over the window here, so that weight
  cancels out of every percentile and is left out.
- Memory: the peak of each 24h aggregation interval goes into a decaying histogram
  (half-life 24h; buckets from 10 MB, growing 5%), over 8 intervals of history.
- OOM: a kill adds a memory sample of max(used + 100MiB, used × 1.2) at its time,
  where used is the larger of the memory at the kill and the interval's peak so far.
- Target p90, lower bound p50, upper bound p95, each plus a 15% safety margin; the
  bounds are scaled by the confidence (history length in days, and samples counted as
  days at one sample per minute, whichever is smaller): upper × (1 + 1/c), lower ×
  (1 + 0.001/c)^-2. The request is the target; at least 25 millicores and 250 MiB per
  pod (the recommender's ``pod-recommendation-min-memory-mb`` is multiplied by 1024²).
- Limits keep the container's current limit/request ratio (none without a limit).

The VPA samples every minute; this reads samples at any interval, so the sample count
in the confidence is measured as observed time (each sample's interval) instead.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.base import Sizing, Strategy, StrategySettings, replay_risk
from kcost.analyzers.rightsizing.histogram import CPU_BUCKETS, MEMORY_BUCKETS, DecayingHistogram
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.api.units import MIB


class VpaSettings(StrategySettings):
    """The recommender's flags, at their defaults."""

    history_days: float = Field(8, gt=0, le=365, description="History read: 8 memory aggregation intervals of 24h.")
    cpu_step_millicores: int = Field(1, ge=1, le=1000, description="round-cpu-millicores.")
    cpu_min_cores: float = Field(0.025, ge=0, le=64, description="pod-recommendation-min-cpu-millicores, per pod.")
    memory_min_mib: float = Field(250, ge=0, le=65536, description="pod-recommendation-min-memory-mb, per pod.")
    half_life_hours: float = Field(24, gt=0, le=24 * 30, description="Histogram decay half-life (CPU and memory).")
    memory_aggregation_interval_hours: float = Field(24, gt=0, le=24 * 7, description="One memory peak per interval.")
    target_percentile: float = Field(0.9, gt=0, le=1, description="target-cpu/memory-percentile.")
    lower_bound_percentile: float = Field(0.5, gt=0, le=1, description="recommendation-lower-bound-*-percentile.")
    upper_bound_percentile: float = Field(0.95, gt=0, le=1, description="recommendation-upper-bound-*-percentile.")
    safety_margin_fraction: float = Field(0.15, ge=0, le=10, description="recommendation-margin-fraction.")
    oom_bump_ratio: float = Field(1.2, ge=1, le=10, description="OOMBumpUpRatio.")
    oom_min_bump_mib: float = Field(100, ge=0, le=65536, description="OOMMinBumpUp.")


class VpaStrategy(Strategy[VpaSettings]):
    name = "vpa"
    settings_model = VpaSettings

    def size(self, window: UsageHistory) -> Sizing:
        s = self.settings
        end_s = float(window.ts_s[-1])
        half_life_s = s.half_life_hours * stats.HOUR_S
        cpu = DecayingHistogram(CPU_BUCKETS, half_life_s, end_s)
        cpu.add(window.cpu_cores, window.ts_s)
        memory = DecayingHistogram(MEMORY_BUCKETS, half_life_s, end_s)
        peak_ts_s, peak_bytes = self._memory_peaks(window)
        memory.add(peak_bytes, peak_ts_s)

        confidence_days = self._confidence_days(window)
        margin = 1 + s.safety_margin_fraction
        upper_scale = 1 + 1 / confidence_days if confidence_days > 0 else float("inf")
        lower_scale = (1 + 0.001 / confidence_days) ** -2 if confidence_days > 0 else 0.0

        def bounds(histogram: DecayingHistogram) -> tuple[float, float, float]:
            target = histogram.percentile(s.target_percentile) * margin
            lower = histogram.percentile(s.lower_bound_percentile) * margin * lower_scale
            upper = histogram.percentile(s.upper_bound_percentile) * margin * upper_scale
            return target, lower, upper

        cpu_target, cpu_lower, cpu_upper = bounds(cpu)
        memory_target, memory_lower, memory_upper = bounds(memory)
        current = window.current
        cpu_limit = _proportional(cpu_target, current.cpu_request_cores, current.cpu_limit_cores)
        memory_limit = _proportional(memory_target, current.memory_request_bytes, current.memory_limit_bytes)
        confidence = min(confidence_days / s.history_days, 1.0)
        return Sizing(
            cpu_request_cores=cpu_target,
            cpu_limit_cores=cpu_limit,
            memory_request_bytes=memory_target,
            memory_limit_bytes=memory_limit,
            confidence=confidence,
            risk_level=replay_risk(window, memory_target, memory_limit, confidence),
            method=(
                f"vpa(target p{s.target_percentile * 100:g}+{s.safety_margin_fraction:.0%}, "
                f"half-life {s.half_life_hours:g}h, memory peaks per {s.memory_aggregation_interval_hours:g}h)"
            ),
            notes=(
                f"cpu bounds {cpu_lower:.3f}..{cpu_upper:.3f} cores",
                f"memory bounds {memory_lower / MIB:.0f}..{memory_upper / MIB:.0f} MiB",
                f"confidence {confidence_days:.2f} days",
            ),
        )

    def _memory_peaks(self, window: UsageHistory) -> tuple[stats.FloatArray, stats.FloatArray]:
        """One peak per aggregation interval, OOM bumps included."""
        s = self.settings
        interval_s = s.memory_aggregation_interval_hours * stats.HOUR_S
        start_s = float(window.ts_s[0])
        bump_ts_s: list[float] = []
        bump_bytes: list[float] = []
        for event in window.oom_events:
            slot_start_s = start_s + ((event.ts_s - start_s) // interval_s) * interval_s
            in_slot = (window.ts_s >= slot_start_s) & (window.ts_s <= event.ts_s)
            # Used = the larger of the memory at the kill and the interval's peak of real samples:
            # an earlier bump does not count, so repeated kills do not compound.
            peak_bytes = float(window.memory_bytes[in_slot].max()) if in_slot.any() else 0.0
            used = max(event.memory_bytes, peak_bytes)
            bump_ts_s.append(event.ts_s)
            bump_bytes.append(max(used + s.oom_min_bump_mib * MIB, used * s.oom_bump_ratio))
        ts_s = np.append(window.ts_s, bump_ts_s)
        memory_bytes = np.append(window.memory_bytes, bump_bytes)
        return stats.interval_peaks(ts_s, memory_bytes, start_s, interval_s)

    @staticmethod
    def _confidence_days(window: UsageHistory) -> float:
        """min(history length in days, observed time in days): N for N days of steady samples."""
        lifespan_days = window.span_s / stats.DAY_S
        observed_days = float(stats.sample_intervals_s(window.ts_s).sum()) / stats.DAY_S
        return min(lifespan_days, observed_days)


def _proportional(request: float, current_request: float | None, current_limit: float | None) -> float | None:
    """The VPA keeps the limit/request ratio of the current spec; no limit stays no limit."""
    if current_limit is None:
        return None
    if not current_request:
        return request
    return request * current_limit / current_request
