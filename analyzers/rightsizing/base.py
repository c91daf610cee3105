"""The strategy plugin: a name, a settings model, and ``recommend(history)``.

A subclass only turns a window of usage into raw values (``Sizing``); the base class
cuts the window, rounds every value up to its step, applies the floors and ceilings
and gathers the evidence, so all strategies are formatted alike and compared fairly.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import (
    ContainerRecommendation,
    Evidence,
    NotEnoughData,
    Recommendation,
)
from kcost.api.units import GIB, MIB
from kcost.api.v1alpha1.recommendation import RiskLevel


class StrategySettings(BaseModel):
    """Settings every strategy has: the history it reads, rounding steps, floors and ceilings."""

    # camelCase in an Analysis like every other setting; the Python names work too (tests, bench).
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    history_days: float = Field(14, gt=0, le=365, description="Days of history read, back from the last sample.")
    cpu_step_millicores: int = Field(5, ge=1, le=1000, description="CPU values are rounded up to this step.")
    memory_step_mib: int = Field(1, ge=1, le=1024, description="Memory values are rounded up to this step.")
    cpu_min_cores: float = Field(0.01, ge=0, le=64, description="Floor of the CPU request.")
    memory_min_mib: float = Field(64, ge=0, le=65536, description="Floor of the memory request.")
    cpu_max_cores: float = Field(64, gt=0, le=1024, description="Ceiling of CPU requests and limits.")
    memory_max_gib: float = Field(256, gt=0, le=4096, description="Ceiling of memory requests and limits.")


SettingsT = TypeVar("SettingsT", bound=StrategySettings)


@dataclass(frozen=True)
class Sizing:
    """A strategy's raw answer, before rounding and clamping."""

    cpu_request_cores: float
    cpu_limit_cores: float | None
    memory_request_bytes: float
    memory_limit_bytes: float | None
    confidence: float
    risk_level: RiskLevel
    method: str
    notes: tuple[str, ...] = ()


class Strategy(abc.ABC, Generic[SettingsT]):
    """A right-sizing algorithm. Subclasses set ``name`` and ``settings_model`` and implement ``size``."""

    name: ClassVar[str]
    settings_model: ClassVar[type[StrategySettings]]

    def __init__(self, settings: SettingsT) -> None:
        self.settings = settings

    def recommend(self, history: UsageHistory) -> Recommendation:
        """Recommend requests and limits from the last ``history_days`` of ``history``."""
        window = history.last(self.settings.history_days * stats.DAY_S)
        if window.sample_count == 0:
            return NotEnoughData(reason="no samples", sample_count=0, history_hours=0.0)
        sizing = self.size(window)
        if isinstance(sizing, NotEnoughData):
            return sizing
        return finalize(sizing, window, self.settings)

    def recommend_many(self, histories: Sequence[UsageHistory]) -> list[Recommendation]:
        """``recommend`` of each history, in order; a strategy with a model overrides it to score them together."""
        return [self.recommend(history) for history in histories]

    @abc.abstractmethod
    def size(self, window: UsageHistory) -> Sizing | NotEnoughData:
        """Raw values from a non-empty window (rounding and floors are applied afterwards)."""


def round_up(value: float, step: float) -> float:
    """``value`` rounded up to a multiple of ``step``; a value already on a step stays (despite float noise)."""
    return math.ceil(round(value / step, 6)) * step


def finalize(sizing: Sizing, window: UsageHistory, settings: StrategySettings) -> ContainerRecommendation:
    """Round every value up to its step, clamp it to the floors and ceilings, and attach the evidence."""
    cpu_step = settings.cpu_step_millicores / 1000
    memory_step = settings.memory_step_mib * MIB
    cpu_max = settings.cpu_max_cores
    memory_max = settings.memory_max_gib * GIB

    def cpu(value: float) -> float:
        return round(min(max(round_up(value, cpu_step), settings.cpu_min_cores), cpu_max), 6)

    def memory(value: float) -> float:
        return float(min(max(round_up(value, memory_step), settings.memory_min_mib * MIB), memory_max))

    cpu_request = cpu(sizing.cpu_request_cores)
    memory_request = memory(sizing.memory_request_bytes)
    # A limit below the request is invalid in Kubernetes: lift it to the request.
    cpu_limit = None if sizing.cpu_limit_cores is None else max(cpu(sizing.cpu_limit_cores), cpu_request)
    memory_limit = None if sizing.memory_limit_bytes is None else max(memory(sizing.memory_limit_bytes), memory_request)
    return ContainerRecommendation(
        cpu_request_cores=cpu_request,
        cpu_limit_cores=cpu_limit,
        memory_request_bytes=memory_request,
        memory_limit_bytes=memory_limit,
        confidence=min(max(sizing.confidence, 0.0), 1.0),
        risk_level=sizing.risk_level,
        evidence=evidence(window, sizing.method, sizing.notes),
    )


def evidence(window: UsageHistory, method: str, notes: tuple[str, ...] = ()) -> Evidence:
    """Usage statistics of a non-empty window."""
    return Evidence(
        sample_count=window.sample_count,
        window_start_s=float(window.ts_s[0]),
        window_end_s=float(window.ts_s[-1]),
        cpu_cores=stats.usage_stats_of_sorted(window.cpu_sorted, float(window.cpu_cores.max())),
        memory_bytes=stats.usage_stats_of_sorted(window.memory_sorted, float(window.memory_bytes.max())),
        cpu_peak_at_s=float(window.ts_s[int(np.argmax(window.cpu_cores))]),
        memory_peak_at_s=float(window.ts_s[int(np.argmax(window.memory_bytes))]),
        oom_events=len(window.oom_events),
        method=method,
        notes=notes,
    )


def replay_risk(
    window: UsageHistory, memory_request_bytes: float, memory_limit_bytes: float | None, confidence: float
) -> RiskLevel:
    """How values would have fared on their own window: high if they would have been OOM-killed,
    medium if memory went above the request or the history is short, low otherwise."""
    peak_bytes = float(window.memory_bytes.max())
    if memory_limit_bytes is not None and peak_bytes > memory_limit_bytes:
        return RiskLevel.HIGH
    if peak_bytes > memory_request_bytes or confidence < 0.5:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW
