"""The anomaly benchmark's generator and scores."""

from __future__ import annotations

import numpy as np
import pytest

from kcost.ml import anomaly_bench
from kcost.ml.anomaly import Method
from kcost.ml.anomaly_bench import Kind, Score, Usage


def usage(seed: int = 3) -> Usage:
    rng = np.random.default_rng(seed)
    ts_s = np.arange(0.0, 10 * 86400.0, 300.0, dtype=np.float64)
    return Usage(ts_s, 0.5 + rng.normal(0, 0.02, ts_s.size), 2.0**30 + rng.normal(0, 2.0**24, ts_s.size))


@pytest.mark.parametrize("kind", list(Kind))
def test_an_injection_changes_only_its_span_and_is_seeded(kind: Kind) -> None:
    clean = usage()
    first = anomaly_bench.inject(clean, kind, np.random.default_rng(5))
    again = anomaly_bench.inject(clean, kind, np.random.default_rng(5))
    assert (first.start_s, first.end_s) == (again.start_s, again.end_s)
    assert first.start_s >= clean.ts_s[0] + anomaly_bench.WARMUP_S
    outside = (clean.ts_s < first.start_s) | (clean.ts_s >= first.end_s)
    changed = (first.usage.cpu_cores != clean.cpu_cores) | (first.usage.memory_bytes != clean.memory_bytes)
    assert changed.any()
    assert not changed[outside].any()


def test_truth_marks_the_hours_the_span_touches() -> None:
    case = anomaly_bench.Injected(usage(), Kind.SPIKE, 3600.0 * 5 + 600.0, 3600.0 * 7 + 60.0)
    truth = case.truth(np.arange(0.0, 10 * 3600.0, 3600.0, dtype=np.float64))
    assert truth.nonzero()[0].tolist() == [5, 6, 7]


def test_scores_count_windows() -> None:
    score = Score()
    score.add(np.array([True, True, False, False]), np.array([True, False, True, False]))
    assert (score.tp, score.fp, score.fn) == (1, 1, 1)
    assert score.precision == score.recall == score.f1 == 0.5
    assert Score().f1 == 0.0


def test_both_methods_find_injected_spikes_and_the_verdict_names_the_default() -> None:
    cases = anomaly_bench.cases([usage(seed) for seed in range(3)], seed=1)
    reports = anomaly_bench.evaluate(cases, list(Method), seed=1)
    for report in reports:
        assert report.by_kind[Kind.SPIKE].recall >= 0.9, report.method
        assert report.clean_false_alarm_windows == 0, report.method
    baseline = next(r for r in reports if r.method is Method.ROBUST_Z)
    assert baseline.by_kind[Kind.DROP].recall >= 0.9
    assert "(default: robust-z)" in anomaly_bench.verdict(reports)
