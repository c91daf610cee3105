"""kcost's own right-sizing strategy (``kcost``).

The method, for one container over the last ``history_days``:

1. **Weights.** Each sample counts for the time it stands for (so irregular scraping and
   gaps do not bias anything) times a recency decay (half-life ``half_life_days``), so a
   workload that changed recently is sized for what it is now.
2. **CPU request** = the weighted ``cpu_percentile`` (p85) × (1 + ``cpu_margin``). A
   margin on top of a slightly lower percentile covers nearly every sample of a steady
   container for little, while a spiky one is not charged full price for rare bursts,
   which it can still take from idle node capacity: no CPU limit is set. This puts the
   shortfall where covering it is most expensive, instead of spreading it evenly.
3. **Memory request** = the weighted ``memory_percentile`` (p95) of the working set ×
   (1 + ``memory_headroom``). No trend here: the limit catches a rising series, and a
   trend read from noise would make every request dearer.
4. **Memory limit** = the peak × (1 + ``memory_limit_margin`` + ``memory_limit_volatility``
   × the coefficient of variation of the daily peaks), at least the peak plus
   ``memory_limit_min_headroom_mib``, plus the growth expected over ``horizon_days``
   (the Theil–Sen slope of the daily peaks, if rising). Requests are what is billed and
   what the scheduler reserves; the limit only caps, so it is sized to avoid OOM
   kills: steady containers get a modest margin, volatile or leaking ones more. An
   OOM kill in the window counts as a peak of the memory at the kill × (1 +
   ``oom_bump_fraction``).
5. **Short history.** With fewer observed days than the horizon, the tail left
   uncovered shrinks in proportion (p85 from 14 days becomes p92.5 from 7) and the
   limit margin grows with √(horizon ÷ observed days): less evidence, more safety.

6. **Confidence** is the calibrated probability that the values hold over the horizon (no
   OOM kill, little CPU shortfall and memory pressure), from the model shipped in
   ``kcost.ml`` (``kcost.ml.confidence``), and the risk is read from it. The model is fitted
   on backtests of these very values on recorded traces (``calibration``), which use
   ``propose``: the values with the share of the horizon covered as a plain confidence.

Why it generalizes: every quantity is relative to the container's own distribution
(percentiles, ratios, coefficients of variation, its own trend); samples are weighted
by time, so the sampling interval does not matter; nothing is fitted per fleet, and
each setting has a meaning an operator can reason about. The only absolute amounts
are the floors and the 256 MiB minimum limit headroom, for small containers whose
memory can double from one day to the next. The defaults are round numbers, checked
(not fitted series by series) on the Bitbrains trace over several train/eval splits.
A resource that was not measured (all zeros) gets its floor and, for memory, no limit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from pydantic import Field

from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.base import Sizing, Strategy, StrategySettings
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation, NotEnoughData, Recommendation
from kcost.api.units import MIB
from kcost.api.v1alpha1.recommendation import RiskLevel
from kcost.ml import confidence, confidence_features, moments

# Growth of the peak over the horizon, as a share of the peak, above which a series is risky.
STEEP_GROWTH_FRACTION = 0.25
# Share of the window's samples above the CPU request above which CPU is a risk.
CPU_SHORTFALL_RISK_FRACTION = 0.10


class AdaptiveSettings(StrategySettings):
    """kcost's settings; the defaults are meant to be left alone."""

    half_life_days: float = Field(7, gt=0, le=365, description="Recency weighting: a sample this old counts half.")
    horizon_days: float = Field(14, gt=0, le=365, description="How long the values should hold: trends run this far.")
    cpu_percentile: float = Field(85, ge=50, le=100, description="Weighted percentile of CPU use behind the request.")
    cpu_margin: float = Field(0.15, ge=0, le=10, description="Added to that percentile, as a fraction.")
    memory_percentile: float = Field(95, ge=50, le=100, description="Weighted percentile of memory behind the request.")
    memory_headroom: float = Field(0.2, ge=0, le=10, description="Added to that percentile, as a fraction.")
    memory_limit_margin: float = Field(0.3, ge=0, le=10, description="Memory limit above the peak, as a fraction.")
    memory_limit_volatility: float = Field(
        1.0, ge=0, le=10, description="Extra limit margin per unit of coefficient of variation of the daily peaks."
    )
    memory_limit_min_headroom_mib: float = Field(
        256, ge=0, le=65536, description="The memory limit is at least this far above the peak."
    )
    oom_bump_fraction: float = Field(0.2, ge=0, le=10, description="An OOM kill counts as its memory times 1 + this.")
    min_samples: int = Field(48, ge=1, le=1_000_000, description="Fewer samples give no recommendation.")
    min_history_hours: float = Field(12, ge=0, le=24 * 365, description="A shorter history gives no recommendation.")


@dataclass(frozen=True)
class _MemorySizing:
    """Memory values and the figures the risk rests on."""

    request_bytes: float
    limit_bytes: float | None
    growth_bytes: float
    peak_bytes: float


class AdaptiveStrategy(Strategy[AdaptiveSettings]):
    name = "kcost"
    settings_model = AdaptiveSettings

    def recommend(self, history: UsageHistory) -> Recommendation:
        """The values, with the calibrated model's confidence that they hold over the horizon and its risk."""
        return self.recommend_many([history])[0]

    def recommend_many(self, histories: Sequence[UsageHistory]) -> list[Recommendation]:
        """``recommend`` of each history, the confidence model scoring all of them in one call."""
        answers = [self.propose(history) for history in histories]
        proposed = [index for index, answer in enumerate(answers) if isinstance(answer, ContainerRecommendation)]
        if not proposed:
            return answers
        rows = np.array(
            [
                confidence_features_of(
                    histories[index].last(self.settings.history_days * stats.DAY_S),
                    cast(ContainerRecommendation, answers[index]),
                )
                for index in proposed
            ]
        )
        for index, estimate in zip(proposed, confidence.shipped_scorer().estimate_many(rows).tolist(), strict=True):
            answer = cast(ContainerRecommendation, answers[index])
            # The traces it learned from have no OOM kills: the rules' risk (high after an OOM kill or
            # with steep growth) stays a floor where the model has never seen such a history.
            risk = max(confidence.risk_level(estimate), answer.risk_level, key=lambda level: level.rank)
            answers[index] = dataclasses.replace(answer, confidence=estimate, risk_level=risk)
        return answers

    def propose(self, history: UsageHistory) -> Recommendation:
        """The values with history coverage as confidence: what the confidence model is trained on."""
        return super().recommend(history)

    def size(self, window: UsageHistory) -> Sizing | NotEnoughData:
        s = self.settings
        history_hours = window.covered_s / stats.HOUR_S
        if window.sample_count < s.min_samples or history_hours < s.min_history_hours:
            return NotEnoughData(
                reason=(
                    f"not enough data: {window.sample_count} samples over {history_hours:.1f}h; "
                    f"kcost needs {s.min_samples} samples and {s.min_history_hours:g}h"
                ),
                sample_count=window.sample_count,
                history_hours=history_hours,
            )
        intervals_s = stats.sample_intervals_s(window.ts_s, usual_s=window.usual_interval_s)
        weights = intervals_s * stats.decay_weights(window.ts_s, float(window.ts_s[-1]), s.half_life_days * stats.DAY_S)
        # Observed time, not span: a week of data with a three-day hole is four days of evidence.
        observed_days = max(float(intervals_s.sum()) / stats.DAY_S, 1 / 24)
        coverage = min(1.0, observed_days / s.horizon_days)
        notes: list[str] = []

        cpu_request = self._cpu_request(window, weights, coverage, notes)
        memory = self._memory(window, weights, coverage, notes)
        shortfall = moments.share(window.cpu_cores > cpu_request)
        return Sizing(
            cpu_request_cores=cpu_request,
            cpu_limit_cores=None,
            memory_request_bytes=memory.request_bytes,
            memory_limit_bytes=memory.limit_bytes,
            confidence=coverage,
            risk_level=_risk(window, memory, coverage, shortfall),
            method=(
                f"kcost(cpu p{s.cpu_percentile:g}+{s.cpu_margin:.0%}, memory p{s.memory_percentile:g}"
                f"+{s.memory_headroom:.0%}, limit peak+{s.memory_limit_margin:.0%}+{s.memory_limit_volatility:g}"
                f"×cv(daily peaks)+trend, half-life {s.half_life_days:g}d, horizon {s.horizon_days:g}d)"
            ),
            notes=tuple(notes),
        )

    def _cpu_request(self, window: UsageHistory, weights: stats.FloatArray, coverage: float, notes: list[str]) -> float:
        s = self.settings
        if not window.cpu_cores.any():
            notes.append("CPU use is all zero (not measured?): the request is the floor")
            return 0.0
        quantile = 1 - (1 - s.cpu_percentile / 100) * coverage
        return stats.weighted_quantile(window.cpu_cores, weights, quantile, window.cpu_order) * (1 + s.cpu_margin)

    def _memory(
        self, window: UsageHistory, weights: stats.FloatArray, coverage: float, notes: list[str]
    ) -> _MemorySizing:
        s = self.settings
        memory = window.memory_bytes
        if not memory.any() and not window.oom_events:
            notes.append("memory use is all zero (not measured?): the request is the floor, no limit")
            return _MemorySizing(request_bytes=0.0, limit_bytes=None, growth_bytes=0.0, peak_bytes=0.0)
        peak_ts_s, daily_peaks = stats.interval_peaks(window.ts_s, memory, float(window.ts_s[0]), stats.DAY_S)
        # Three days make the first trend that one odd day cannot set alone.
        slope_per_day = stats.theil_sen_slope(peak_ts_s / stats.DAY_S, daily_peaks) if daily_peaks.size >= 3 else 0.0
        growth_bytes = max(slope_per_day, 0.0) * s.horizon_days
        mean_peak = moments.mean(daily_peaks)
        volatility = moments.std(daily_peaks) / mean_peak if daily_peaks.size >= 2 and mean_peak > 0 else 0.0
        peak_bytes = float(memory.max())
        if window.oom_events:
            oom_bytes = max(event.memory_bytes for event in window.oom_events)
            peak_bytes = max(peak_bytes, oom_bytes * (1 + s.oom_bump_fraction))
            notes.append(f"{len(window.oom_events)} OOM kill(s), at up to {oom_bytes / MIB:.0f} MiB")
        if growth_bytes > 0:
            notes.append(f"memory peaks grow {slope_per_day / MIB:.1f} MiB/day")

        quantile = 1 - (1 - s.memory_percentile / 100) * coverage
        request = stats.weighted_quantile(memory, weights, quantile, window.memory_order) * (1 + s.memory_headroom)
        margin = (s.memory_limit_margin + s.memory_limit_volatility * volatility) * math.sqrt(1 / coverage)
        limit = max(peak_bytes * (1 + margin), peak_bytes + s.memory_limit_min_headroom_mib * MIB) + growth_bytes
        return _MemorySizing(
            request_bytes=min(request, limit), limit_bytes=limit, growth_bytes=growth_bytes, peak_bytes=peak_bytes
        )


def _risk(window: UsageHistory, memory: _MemorySizing, coverage: float, cpu_shortfall: float) -> RiskLevel:
    """High after OOM kills or with steeply growing memory; medium with short history, frequent CPU
    use above the request, or any memory growth; low otherwise."""
    if window.oom_events or memory.growth_bytes > STEEP_GROWTH_FRACTION * memory.peak_bytes:
        return RiskLevel.HIGH
    if coverage < 0.5 or cpu_shortfall > CPU_SHORTFALL_RISK_FRACTION or memory.growth_bytes > 0:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def confidence_features_of(window: UsageHistory, proposed: ContainerRecommendation) -> stats.FloatArray:
    """The confidence model's features of a window and the values proposed from it."""
    proposal = confidence_features.Proposal(
        cpu_request_cores=proposed.cpu_request_cores,
        memory_request_bytes=proposed.memory_request_bytes,
        memory_limit_bytes=proposed.memory_limit_bytes,
    )
    return confidence_features.features(
        window.ts_s,
        window.cpu_cores,
        window.memory_bytes,
        len(window.oom_events),
        proposal,
        cpu_sorted=window.cpu_sorted,
        memory_sorted=window.memory_sorted,
    )
