from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from kcost.api.crds import openapi_schema
from kcost.api.v1alpha1 import KINDS, Analysis, ClusterCostProfile, OptimizationPolicy, OptimizationRecommendation
from kcost.api.v1alpha1.analysis import complete_condition_type
from kcost.api.v1alpha1.common import (
    Conditions,
    ConditionStatus,
    LabelSelector,
    Resource,
    parse_duration,
    parse_quantity,
)
from kcost.api.v1alpha1.recommendation import recommendation_name

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.crd.kind)
def test_every_sample_parses_into_its_type_and_round_trips(kind: type[Resource]) -> None:
    path = SAMPLES / f"optimizer_v1alpha1_{kind.crd.singular}.yaml"
    body = yaml.safe_load(path.read_text())
    parsed = kind.model_validate(body)
    again = kind.model_validate(parsed.to_api())
    assert again == parsed
    assert parsed.name == body["metadata"]["name"]


def test_every_field_has_a_description() -> None:
    def walk(schema: dict, path: str) -> list[str]:  # type: ignore[type-arg]
        missing = []
        for name, sub in schema.get("properties", {}).items():
            here = f"{path}.{name}"
            if path.startswith((".spec", ".status")) and "description" not in sub:
                missing.append(here)
            missing += walk(sub, here)
            missing += walk(sub.get("items", {}), here + "[]")
            if isinstance(sub.get("additionalProperties"), dict):
                missing += walk(sub["additionalProperties"], here + "{}")
        return missing

    for kind in KINDS:
        assert walk(openapi_schema(kind), "") == [], kind.crd.kind


def test_invalid_values_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"spec\.provider"):
        ClusterCostProfile.model_validate({"spec": {"provider": "ibm", "prometheus": {"url": "http://p"}}})
    with pytest.raises(ValidationError, match="onprem cluster has no price API"):
        ClusterCostProfile.model_validate({"spec": {"provider": "onprem", "prometheus": {"url": "http://p"}}})
    with pytest.raises(ValidationError, match="replicas must increase and end at 100%"):
        OptimizationPolicy.model_validate(
            {"spec": {"rolloutStrategy": {"steps": [{"replicas": "50%"}, {"replicas": "20%"}]}}}
        )
    with pytest.raises(ValidationError, match="ttlAfterFinished"):
        Analysis.model_validate({"spec": {"profileRef": {"name": "d"}, "schedule": "@daily", "ttlAfterFinished": "1h"}})
    base = yaml.safe_load((SAMPLES / "optimizer_v1alpha1_optimizationrecommendation.yaml").read_text())
    base["spec"]["confidence"] = 1.5
    with pytest.raises(ValidationError, match=r"spec\.confidence"):
        OptimizationRecommendation.model_validate(base)


def test_all_at_once_ignores_step_order() -> None:
    policy = OptimizationPolicy.model_validate(
        {"spec": {"rolloutStrategy": {"type": "all-at-once", "steps": [{"replicas": "50%"}, {"replicas": "20%"}]}}}
    )
    assert policy.spec.rollout_strategy.type.value == "all-at-once"


def test_conditions_keep_transition_time_while_status_stays() -> None:
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    first = Conditions.set([], "Ready", False, "Running", "a", now=t0)
    second = Conditions.set(first, "Ready", False, "Running", "b", now=t0 + datetime.timedelta(minutes=5))
    assert second[0].last_transition_time == t0
    assert second[0].message == "b"
    third = Conditions.set(second, "Ready", True, "Succeeded", now=t0 + datetime.timedelta(minutes=9))
    assert third[0].last_transition_time == t0 + datetime.timedelta(minutes=9)
    assert third[0].status is ConditionStatus.TRUE
    assert third[0].to_api()["lastTransitionTime"] == "2026-01-01T00:09:00Z"


def test_durations_quantities_names() -> None:
    assert parse_duration("14d") == datetime.timedelta(days=14)
    assert parse_duration("1h30m") == datetime.timedelta(minutes=90)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("fortnight")
    assert parse_quantity("250m") == 0.25
    assert parse_quantity("1Gi") == 2**30
    assert parse_quantity("1.5") == 1.5
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("12 apples")
    assert complete_condition_type("node-consolidation") == "NodeConsolidationComplete"
    assert recommendation_name("Deployment", "web", "right-sizing") == "deployment-web-right-sizing"
    long = recommendation_name("Deployment", "a" * 80, "right-sizing")
    assert len(long) <= 63
    assert long != recommendation_name("Deployment", "a" * 81, "right-sizing")


def test_label_selector_semantics() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"env": "prod"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}],
        }
    )
    assert selector.matches({"env": "prod"})
    assert selector.matches({"env": "prod", "tier": "web"})
    assert not selector.matches({"env": "prod", "tier": "batch"})
    assert not selector.matches({"env": "dev"})
    assert LabelSelector().matches({})
