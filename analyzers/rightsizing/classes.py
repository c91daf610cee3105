"""Class-aware right-sizing: the container's workload class chooses the kcost strategy's settings.

The class comes from ``kcost.ml.classes`` (a random forest over features that do not
depend on the sampling interval). Each class starts from the kcost defaults and changes
what its shape calls for; a setting the user gave in the Analysis always wins. A
leaking container is sized with more memory room and is always high risk, so no policy
applies it without a person; an idle one is sized as usual and left to the idle analyzer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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
    return classify_many([window])[0]


def classify_many(windows: Sequence[UsageHistory]) -> list[WorkloadClass | None]:
    """The class of each window of usage, the model reading all of them in one call."""
    return classes.classify_histories(
        [(window.ts_s, window.cpu_cores, window.memory_bytes, window.current.cpu_request_cores) for window in windows],
        [window.cpu_sorted for window in windows],
    )


class ClassAwareStrategy(AdaptiveStrategy):
    """The kcost strategy with each container's settings chosen by its workload class."""

    name = "kcost+classes"

    def __init__(self, settings: AdaptiveSettings) -> None:
        super().__init__(settings)
        self._by_class = {found: AdaptiveStrategy(settings_for(found, settings)) for found in WorkloadClass}

    def recommend_many(self, histories: Sequence[UsageHistory]) -> list[Recommendation]:
        """Each class's values (the given settings' where it cannot be classified), with the class in the
        evidence; the histories of one class are sized, and scored by the confidence model, together."""
        windows = [history.last(self.settings.history_days * stats.DAY_S) for history in histories]
        with_samples = [index for index, window in enumerate(windows) if window.sample_count]
        found: list[WorkloadClass | None] = [None] * len(histories)
        for index, workload_class in zip(with_samples, classify_many([windows[i] for i in with_samples]), strict=True):
            found[index] = workload_class
        answers: dict[int, Recommendation] = {}
        for workload_class in (None, *WorkloadClass):
            group = [index for index, one in enumerate(found) if one is workload_class]
            if not group:
                continue
            picked = [histories[index] for index in group]
            if workload_class is None:
                answers.update(zip(group, AdaptiveStrategy.recommend_many(self, picked), strict=True))
                continue
            sized = self._by_class[workload_class].recommend_many(picked)
            answers.update(
                (index, _with_class(answer, workload_class)) for index, answer in zip(group, sized, strict=True)
            )
        return [answers[index] for index in range(len(histories))]


def _with_class(answer: Recommendation, found: WorkloadClass) -> Recommendation:
    """The class in the evidence, its note, and high risk for a leak."""
    if not isinstance(answer, ContainerRecommendation):
        return answer
    note = f"class {found}" + (f": {CLASS_NOTES[found]}" if found in CLASS_NOTES else "")
    evidence = dataclasses.replace(answer.evidence, workload_class=found, notes=(*answer.evidence.notes, note))
    risk = RiskLevel.HIGH if found is WorkloadClass.LEAKING else answer.risk_level
    return dataclasses.replace(answer, evidence=evidence, risk_level=risk)
