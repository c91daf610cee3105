"""A test analyzer that implements the contract, with behaviour chosen per Analysis.

Settings (``spec.analyzers[name=fixture].settings``):
- ``mode``: ``ok`` proposes a right-sizing for every Deployment in scope (CPU request
  halved), ``fail`` raises an AnalyzerError, ``crash`` raises an unexpected error,
  ``hang`` never finishes;
- ``delaySeconds``: sleep this long first;
- ``skip``: Deployments not to propose anything for (as if they no longer qualified).

``FIXTURE_DELAY_SECONDS`` in the environment adds a delay to this process only: a test
kills a slow first analyzer mid-run, and the one that takes over finishes at once.

Loaded with ``kcost analyzer --plugin fixture_analyzer:FixtureAnalyzer`` and this folder on PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import os
from typing import Literal

from pydantic import Field

from kcost.analyzers.contract import Analyzer, AnalyzerError, AnalyzerResult, AnalyzerSettings, Proposal, RunContext
from kcost.api.v1alpha1.common import parse_quantity
from kcost.api.v1alpha1.recommendation import (
    ContainerResources,
    Evidence,
    OptimizationRecommendationSpec,
    RecommendationType,
    ResourceValues,
    RiskLevel,
    TargetRef,
    WorkloadShape,
)


class FixtureSettings(AnalyzerSettings):
    mode: Literal["ok", "fail", "crash", "hang"] = "ok"
    delay_seconds: float = Field(0, ge=0, alias="delaySeconds")
    skip: list[str] = Field(default_factory=list)


class FixtureAnalyzer(Analyzer[FixtureSettings]):
    name = "fixture"
    settings_model = FixtureSettings
    types = (RecommendationType.RIGHT_SIZING,)

    async def run(self, context: RunContext[FixtureSettings]) -> AnalyzerResult:
        settings = context.settings
        await asyncio.sleep(settings.delay_seconds + float(os.environ.get("FIXTURE_DELAY_SECONDS", "0")))
        if settings.mode == "fail":
            raise AnalyzerError("Prometheus at http://127.0.0.1:1 did not answer: is spec.prometheus.url right?")
        if settings.mode == "crash":
            raise RuntimeError("unexpected failure inside the analyzer")
        if settings.mode == "hang":
            await asyncio.Event().wait()
        result = AnalyzerResult()
        for namespace in context.namespaces:
            for deployment in await context.kube.list_workloads("apps/v1", "deployments", namespace):
                result.workloads += 1
                if deployment["metadata"]["name"] not in settings.skip:
                    result.proposals.append(_proposal(namespace, deployment, context))
        result.scope_monthly_cost = round(20.0 * result.workloads, 2)
        return result


def _proposal(namespace: str, deployment: dict, context: RunContext[FixtureSettings]) -> Proposal:  # type: ignore[type-arg]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    current, changes = [], []
    savings = 0.0
    for container in containers:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu = parse_quantity(requests.get("cpu", "100m"))
        current.append(ContainerResources(name=container["name"], requests=ResourceValues(cpu=f"{round(cpu * 1000)}m")))
        changes.append(
            ContainerResources(name=container["name"], requests=ResourceValues(cpu=f"{max(1, round(cpu * 500))}m"))
        )
        savings += cpu / 2 * 0.031611 * 730
    spec = OptimizationRecommendationSpec(
        target_ref=TargetRef(api_version="apps/v1", kind="Deployment", name=deployment["metadata"]["name"]),
        type=RecommendationType.RIGHT_SIZING,
        current=WorkloadShape(containers=current),
        changes=WorkloadShape(containers=changes),
        estimated_monthly_savings=round(savings, 2),
        confidence=0.9,
        risk_level=RiskLevel.LOW,
        evidence=Evidence(
            method="fixture(halve CPU)", window_start=context.window_start, window_end=context.window_end
        ),
    )
    return Proposal(namespace=namespace, spec=spec)
