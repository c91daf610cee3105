"""Anomalies injected into real usage, and how well each method finds them (``kcost bench anomaly``).

The generator takes one real series (CPU cores and memory bytes at the trace's own
interval) and adds one anomaly of a kind at a random start, seeded. Its size is relative
to the series' own scale (the 90th percentile of its hourly levels, so a quiet VM gets a
small absolute anomaly and a busy one a large one):

- ``spike``: CPU rises by 3–6 × its scale for 1–3 hours;
- ``level-shift``: CPU rises by 1–2 × its scale for 1–3 days and stays there until it ends;
- ``leak``: memory grows linearly by up to 1–2 × its scale over 1–3 days, then falls back (a restart);
- ``drop``: CPU and memory fall to 5% of their value for 6–24 hours (a crash loop, a lost backend).

The truth is per hourly window: a window is anomalous when its hour overlaps the
injected span. Every series is also scored clean (without injection), so the false
alarms of normal usage count against precision. Scores are precision, recall and F1 over
windows, per kind and overall.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from kcost.ml import anomaly
from kcost.ml.anomaly import BoolArray, FloatArray, HourlyUsage, Method


class Kind(enum.StrEnum):
    SPIKE = "spike"
    LEVEL_SHIFT = "level-shift"
    LEAK = "leak"
    DROP = "drop"


DROP_FACTOR = 0.05
# Anomalies start after the first two days, so every method has some normal history first.
WARMUP_S = 2 * 86400.0


@dataclass(frozen=True)
class Usage:
    """One series: sample times and the two resources."""

    ts_s: FloatArray
    cpu_cores: FloatArray
    memory_bytes: FloatArray

    def hourly(self) -> HourlyUsage:
        return anomaly.hourly(self.ts_s, self.cpu_cores, self.memory_bytes)


@dataclass(frozen=True)
class Injected:
    """A series with one anomaly, and the hourly windows it touches."""

    usage: Usage
    kind: Kind | None
    start_s: float
    end_s: float

    def truth(self, window_start_s: FloatArray) -> BoolArray:
        if self.kind is None:
            return np.zeros(window_start_s.shape, dtype=np.bool_)
        return (window_start_s + anomaly.HOUR_S > self.start_s) & (window_start_s < self.end_s)


def _scale(values: FloatArray, ts_s: FloatArray) -> float:
    levels = anomaly.hourly(ts_s, values).levels[:, 0]
    return max(float(np.percentile(levels, 90)), 1e-9)


def inject(usage: Usage, kind: Kind, rng: np.random.Generator) -> Injected:
    """``usage`` with one anomaly of ``kind`` at a random place (see the module's docstring)."""
    hours = {
        Kind.SPIKE: rng.uniform(1, 3),
        Kind.LEVEL_SHIFT: rng.uniform(24, 72),
        Kind.LEAK: rng.uniform(24, 72),
        Kind.DROP: rng.uniform(6, 24),
    }[kind]
    first, last = float(usage.ts_s[0]) + WARMUP_S, float(usage.ts_s[-1]) - hours * anomaly.HOUR_S
    start_s = float(rng.uniform(first, max(first, last)))
    end_s = start_s + hours * anomaly.HOUR_S
    inside = (usage.ts_s >= start_s) & (usage.ts_s < end_s)
    cpu, memory = usage.cpu_cores.copy(), usage.memory_bytes.copy()
    if kind is Kind.SPIKE:
        cpu[inside] += rng.uniform(3, 6) * _scale(usage.cpu_cores, usage.ts_s)
    elif kind is Kind.LEVEL_SHIFT:
        cpu[inside] += rng.uniform(1, 2) * _scale(usage.cpu_cores, usage.ts_s)
    elif kind is Kind.LEAK:
        growth = (usage.ts_s[inside] - start_s) / (end_s - start_s)
        memory[inside] += growth * rng.uniform(1, 2) * _scale(usage.memory_bytes, usage.ts_s)
    else:
        cpu[inside] *= DROP_FACTOR
        memory[inside] *= DROP_FACTOR
    return Injected(Usage(usage.ts_s, cpu, memory), kind, start_s, end_s)


def cases(series: Iterable[Usage], seed: int) -> list[Injected]:
    """Each series clean, then once with each kind of anomaly."""
    rng = np.random.default_rng(seed)
    found: list[Injected] = []
    for usage in series:
        found.append(Injected(usage, None, 0.0, 0.0))
        found.extend(inject(usage, kind, rng) for kind in Kind)
    return found


@dataclass
class Score:
    """Window counts: true positives, false positives, false negatives."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: BoolArray, truth: BoolArray) -> None:
        self.tp += int((predicted & truth).sum())
        self.fp += int((predicted & ~truth).sum())
        self.fn += int((~predicted & truth).sum())

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class MethodReport:
    """One method's scores by kind (the clean series count in ``overall`` only) and its time per series."""

    method: Method
    by_kind: dict[Kind, Score] = field(default_factory=lambda: {kind: Score() for kind in Kind})
    overall: Score = field(default_factory=Score)
    clean_false_alarm_windows: int = 0
    seconds_per_series: float = 0.0


def evaluate(injected: list[Injected], methods: Iterable[Method], seed: int) -> list[MethodReport]:
    """Score every method on every case."""
    reports = []
    for method in methods:
        report = MethodReport(method)
        started = time.perf_counter()
        for case in injected:
            usage = case.usage.hourly()
            predicted = anomaly.detect(usage, method, seed).anomalous
            truth = case.truth(usage.start_s)
            report.overall.add(predicted, truth)
            if case.kind is None:
                report.clean_false_alarm_windows += int(predicted.sum())
            else:
                report.by_kind[case.kind].add(predicted, truth)
        report.seconds_per_series = (time.perf_counter() - started) / max(len(injected), 1)
        reports.append(report)
    return reports


def verdict(reports: list[MethodReport]) -> str:
    """Which method wins on overall F1, and whether that matches the default."""
    best = max(reports, key=lambda report: report.overall.f1)
    baseline = next(r for r in reports if r.method is Method.ROBUST_Z)
    if best.method is Method.ROBUST_Z or best.overall.f1 <= baseline.overall.f1:
        outcome = "the model does not beat the robust z-score baseline: the baseline stays the default"
    else:
        gain = best.overall.f1 - baseline.overall.f1
        slower = best.seconds_per_series / max(baseline.seconds_per_series, 1e-9)
        outcome = f"{best.method.value} beats the baseline by {gain:.3f} F1 at {slower:.0f}× its time per series"
    return f"{outcome} (default: {anomaly.DEFAULT_METHOD.value})"
