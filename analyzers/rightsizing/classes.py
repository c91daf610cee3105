"""Class-aware right-sizing: the container's workload class chooses the kcost strategy's settings.

The class comes from ``kcost.ml.classes`` (a random forest over features that do not
depend on the sampling interval). Each class starts from the kcost defaults and changes
what its shape calls for; a setting the user gave in the Analysis always wins. A
leaking container is sized with more memory room and is always high risk, so no policy
applies it without a person; an idle one is sized as usual and left to the idle analyzer.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kcost.analyzers.rightsizing import stats
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation, Recommendation
from kcost.api.v1alpha1.recommendation import RiskLevel, WorkloadClass
from kcost.ml import classes

# What each class changes from the kcost defaults (``AdaptiveSettings``' field names).
CLASS_SETTINGS: dict[WorkloadClass, dict[str, Any]] = {
    WorkloadClass.STEADY: {},
    # The daily peak comes back every day: cover more of the top of the cycle.
    WorkloadClass.DIURNAL: {"cpu_percentile": 90, "cpu_margin": 0.10},
    # Rare bursts borrow idle node CPU (no CPU limit); memory gets more room above volatile peaks.
    WorkloadClass.BURSTY: {"memory_limit_volatility": 1.5},
    # Only the runs are sampled, and a run needs its peak: sized on the top of the runs.
    WorkloadClass.BATCH: {"cpu_percentile": 95, "memory_percentile": 99},
    WorkloadClass.IDLE: {},
    # Memory keeps growing until it is killed: more room above the request and the peak.
    WorkloadClass.LEAKING: {"memory_headroom": 0.3, "memory_limit_margin": 0.5},
}
CLASS_NOTES = {
    WorkloadClass.IDLE: "it looks idle: the idle analyzer judges scaling it to zero",
    WorkloadClass.LEAKING: "its memory grows like a leak: high risk, never auto-applied",
}


def settings_for(workload_class: WorkloadClass, given: AdaptiveSettings) -> AdaptiveSettings:
    """The class's settings under the ones the user set (``given``'s explicitly set fields win)."""
    return AdaptiveSettings.model_validate({**CLASS_SETTINGS[workload_class], **given.model_dump(exclude_unset=True)})


def classify(window: UsageHistory) -> WorkloadClass | None:
    """The class of a window of usage; None when it is shorter than the model needs."""
    return classes.classify(window.ts_s, window.cpu_cores, window.memory_bytes, window.current.cpu_request_cores)


class ClassAwareStrategy(AdaptiveStrategy):
    """The kcost strategy with each container's settings chosen by its workload class."""

    name = "kcost+classes"

    def __init__(self, settings: AdaptiveSettings) -> None:
        super().__init__(settings)
        self._by_class = {found: AdaptiveStrategy(settings_for(found, settings)) for found in WorkloadClass}

    def recommend(self, history: UsageHistory) -> Recommendation:
        """The class's values (the given settings' when it cannot be classified), with the class in the evidence."""
        window = history.last(self.settings.history_days * stats.DAY_S)
        found = classify(window) if window.sample_count else None
        if found is None:
            return super().recommend(history)
        answer = self._by_class[found].recommend(history)
        if not isinstance(answer, ContainerRecommendation):
            return answer
        note = f"class {found}" + (f": {CLASS_NOTES[found]}" if found in CLASS_NOTES else "")
        evidence = dataclasses.replace(answer.evidence, workload_class=found, notes=(*answer.evidence.notes, note))
        risk = RiskLevel.HIGH if found is WorkloadClass.LEAKING else answer.risk_level
        return dataclasses.replace(answer, evidence=evidence, risk_level=risk)
