"""Calibrated confidence: the probability that proposed values hold over their horizon.

"Hold" is the label the model learns, from backtests: over the days after the
proposal, no OOM kill (memory above the limit), CPU use above the request in at most
``CPU_SHORTFALL_THRESHOLD`` of the samples, and memory above the request in at most
``MEMORY_PRESSURE_THRESHOLD``. The model is gradient boosting calibrated by isotonic
regression on out-of-fold predictions (``CalibratedClassifierCV``), so a confidence of
0.9 means nine proposals in ten held, on traces the model was not fitted on.
``riskLevel`` is read from the same estimate (``risk_level``).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kcost.api.v1alpha1.recommendation import RiskLevel
from kcost.ml import artifacts
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


@dataclass
class ConfidenceModel:
    """A fitted, calibrated classifier over ``FEATURES``."""

    classifier: Any

    def estimate_many(self, rows: FloatArray) -> FloatArray:
        """The probability of holding, for each row of features."""
        probabilities: FloatArray = self.classifier.predict_proba(rows)[:, 1]
        return probabilities

    def estimate(self, row: FloatArray) -> float:
        """The probability that the proposal these features describe holds.

        The same number as ``estimate_many``, computed as the calibrator does (the booster's
        decision value through the isotonic map) without its per-call checks: one row at a
        time, those took most of an analysis' extra time.
        """
        booster, calibrator = self._parts
        decision = float(booster.decision_function(row.reshape(1, len(FEATURES)))[0])
        return float(np.interp(decision, calibrator.X_thresholds_, calibrator.y_thresholds_))

    @functools.cached_property
    def _parts(self) -> tuple[Any, Any]:
        fitted = self.classifier.calibrated_classifiers_[0]
        return fitted.estimator, fitted.calibrators[0]


def fit(
    rows: FloatArray, labels: npt.NDArray[np.bool_], workloads: npt.NDArray[np.str_], *, seed: int
) -> ConfidenceModel:
    """Fit and calibrate on backtests (features, held, which workload); deterministic for a seed."""
    # Imported here: scikit-learn takes seconds to import, and a process that only sizes loads it
    # with the shipped model at its first estimate, not at start (an analyzer must claim runs promptly).
    from sklearn.calibration import CalibratedClassifierCV  # noqa: PLC0415
    from sklearn.ensemble import GradientBoostingClassifier  # noqa: PLC0415
    from sklearn.model_selection import GroupKFold  # noqa: PLC0415

    booster = GradientBoostingClassifier(
        n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, min_samples_leaf=20, random_state=seed
    )
    # Folds by workload: cuts of one series are alike, and calibrating on cuts of a series the booster
    # saw made it overconfident on workloads it had not seen (0.86 held at confidence >= 0.9, not 0.89).
    splitter = GroupKFold(n_splits=CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    folds = list(splitter.split(rows, labels, workloads))
    # One booster fitted on everything, calibrated on out-of-fold predictions: one model to run, not five.
    classifier = CalibratedClassifierCV(booster, method="isotonic", cv=folds, ensemble=False)
    classifier.fit(rows, labels)
    return ConfidenceModel(classifier)


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
    return ConfidenceModel(artifacts.load(ARTIFACT).model)


def trained_on() -> frozenset[str]:
    """The workloads the shipped model was fitted on: a benchmark scores calibration on the others."""
    return frozenset(artifacts.read_metadata(ARTIFACT).get("training_workloads", []))
