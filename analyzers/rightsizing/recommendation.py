"""What a strategy answers for one container: a recommendation with evidence, or "not enough data"."""

from __future__ import annotations

from dataclasses import dataclass

from kcost.api.v1alpha1.recommendation import RiskLevel, UsageStats, WorkloadClass


@dataclass(frozen=True)
class Evidence:
    """What the numbers rest on: the window, its usage statistics, and how they were turned into values."""

    sample_count: int
    window_start_s: float
    window_end_s: float
    cpu_cores: UsageStats
    memory_bytes: UsageStats
    cpu_peak_at_s: float
    memory_peak_at_s: float
    oom_events: int
    method: str
    notes: tuple[str, ...] = ()
    workload_class: WorkloadClass | None = None


@dataclass(frozen=True)
class ContainerRecommendation:
    """Requests and limits for one container, rounded to steps and clamped to the strategy's floors and ceilings."""

    cpu_request_cores: float
    cpu_limit_cores: float | None
    memory_request_bytes: float
    memory_limit_bytes: float | None
    confidence: float
    risk_level: RiskLevel
    evidence: Evidence


@dataclass(frozen=True)
class NotEnoughData:
    """No recommendation, and why: a result, not an error."""

    reason: str
    sample_count: int
    history_hours: float


Recommendation = ContainerRecommendation | NotEnoughData
