"""Hysteresis: changes inside the band are not proposed and do not replace an open proposal."""

from __future__ import annotations

from typing import Any

import pytest

from kcost.analyzers.contract import Proposal, hysteresis, recommendations
from kcost.api import matching
from kcost.api.v1alpha1.policy import Hysteresis, OptimizationPolicy
from kcost.api.v1alpha1.recommendation import ContainerResources, ResourceValues, RiskLevel, WorkloadShape
from tests.analyzers.test_contract_writes import analysis, listed, proposal, stored

DEFAULT = Hysteresis()


def shape(cpu: str | None = "500m", memory: str | None = "512Mi", memory_limit: str | None = "1Gi") -> WorkloadShape:
    return WorkloadShape(
        containers=[
            ContainerResources(
                name="app",
                requests=ResourceValues(cpu=cpu, memory=memory),
                limits=ResourceValues(memory=memory_limit),
            )
        ]
    )


def test_the_defaults_are_ten_percent_and_one_dollar_a_month() -> None:
    assert (DEFAULT.min_change_percent, DEFAULT.min_monthly_savings_usd) == (10, 1.0)


def test_a_change_is_proposed_only_when_it_is_big_enough_both_relatively_and_in_dollars() -> None:
    now = shape()
    assert hysteresis.largest_change_percent(now, shape(cpu="470m")) == pytest.approx(6.0)
    assert hysteresis.inside_band(now, shape(cpu="470m"), 3.0, DEFAULT), "6% is drift, whatever it saves"
    assert hysteresis.inside_band(now, shape(cpu="300m"), 0.5, DEFAULT), "40% of a cheap container saves 50 cents"
    assert not hysteresis.inside_band(now, shape(cpu="300m"), 3.0, DEFAULT)
    assert not hysteresis.inside_band(now, shape(memory="512Mi", memory_limit="640Mi"), -2.0, DEFAULT), (
        "a limit counts as much as a request, and a cost increase as much as a saving"
    )
    assert not hysteresis.inside_band(shape(memory=None), shape(), 5.0, DEFAULT), "a request set where none was"
    assert hysteresis.inside_band(now, shape(cpu="300m"), 3.0, Hysteresis(min_change_percent=50))


def test_a_workload_kcost_applied_is_not_proposed_again_for_drift_inside_the_band() -> None:
    applied = shape(cpu="180m", memory="300Mi", memory_limit="600Mi")  # what the Applied recommendation set
    drifted = shape(cpu="190m", memory="320Mi", memory_limit="630Mi")  # the next run's answer on newer usage
    assert hysteresis.inside_band(applied, drifted, -1.5, DEFAULT)
    assert not hysteresis.inside_band(applied, shape(cpu="120m", memory="300Mi", memory_limit="600Mi"), 4.0, DEFAULT)


def _policy(name: str, body: dict[str, object]) -> OptimizationPolicy:
    return OptimizationPolicy.model_validate({"metadata": {"name": name}, "spec": body})


def test_the_band_is_the_governing_policys_or_the_defaults() -> None:
    shop = _policy("shop", {"namespaces": ["shop"], "hysteresis": {"minChangePercent": 25, "minMonthlySavingsUsd": 5}})
    everywhere = _policy("everywhere", {})
    web = matching.Workload("Deployment", "shop", "web")
    assert hysteresis.band_for([shop, everywhere], web) == Hysteresis(min_change_percent=25, min_monthly_savings_usd=5)
    assert hysteresis.band_for([everywhere], web) == DEFAULT
    assert hysteresis.band_for([], web) == DEFAULT
    rival = _policy("rival", {"namespaces": ["shop"], "hysteresis": {"minChangePercent": 50}})
    assert hysteresis.band_for([shop, rival], web) == DEFAULT, "conflicting policies: the defaults"


def _banded(made: Proposal, **changes: Any) -> Proposal:
    """``made`` under the default band, its spec changed (a proposal holds its spec as JSON: a new one)."""
    spec = made.spec.model_copy(update=changes)
    return Proposal(made.namespace, spec, DEFAULT)


async def test_a_proposal_differing_from_the_open_one_only_inside_the_band_is_not_written() -> None:
    first, second = analysis("run-1"), analysis("run-2")
    before = [stored(first, proposal("web", cpu="250m"))]
    drift = _banded(proposal("web", cpu="240m"), estimated_monthly_savings=11.8)
    plan = await recommendations.plan(listed(*before), second, "rightsizing", [drift])
    assert (plan.writes, plan.unchanged) == ([], 1)
    moved = _banded(proposal("web", cpu="150m"), estimated_monthly_savings=20.0)
    plan = await recommendations.plan(listed(*before), second, "rightsizing", [moved])
    assert [write.name for write in plan.writes] == ["deployment-web-right-sizing"]
    unbanded = proposal("web", cpu="240m")
    plan = await recommendations.plan(listed(*before), second, "rightsizing", [unbanded])
    assert len(plan.writes) == 1, "without a band any change is written"
    riskier = _banded(proposal("web", cpu="240m"), risk_level=RiskLevel.HIGH)
    plan = await recommendations.plan(listed(*before), second, "rightsizing", [riskier])
    assert len(plan.writes) == 1, "only the values and the savings may move inside the band"
