"""The right-sizing quality benchmark: recommend on training days, score on the days after.

Each series is split at its own first sample ``t0``: training ``[t0, t0 + train)``,
evaluation ``[t0 + train, t0 + train + eval)``. A series that does not reach the end of
the evaluation window (within one sampling interval) is skipped and counted. Every
strategy recommends from the training window; ``current`` keeps what the VM was
provisioned with (the largest provisioned value in training, since a VM that is off
reports 0), and so does a strategy that answers "not enough data" for a series.

Scores over the evaluation window, summed or pooled over the series:

- ``cost_usd``: requests × window length × unit rates (CPU and memory requests; OpenCost's
  default on-demand rates unless told otherwise);
- ``cpu_shortfall_pct``: share of samples whose CPU use is above the CPU request;
- ``mem_pressure_pct``: share of samples whose memory use is above the memory request;
- ``oom_count``: series whose memory peak is above the memory limit (none without a limit);
- ``cpu_slack_core_hours`` / ``mem_slack_gib_hours``: request minus use where positive,
  each sample standing for the time until the next one (at most one usual interval);
- ``per_workload``: p50 / p95 / max over the series of each one's CPU shortfall and memory
  pressure, and the share of series above 10% CPU shortfall (the tail the pooled shares hide).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kcost.analyzers.cost.model import DEFAULT_ON_DEMAND, UnitRates
from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.base import Strategy
from kcost.analyzers.rightsizing.history import CurrentResources, UsageHistory
from kcost.analyzers.rightsizing.recommendation import NotEnoughData
from kcost.analyzers.rightsizing.traces import TraceSeries
from kcost.api.units import GIB

CURRENT = "current"
OURS = "kcost"
REFERENCES = ("vpa", "krr-simple")


@dataclass(frozen=True)
class Allocation:
    """What a series runs with during the evaluation window."""

    cpu_request_cores: float
    memory_request_bytes: float
    memory_limit_bytes: float | None


@dataclass(frozen=True)
class Split:
    """One series cut into its training history and its evaluation samples."""

    vm: str
    train: UsageHistory
    eval_ts_s: stats.FloatArray
    eval_cpu_cores: stats.FloatArray
    eval_memory_bytes: stats.FloatArray
    eval_end_s: float
    current: Allocation


@dataclass
class StrategyScore:
    """The running totals of one strategy over the scored series."""

    series: int = 0
    not_enough_data: int = 0
    cost_usd: float = 0.0
    eval_samples: int = 0
    cpu_samples_over_request: int = 0
    memory_samples_over_request: int = 0
    oom_count: int = 0
    cpu_slack_core_hours: float = 0.0
    mem_slack_gib_hours: float = 0.0
    # Per series, in percent of its evaluation samples: the tail the pooled figures hide.
    series_cpu_shortfall_pct: list[float] = field(default_factory=list)
    series_mem_pressure_pct: list[float] = field(default_factory=list)

    @property
    def cpu_shortfall_pct(self) -> float:
        return 100 * self.cpu_samples_over_request / self.eval_samples if self.eval_samples else 0.0

    @property
    def mem_pressure_pct(self) -> float:
        return 100 * self.memory_samples_over_request / self.eval_samples if self.eval_samples else 0.0

    def add(self, split: Split, allocation: Allocation, eval_hours: float, rates: UnitRates) -> None:
        """Score one series run with ``allocation`` over its evaluation window."""
        self.series += 1
        self.cost_usd += eval_hours * (
            allocation.cpu_request_cores * rates.cpu_core_hour
            + allocation.memory_request_bytes / GIB * rates.memory_gib_hour
        )
        self.eval_samples += split.eval_ts_s.size
        cpu_over = int((split.eval_cpu_cores > allocation.cpu_request_cores).sum())
        memory_over = int((split.eval_memory_bytes > allocation.memory_request_bytes).sum())
        self.cpu_samples_over_request += cpu_over
        self.memory_samples_over_request += memory_over
        self.series_cpu_shortfall_pct.append(100 * cpu_over / split.eval_ts_s.size)
        self.series_mem_pressure_pct.append(100 * memory_over / split.eval_ts_s.size)
        limit = allocation.memory_limit_bytes
        if limit is not None and float(split.eval_memory_bytes.max()) > limit:
            self.oom_count += 1
        hours = stats.sample_intervals_s(split.eval_ts_s, end_s=split.eval_end_s) / stats.HOUR_S
        cpu_slack = np.maximum(allocation.cpu_request_cores - split.eval_cpu_cores, 0.0)
        memory_slack = np.maximum(allocation.memory_request_bytes - split.eval_memory_bytes, 0.0) / GIB
        self.cpu_slack_core_hours += float((cpu_slack * hours).sum())
        self.mem_slack_gib_hours += float((memory_slack * hours).sum())

    def to_json(self) -> dict[str, Any]:
        return {
            "cost_usd": round(self.cost_usd, 2),
            "cpu_shortfall_pct": round(self.cpu_shortfall_pct, 2),
            "mem_pressure_pct": round(self.mem_pressure_pct, 2),
            "oom_count": self.oom_count,
            "cpu_slack_core_hours": round(self.cpu_slack_core_hours, 1),
            "mem_slack_gib_hours": round(self.mem_slack_gib_hours, 1),
            "series": self.series,
            "not_enough_data": self.not_enough_data,
            "per_workload": {
                "cpu_shortfall_pct": _distribution(self.series_cpu_shortfall_pct),
                "mem_pressure_pct": _distribution(self.series_mem_pressure_pct),
                "share_over_10pct_cpu_shortfall": round(
                    float(np.mean(np.array(self.series_cpu_shortfall_pct) > 10)) if self.series else 0.0, 3
                ),
            },
        }


def _distribution(values: list[float]) -> dict[str, float]:
    """p50, p95 and max of per-series figures (zeros when there are none)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "max": round(max(values), 2)}


@dataclass
class QualityReport:
    """Scores by strategy (``current`` first), and how many series could not be scored."""

    train_days: float
    eval_days: float
    series_total: int
    skipped_series: int
    scores: dict[str, StrategyScore] = field(default_factory=dict)

    def versus_references(self) -> dict[str, float | None]:
        """kcost against the better reference for each figure: cost and OOM ratios, and the differences in points."""
        if OURS not in self.scores or not all(name in self.scores for name in REFERENCES):
            return {}
        ours = self.scores[OURS]
        references = [self.scores[name] for name in REFERENCES]
        cheapest_usd = min(score.cost_usd for score in references)
        fewest_ooms = min(score.oom_count for score in references)
        return {
            "cost_ratio": round(ours.cost_usd / cheapest_usd, 3) if cheapest_usd else None,
            "oom_ratio": round(ours.oom_count / fewest_ooms, 3) if fewest_ooms else None,
            "cpu_shortfall_pct_delta": round(
                ours.cpu_shortfall_pct - min(score.cpu_shortfall_pct for score in references), 2
            ),
            "mem_pressure_pct_delta": round(
                ours.mem_pressure_pct - min(score.mem_pressure_pct for score in references), 2
            ),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "train_days": self.train_days,
            "eval_days": self.eval_days,
            "series_total": self.series_total,
            "skipped_series": self.skipped_series,
            "strategies": {name: score.to_json() for name, score in self.scores.items()},
            "kcost_vs_best_reference": self.versus_references(),
        }


def split(series: TraceSeries, train_days: float, eval_days: float, offset_days: float = 0.0) -> Split | None:
    """Cut a series ``offset_days`` after its own first sample; None when it does not cover both windows."""
    if series.ts_s.size == 0:
        return None
    start_s = float(series.ts_s[0]) + offset_days * stats.DAY_S
    eval_start_s = start_s + train_days * stats.DAY_S
    eval_end_s = eval_start_s + eval_days * stats.DAY_S
    usual_interval_s = stats.median_interval_s(series.ts_s)
    if float(series.ts_s[-1]) < eval_end_s - usual_interval_s:
        return None
    train_start = int(np.searchsorted(series.ts_s, start_s, side="left"))
    train_end = int(np.searchsorted(series.ts_s, eval_start_s, side="left"))
    eval_end = int(np.searchsorted(series.ts_s, eval_end_s, side="left"))
    if train_end == train_start or eval_end <= train_end:
        return None
    train = slice(train_start, train_end)
    evaluation = slice(train_end, eval_end)
    cpu_provisioned = float(series.cpu_provisioned_cores[train].max())
    memory_provisioned = float(series.memory_provisioned_bytes[train].max())
    return Split(
        vm=series.vm,
        train=UsageHistory(
            ts_s=series.ts_s[train],
            cpu_cores=series.cpu_cores[train],
            memory_bytes=series.memory_bytes[train],
            current=CurrentResources(
                cpu_request_cores=cpu_provisioned,
                memory_request_bytes=memory_provisioned,
                memory_limit_bytes=memory_provisioned,
            ),
        ),
        eval_ts_s=series.ts_s[evaluation],
        eval_cpu_cores=series.cpu_cores[evaluation],
        eval_memory_bytes=series.memory_bytes[evaluation],
        eval_end_s=eval_end_s,
        current=Allocation(cpu_provisioned, memory_provisioned, memory_provisioned),
    )


def allocation(strategy: Strategy[Any], split: Split) -> Allocation | None:
    """The strategy's values for a series; None when it has not enough data."""
    recommendation = strategy.recommend(split.train)
    if isinstance(recommendation, NotEnoughData):
        return None
    return Allocation(
        cpu_request_cores=recommendation.cpu_request_cores,
        memory_request_bytes=recommendation.memory_request_bytes,
        memory_limit_bytes=recommendation.memory_limit_bytes,
    )


def evaluate(
    series_by_vm: Mapping[str, TraceSeries],
    strategies: Mapping[str, Strategy[Any]],
    *,
    train_days: float = 14,
    eval_days: float = 14,
    rates: UnitRates = DEFAULT_ON_DEMAND,
) -> QualityReport:
    """Score ``current`` and every strategy on every series that covers both windows."""
    report = QualityReport(train_days, eval_days, series_total=len(series_by_vm), skipped_series=0)
    report.scores = {CURRENT: StrategyScore(), **{name: StrategyScore() for name in strategies}}
    eval_hours = eval_days * 24
    for series in series_by_vm.values():
        cut = split(series, train_days, eval_days)
        if cut is None:
            report.skipped_series += 1
            continue
        report.scores[CURRENT].add(cut, cut.current, eval_hours, rates)
        for name, strategy in strategies.items():
            proposed = allocation(strategy, cut)
            if proposed is None:
                report.scores[name].not_enough_data += 1
            report.scores[name].add(cut, proposed or cut.current, eval_hours, rates)
    return report
