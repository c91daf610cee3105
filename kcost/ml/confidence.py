"""Calibrated confidence: the probability that proposed values hold over their horizon.

"Hold" is the label the model learns, from backtests: over the days after the
proposal, no OOM kill (memory above the limit), CPU use above the request in at most
``CPU_SHORTFALL_THRESHOLD`` of the samples, and memory above the request in at most
``MEMORY_PRESSURE_THRESHOLD``. The model is gradient boosting calibrated by isotonic
regression on out-of-fold predictions (folds by workload), each isotonic level then
lowered to a one-sided lower bound of its share held (Wilson, ``LOWER_BOUND_QUANTILE``,
counting the workloads behind the level): a level learned from few workloads claims less
than its raw share, so a confidence of 0.9
means at least nine proposals in ten held, on workloads the model was not fitted on.
``riskLevel`` is read from the same estimate (``risk_level``).
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kcost.api.v1alpha1.recommendation import RiskLevel
from kcost.ml import artifacts, trees
from kcost.ml.confidence_features import FEATURES, FloatArray, Proposal

CPU_SHORTFALL_THRESHOLD = 0.10
MEMORY_PRESSURE_THRESHOLD = 0.05
# At or above: low risk (what a policy's default minConfidence 0.9 auto-applies); below MEDIUM_FROM: high.
LOW_RISK_FROM = 0.9
MEDIUM_RISK_FROM = 0.7
CALIBRATION_FOLDS = 5


def held(cpu_cores: FloatArray, memory_bytes: FloatArray, proposal: Proposal) -> bool:
    """Whether ``proposal`` held over the samples of its horizon (see the module's docstring)."""
    if cpu_cores.size == 0:
        raise ValueError("no samples to judge the proposal on")
    limit = proposal.memory_limit_bytes
    oom = limit is not None and float(memory_bytes.max()) > limit
    shortfall = float(np.mean(cpu_cores > proposal.cpu_request_cores))
    pressure = float(np.mean(memory_bytes > proposal.memory_request_bytes))
    return not oom and shortfall <= CPU_SHORTFALL_THRESHOLD and pressure <= MEMORY_PRESSURE_THRESHOLD


def risk_level(confidence: float) -> RiskLevel:
    """Low from ``LOW_RISK_FROM``, medium from ``MEDIUM_RISK_FROM``, high below."""
    if confidence >= LOW_RISK_FROM:
        return RiskLevel.LOW
    if confidence >= MEDIUM_RISK_FROM:
        return RiskLevel.MEDIUM
    return RiskLevel.HIGH


# How sure the lower bound of each calibrated level is: 0.8 claims what four fits in five would exceed.
LOWER_BOUND_QUANTILE = 0.95


@dataclass(frozen=True)
class ConfidenceScorer:
    """What scoring needs of a ``ConfidenceModel``, in plain arrays: no scikit-learn is imported to use it."""

    stages: trees.FlatTrees
    learning_rate: float
    initial_decision: float
    decision_thresholds: FloatArray
    probability_thresholds: FloatArray

    def estimate_many(self, rows: FloatArray) -> FloatArray:
        """The probability of holding, for each row of features: what the booster's ``decision_function``
        mapped through the calibration gives, bit for bit.

        The decision is summed here over the booster's stages, walked all at once for all rows
        (``trees.FlatTrees``): the booster's own call spent milliseconds in checks for microseconds of work.
        """
        leaves = self.stages.leaves(rows.reshape(-1, len(FEATURES)))
        # The prior's log-odds, then each stage's value times the learning rate, added in order as the booster does.
        prior = np.full((leaves.shape[0], 1), self.initial_decision)
        steps = np.concatenate((prior, self.learning_rate * self.stages.values[leaves, 0]), axis=1)
        decisions = np.cumsum(steps, axis=1)[:, -1]
        probabilities: FloatArray = np.interp(decisions, self.decision_thresholds, self.probability_thresholds)
        return probabilities

    def estimate(self, row: FloatArray) -> float:
        """The probability that the proposal these features describe holds (``estimate_many`` of one row)."""
        return float(self.estimate_many(row)[0])

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Everything above as arrays, for ``artifacts.save_arrays``."""
        return self.stages.arrays("stages_") | {
            "learning_rate": np.array(self.learning_rate, dtype=np.float64),
            "initial_decision": np.array(self.initial_decision, dtype=np.float64),
            "decision_thresholds": self.decision_thresholds,
            "probability_thresholds": self.probability_thresholds,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]]) -> ConfidenceScorer:
        return cls(
            stages=trees.FlatTrees.from_arrays(arrays, "stages_"),
            learning_rate=float(arrays["learning_rate"]),
            initial_decision=float(arrays["initial_decision"]),
            decision_thresholds=arrays["decision_thresholds"].astype(np.float64),
            probability_thresholds=arrays["probability_thresholds"].astype(np.float64),
        )


@dataclass(frozen=True)
class ConfidenceModel:
    """A fitted booster and the map from its decision value to the probability of holding."""

    booster: Any
    decision_thresholds: FloatArray
    probability_thresholds: FloatArray

    def estimate_many(self, rows: FloatArray) -> FloatArray:
        """The probability of holding, for each row of features (``ConfidenceScorer.estimate_many``)."""
        return self.scorer.estimate_many(rows)

    def estimate(self, row: FloatArray) -> float:
        """The probability that the proposal these features describe holds (``estimate_many`` of one row)."""
        return float(self.estimate_many(row)[0])

    @functools.cached_property
    def scorer(self) -> ConfidenceScorer:
        """The booster's stages flattened, its prior and the calibration: all that scoring reads."""
        # The decision before any stage (the training prior's log-odds) is the same for every row.
        prior = self.booster._raw_predict_init(np.zeros((1, len(FEATURES)), dtype=np.float32))[0, 0]
        return ConfidenceScorer(
            stages=trees.FlatTrees.of(self.booster.estimators_[:, 0]),
            learning_rate=float(self.booster.learning_rate),
            initial_decision=float(prior),
            decision_thresholds=self.decision_thresholds,
            probability_thresholds=self.probability_thresholds,
        )


def lower_bound(held_count: float, count: float, quantile: float = LOWER_BOUND_QUANTILE) -> float:
    """One-sided Wilson lower bound of a share held: ``held_count`` of ``count``, at ``quantile``."""
    if count <= 0:
        return 0.0
    z = statistics.NormalDist().inv_cdf(quantile)
    share = held_count / count
    centre = share + z * z / (2 * count)
    spread = z * math.sqrt(share * (1 - share) / count + z * z / (4 * count * count))
    return max(0.0, (centre - spread) / (1 + z * z / count))


def _conservative(
    isotonic: Any, decisions: FloatArray, labels: npt.NDArray[np.bool_], workloads: npt.NDArray[np.str_]
) -> FloatArray:
    """The isotonic levels, each lowered to the lower bound of the backtests it maps, still non-decreasing.

    The bound counts workloads, not backtests: the cuts of one series are alike, and the model must hold
    on workloads it has not seen, so a level learned from many cuts of few workloads claims little.
    """
    levels = isotonic.predict(decisions)
    lowered = []
    for level in isotonic.y_thresholds_:
        mapped = np.isclose(levels, level)
        count = float(np.unique(workloads[mapped]).size)
        share = float(labels[mapped].mean()) if mapped.any() else 0.0
        lowered.append(lower_bound(share * count, count))
    bounds: FloatArray = np.maximum.accumulate(np.array(lowered, dtype=np.float64))
    return bounds


def fit(
    rows: FloatArray, labels: npt.NDArray[np.bool_], workloads: npt.NDArray[np.str_], *, seed: int
) -> ConfidenceModel:
    """Fit and calibrate on backtests (features, held, which workload); deterministic for a seed."""
    # Imported here: scikit-learn takes seconds to import, and a process that only sizes loads it
    # with the shipped model at its first estimate, not at start (an analyzer must claim runs promptly).
    from sklearn.base import clone  # noqa: PLC0415
    from sklearn.ensemble import GradientBoostingClassifier  # noqa: PLC0415
    from sklearn.isotonic import IsotonicRegression  # noqa: PLC0415
    from sklearn.model_selection import GroupKFold, cross_val_predict  # noqa: PLC0415

    booster = GradientBoostingClassifier(
        n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, min_samples_leaf=20, random_state=seed
    )
    # Folds by workload: cuts of one series are alike, and calibrating on cuts of a series the booster
    # saw made it overconfident on workloads it had not seen (0.86 held at confidence >= 0.9, not 0.89).
    splitter = GroupKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    folds = list(splitter.split(rows, labels, workloads))
    out_of_fold = cross_val_predict(clone(booster), rows, labels, cv=folds, method="decision_function")
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(out_of_fold, labels)
    # One booster fitted on everything, mapped through the levels learned out of fold: one model to run.
    booster.fit(rows, labels)
    return ConfidenceModel(booster, isotonic.X_thresholds_, _conservative(isotonic, out_of_fold, labels, workloads))


BUCKET_EDGES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)


def calibration(confidences: FloatArray, outcomes: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Reliability by confidence bucket, the Brier score, and how the confidence ≥ 0.9 proposals fared."""
    buckets = []
    for low, high in itertools.pairwise(BUCKET_EDGES):
        inside = (confidences >= low) & ((confidences < high) if high < 1.0 else (confidences <= high))
        count = int(inside.sum())
        buckets.append(
            {
                "from": low,
                "to": high,
                "count": count,
                "mean_confidence": round(float(confidences[inside].mean()), 3) if count else None,
                "share_held": round(float(outcomes[inside].mean()), 3) if count else None,
            }
        )
    confident = confidences >= LOW_RISK_FROM
    brier = float(np.mean((confidences - outcomes) ** 2)) if confidences.size else None
    return {
        "buckets": buckets,
        "brier": None if brier is None else round(brier, 4),
        "share_held_confidence_ge_0_9": round(float(outcomes[confident].mean()), 3) if confident.any() else None,
        "count_confidence_ge_0_9": int(confident.sum()),
    }


ARTIFACT = "confidence"


@functools.cache
def shipped() -> ConfidenceModel:
    """The model shipped in the package (loaded once); ``artifacts.ArtifactError`` when it cannot be used."""
    model = artifacts.load(ARTIFACT).model
    if not isinstance(model, ConfidenceModel):
        raise artifacts.ArtifactError(
            f"{artifacts.paths(ARTIFACT)[0]}: holds a {type(model).__name__}, not a ConfidenceModel; "
            "rebuild it with `kcost ml train`"
        )
    return model


@functools.cache
def shipped_scorer() -> ConfidenceScorer:
    """The shipped model's scoring form, read from its arrays: what an analysis uses, without scikit-learn."""
    return ConfidenceScorer.from_arrays(artifacts.load_arrays(ARTIFACT))


def trained_on() -> frozenset[str]:
    """The workloads the shipped model was fitted on: a benchmark scores calibration on the others."""
    return frozenset(artifacts.read_metadata(ARTIFACT).get("training_workloads", []))
