"""Backtests for the confidence model: what kcost proposed on a window, and whether it held after.

Each series of a trace is cut many times (several training lengths, start offsets a
few days apart); for each cut the kcost strategy proposes values from the training
days, the features describe that history and proposal, and the label says whether the
values held over the evaluation days (``kcost.ml.confidence.held``). The workloads are
split, by a hash of their name and the seed, into those the model is fitted on and
those it is judged on, so no workload is on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kcost.analyzers.rightsizing import quality, stats
from kcost.analyzers.rightsizing.adaptive import AdaptiveStrategy, confidence_features_of
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation
from kcost.analyzers.rightsizing.traces import TraceSeries
from kcost.ml import artifacts, confidence, confidence_features

TRAIN_DAYS = (2.0, 4.0, 7.0, 10.0, 14.0)
EVAL_DAYS = 14.0
OFFSET_STEP_DAYS = 2.0
# One workload in this many is held out of fitting, to judge the calibration on.
HELD_OUT_ONE_IN = 3


@dataclass(frozen=True)
class Backtest:
    """One cut of one series: the features at proposal time and whether the proposal held."""

    vm: str
    features: confidence_features.FloatArray
    held: bool


def is_held_out(vm: str, seed: int) -> bool:
    """Whether workload ``vm`` is kept out of fitting for ``seed`` (a stable hash, not Python's)."""
    digest = hashlib.sha256(f"{seed}/{vm}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HELD_OUT_ONE_IN == 0


def backtest(strategy: AdaptiveStrategy, cut: quality.Split) -> Backtest | None:
    """The backtest of one cut; None when the strategy has not enough data."""
    proposed = strategy.propose(cut.train)
    if not isinstance(proposed, ContainerRecommendation):
        return None
    proposal = confidence_features.Proposal(
        proposed.cpu_request_cores, proposed.memory_request_bytes, proposed.memory_limit_bytes
    )
    window = cut.train.last(strategy.settings.history_days * stats.DAY_S)
    outcome = confidence.held(cut.eval_cpu_cores, cut.eval_memory_bytes, proposal)
    return Backtest(vm=cut.vm, features=confidence_features_of(window, proposed), held=outcome)


def cuts(
    series: TraceSeries, train_days: Iterable[float], eval_days: float, offset_step_days: float
) -> list[quality.Split]:
    """Every cut of ``series`` for each training length, at offsets ``offset_step_days`` apart."""
    found = []
    for days in train_days:
        offset = 0.0
        while (cut := quality.split(series, days, eval_days, offset)) is not None:
            found.append(cut)
            offset += offset_step_days
    return found


def backtests(
    series: Iterable[TraceSeries],
    strategy: AdaptiveStrategy,
    *,
    train_days: Iterable[float] = TRAIN_DAYS,
    eval_days: float = EVAL_DAYS,
    offset_step_days: float = OFFSET_STEP_DAYS,
) -> list[Backtest]:
    """The backtests of every cut of every series."""
    lengths = tuple(train_days)
    found = (backtest(strategy, cut) for one in series for cut in cuts(one, lengths, eval_days, offset_step_days))
    return [result for result in found if result is not None]


def matrix(results: list[Backtest]) -> tuple[confidence_features.FloatArray, np.ndarray, np.ndarray]:
    """Features (one row per backtest), labels, and the workload of each row."""
    rows = np.array([result.features for result in results], dtype=np.float64).reshape(
        -1, len(confidence_features.FEATURES)
    )
    labels = np.array([result.held for result in results], dtype=np.bool_)
    return rows, labels, np.array([result.vm for result in results], dtype=np.str_)


def train(
    series_by_vm: Mapping[str, TraceSeries], *, seed: int, source: str
) -> tuple[confidence.ConfidenceModel, dict[str, Any]]:
    """Fit the confidence model on the workloads not held out; metrics on the held-out ones."""
    strategy = AdaptiveStrategy(AdaptiveStrategy.settings_model())
    fitted_on = sorted(vm for vm in series_by_vm if not is_held_out(vm, seed))
    judged_on = sorted(vm for vm in series_by_vm if is_held_out(vm, seed))
    rows, labels, workloads = matrix(backtests((series_by_vm[vm] for vm in fitted_on), strategy))
    model = confidence.fit(rows, labels, workloads, seed=seed)
    held_out_rows, held_out_labels, _ = matrix(backtests((series_by_vm[vm] for vm in judged_on), strategy))
    report = confidence.calibration(model.estimate_many(held_out_rows), held_out_labels)
    metadata = {
        "trained_from": source,
        "seed": seed,
        "training_data_sha256": artifacts.data_hash(rows, labels),
        "training_rows": len(labels),
        "training_share_held": round(float(labels.mean()), 3),
        "training_workloads": fitted_on,
        "features": list(confidence_features.FEATURES),
        "label": {
            "eval_days": EVAL_DAYS,
            "cpu_shortfall_threshold": confidence.CPU_SHORTFALL_THRESHOLD,
            "memory_pressure_threshold": confidence.MEMORY_PRESSURE_THRESHOLD,
        },
        "cuts": {"train_days": list(TRAIN_DAYS), "offset_step_days": OFFSET_STEP_DAYS},
        "calibration": {
            "method": "isotonic on out-of-fold decisions, each level lowered to its Wilson lower bound",
            "lower_bound_quantile": confidence.LOWER_BOUND_QUANTILE,
        },
        "metrics_held_out": {"workloads": len(judged_on), "rows": len(held_out_labels), **report},
    }
    return model, metadata


def held_out_calibration(
    series_by_vm: Mapping[str, TraceSeries], strategy: AdaptiveStrategy, *, train_days: float, eval_days: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The shipped model's calibration on the workloads it was not fitted on, cut every day, and what it was
    judged on (workloads, cuts, and how many cuts above 10% CPU shortfall still had confidence >= 0.9)."""
    fitted_on = confidence.trained_on()
    judged = [series for vm, series in series_by_vm.items() if vm not in fitted_on]
    estimates, outcomes, missed = [], [], 0
    for cut in (cut for one in judged for cut in cuts(one, (train_days,), eval_days, 1.0)):
        proposed = strategy.recommend(cut.train)
        if not isinstance(proposed, ContainerRecommendation):
            continue
        proposal = confidence_features.Proposal(
            proposed.cpu_request_cores, proposed.memory_request_bytes, proposed.memory_limit_bytes
        )
        estimates.append(proposed.confidence)
        outcomes.append(confidence.held(cut.eval_cpu_cores, cut.eval_memory_bytes, proposal))
        shortfall = float(np.mean(cut.eval_cpu_cores > proposed.cpu_request_cores))
        missed += shortfall > 0.10 and proposed.confidence >= confidence.LOW_RISK_FROM
    report = confidence.calibration(np.array(estimates, dtype=np.float64), np.array(outcomes, dtype=np.bool_))
    scope = {
        "workloads": len(judged),
        "cuts": len(estimates),
        "cuts_over_10pct_cpu_shortfall_at_confidence_ge_0_9": missed,
    }
    return report, scope
