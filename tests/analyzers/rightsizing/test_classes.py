"""Class-aware right-sizing: the class picks the settings, the user's settings win, a leak is never low risk."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kcost.analyzers.rightsizing import classes
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings, AdaptiveStrategy
from kcost.analyzers.rightsizing.history import CurrentResources, UsageHistory
from kcost.analyzers.rightsizing.recommendation import ContainerRecommendation
from kcost.analyzers.rightsizing.settings import RightsizingSettings
from kcost.api.v1alpha1.recommendation import RiskLevel, WorkloadClass
from kcost.devcluster.scenario import labelled
from kcost.devcluster.scenario.model import UsagePattern

SEED = 424_242


def _history(pattern: UsagePattern, days: float = 7) -> UsageHistory:
    series = labelled.generate(pattern, SEED, step_s=60, days=days)
    return UsageHistory(
        ts_s=series.ts_s,
        cpu_cores=series.cpu_cores,
        memory_bytes=series.memory_bytes,
        current=CurrentResources(cpu_request_cores=series.cpu_request_cores),
    )


def test_a_setting_the_user_gave_wins_over_the_class() -> None:
    given = AdaptiveSettings.model_validate({"cpuPercentile": 80})
    diurnal = classes.settings_for(WorkloadClass.DIURNAL, given)
    assert diurnal.cpu_percentile == 80
    assert diurnal.cpu_margin == classes.CLASS_SETTINGS[WorkloadClass.DIURNAL]["cpu_margin"]
    assert classes.settings_for(WorkloadClass.STEADY, given) == given


def test_a_diurnal_container_is_sized_with_the_diurnal_settings_and_says_so() -> None:
    answer = classes.ClassAwareStrategy(AdaptiveSettings()).recommend(_history(UsagePattern.DIURNAL))
    assert isinstance(answer, ContainerRecommendation)
    assert answer.evidence.workload_class is WorkloadClass.DIURNAL
    assert "cpu p90+10%" in answer.evidence.method
    assert "class diurnal" in answer.evidence.notes


def test_a_leaking_container_is_high_risk_whatever_its_confidence() -> None:
    history = _history(UsagePattern.MEMORY_LEAK)
    answer = classes.ClassAwareStrategy(AdaptiveSettings()).recommend(history)
    assert isinstance(answer, ContainerRecommendation)
    assert answer.evidence.workload_class is WorkloadClass.LEAKING
    assert answer.risk_level is RiskLevel.HIGH
    assert any("never auto-applied" in note for note in answer.evidence.notes)
    fixed = AdaptiveStrategy(AdaptiveSettings()).recommend(history)
    assert isinstance(fixed, ContainerRecommendation)
    assert answer.memory_request_bytes > fixed.memory_request_bytes  # more headroom above the growing memory


def test_a_history_shorter_than_a_day_is_sized_with_the_given_settings() -> None:
    history = _history(UsagePattern.STEADY, days=0.9)
    answer = classes.ClassAwareStrategy(AdaptiveSettings()).recommend(history)
    fixed = AdaptiveStrategy(AdaptiveSettings()).recommend(history)
    assert isinstance(answer, ContainerRecommendation)
    assert answer.evidence.workload_class is None
    assert answer == fixed


def test_class_aware_sizing_is_off_unless_the_analysis_asks() -> None:
    assert not RightsizingSettings.model_validate({}).root.class_aware  # type: ignore[union-attr]
    asked = RightsizingSettings.model_validate({"strategy": "kcost", "classAware": True}).root
    assert asked.class_aware  # type: ignore[union-attr]


def test_the_learned_parts_are_on_unless_turned_off_and_classes_need_them() -> None:
    assert RightsizingSettings.model_validate({}).root.learned
    assert not RightsizingSettings.model_validate({"learned": False}).root.learned
    with pytest.raises(ValidationError, match="classAware: true needs learned: true"):
        RightsizingSettings.model_validate({"classAware": True, "learned": False})
