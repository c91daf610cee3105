"""The churn replay: how often a strategy's proposal for a workload moves when it runs every day.

Each series is replayed as ``runs`` daily runs: run ``k`` sees the usage up to
``t0 + train_days + k`` days (each run's window ends a day later). kcost is taken to run in
auto-apply mode: the first run's proposal is the initial right-sizing (applied, not churn);
after it, a proposal is rolled out when the default auto-approval allows its size
(``AutoApprove.max_change_percent``), else it stays open for a person. Per workload:

- ``changes``: runs after the first whose wanted values (the open proposal, or the current
  values when nothing is proposed) differ from the previous run's, in the units a
  recommendation is written in (whole millicores and MiB);
- ``applied``: of those, the ones rolled out (each is a rollout of the workload).

With a hysteresis band (``contract.hysteresis``), a fresh answer inside the band around the
current values is not proposed, and one inside the band around the open proposal leaves it
as it is. The values in effect after each run are scored on the day after it, as ``bench
quality`` scores its evaluation window: requests × 24 h at on-demand rates, and the share of
samples above the requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kcost.analyzers.contract import hysteresis
from kcost.analyzers.cost.model import DEFAULT_ON_DEMAND, UnitRates, monthly_request_cost
from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.base import Strategy
from kcost.analyzers.rightsizing.history import CurrentResources, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation
from kcost.analyzers.rightsizing.traces import TraceSeries
from kcost.api.units import GIB, MIB
from kcost.api.v1alpha1.policy import AutoApprove, Hysteresis
from kcost.api.v1alpha1.recommendation import ContainerResources, ResourceValues, WorkloadShape

DAILY_RUNS = 14


@dataclass(frozen=True)
class Values:
    """A container's requests and memory limit as a recommendation writes them."""

    cpu_millicores: int
    memory_mib: int
    memory_limit_mib: int | None

    @classmethod
    def of(cls, cpu_cores: float, memory_bytes: float, memory_limit_bytes: float | None) -> Values:
        return cls(
            max(1, round(cpu_cores * 1000)),
            max(1, round(memory_bytes / MIB)),
            None if memory_limit_bytes is None else max(1, round(memory_limit_bytes / MIB)),
        )

    @property
    def cpu_cores(self) -> float:
        return self.cpu_millicores / 1000

    @property
    def memory_bytes(self) -> float:
        return self.memory_mib * MIB

    def shape(self) -> WorkloadShape:
        limit = None if self.memory_limit_mib is None else f"{self.memory_limit_mib}Mi"
        return WorkloadShape(
            containers=[
                ContainerResources(
                    name="main",
                    requests=ResourceValues(cpu=f"{self.cpu_millicores}m", memory=f"{self.memory_mib}Mi"),
                    limits=ResourceValues(memory=limit),
                )
            ]
        )

    def monthly_cost_usd(self, rates: UnitRates) -> float:
        return monthly_request_cost(self.cpu_cores, self.memory_bytes, 1, rates)

    def current(self) -> CurrentResources:
        limit = None if self.memory_limit_mib is None else self.memory_limit_mib * MIB
        return CurrentResources(self.cpu_cores, None, self.memory_bytes, limit)


@dataclass
class Replay:
    """One strategy's replay: changes and rollouts per workload, and what its values cost the day after each run."""

    changes: list[int] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    cost_usd: float = 0.0
    samples: int = 0
    cpu_samples_over_request: int = 0
    memory_samples_over_request: int = 0

    def to_json(self) -> dict[str, Any]:
        def percentiles(counts: list[int]) -> dict[str, float]:
            values = np.array(counts or [0], dtype=float)
            return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95))}

        share = 100 / self.samples if self.samples else 0.0
        return {
            "workloads": len(self.changes),
            "changes": percentiles(self.changes),
            "applied": percentiles(self.applied),
            "cost_usd": round(self.cost_usd, 2),
            "cpu_shortfall_pct": round(self.cpu_samples_over_request * share, 2),
            "mem_pressure_pct": round(self.memory_samples_over_request * share, 2),
        }


@dataclass(frozen=True)
class Variant:
    """A strategy, replayed with or without a hysteresis band."""

    strategy: Strategy[Any]
    band: Hysteresis | None = None


@dataclass
class ChurnReport:
    runs: int
    train_days: float
    series_total: int
    skipped_series: int = 0
    replays: dict[str, Replay] = field(default_factory=dict)

    def cost_ratio(self, name: str, references: tuple[str, ...]) -> float | None:
        """``name``'s cost over the cheapest reference's, as ``bench quality`` reports its cost ratio."""
        cheapest = min(self.replays[ref].cost_usd for ref in references)
        return round(self.replays[name].cost_usd / cheapest, 3) if cheapest else None

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "train_days": self.train_days,
            "series_total": self.series_total,
            "skipped_series": self.skipped_series,
            "strategies": {name: replay.to_json() for name, replay in self.replays.items()},
        }


def _wanted(fresh: Values | None, current: Values, open_values: Values | None, band: Hysteresis | None) -> Values:
    """What kcost wants after a run: the fresh answer, unless the band keeps the current or open values."""
    if fresh is None:
        return open_values or current  # not enough data: nothing new is proposed
    if band is None:
        return fresh
    moved_usd = current.monthly_cost_usd(DEFAULT_ON_DEMAND) - fresh.monthly_cost_usd(DEFAULT_ON_DEMAND)
    if hysteresis.inside_band(current.shape(), fresh.shape(), moved_usd, band):
        return current
    if open_values is not None:
        moved_usd = open_values.monthly_cost_usd(DEFAULT_ON_DEMAND) - fresh.monthly_cost_usd(DEFAULT_ON_DEMAND)
        if hysteresis.inside_band(open_values.shape(), fresh.shape(), moved_usd, band):
            return open_values
    return fresh


def _answer(strategy: Strategy[Any], history: UsageHistory) -> Values | None:
    answer = strategy.recommend(history)
    if not isinstance(answer, ContainerRecommendation):
        return None
    return Values.of(answer.cpu_request_cores, answer.memory_request_bytes, answer.memory_limit_bytes)


def replay_series(
    series: TraceSeries, variant: Variant, replay: Replay, *, runs: int, train_days: float, rates: UnitRates
) -> None:
    """Replay one series as ``runs`` daily runs and add its counts and costs to ``replay``."""
    start_s = float(series.ts_s[0])
    provisioned = Values.of(
        float(series.cpu_provisioned_cores.max()),
        float(series.memory_provisioned_bytes.max()),
        float(series.memory_provisioned_bytes.max()),
    )
    current, previous, open_values = provisioned, provisioned, None
    changes = applied = 0
    max_change_percent = AutoApprove().max_change_percent
    for run in range(runs):
        end_s = start_s + (train_days + run) * stats.DAY_S
        seen = int(np.searchsorted(series.ts_s, end_s, side="left"))
        history = UsageHistory(
            series.ts_s[:seen], series.cpu_cores[:seen], series.memory_bytes[:seen], current=current.current()
        )
        wanted = _wanted(_answer(variant.strategy, history), current, open_values, variant.band)
        if run == 0:
            current = wanted  # the initial right-sizing, approved by a person
        elif wanted != previous:
            changes += 1
            if wanted != current and hysteresis.largest_change_percent(current.shape(), wanted.shape()) <= (
                max_change_percent
            ):
                applied += 1
                current = wanted
        open_values = wanted if wanted != current else None
        previous = wanted
        _score_next_day(series, current, end_s, replay, rates)
    replay.changes.append(changes)
    replay.applied.append(applied)


def _score_next_day(series: TraceSeries, values: Values, start_s: float, replay: Replay, rates: UnitRates) -> None:
    first, last = np.searchsorted(series.ts_s, [start_s, start_s + stats.DAY_S], side="left")
    replay.cost_usd += 24 * (values.cpu_cores * rates.cpu_core_hour + values.memory_bytes / GIB * rates.memory_gib_hour)
    replay.samples += int(last - first)
    replay.cpu_samples_over_request += int((series.cpu_cores[first:last] > values.cpu_cores).sum())
    replay.memory_samples_over_request += int((series.memory_bytes[first:last] > values.memory_bytes).sum())


def replay(
    series_by_vm: Mapping[str, TraceSeries],
    variants: Mapping[str, Variant],
    *,
    runs: int = DAILY_RUNS,
    train_days: float = 14,
    rates: UnitRates = DEFAULT_ON_DEMAND,
) -> ChurnReport:
    """Replay every series long enough for the runs and the day after the last one; count the others as skipped."""
    report = ChurnReport(runs, train_days, series_total=len(series_by_vm))
    report.replays = {name: Replay() for name in variants}
    for series in series_by_vm.values():
        needed_s = (train_days + runs) * stats.DAY_S
        if series.ts_s.size == 0 or float(series.ts_s[-1] - series.ts_s[0]) < needed_s - stats.median_interval_s(
            series.ts_s
        ):
            report.skipped_series += 1
            continue
        for name, variant in variants.items():
            replay_series(series, variant, report.replays[name], runs=runs, train_days=train_days, rates=rates)
    return report
