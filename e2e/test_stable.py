"""Stable recommendations on the smoke scenario's real Prometheus history: the same data, the same answer."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.conftest import custom_profile
from e2e.test_analyzers import _recs, _wait
from kcost.analyzers.contract import AnalyzerResult, RunContext
from kcost.analyzers.metrics.workloads import QueryPlan
from kcost.analyzers.rightsizing.analyzer import RightsizingAnalyzer
from kcost.analyzers.rightsizing.settings import RightsizingSettings
from kcost.api.v1alpha1.analysis import Analysis
from kcost.devcluster.cluster import DevCluster
from kcost.kube.client import connect

NAMESPACES = ["shop", "jobs", "sandbox"]
WINDOW = datetime.timedelta(days=3)
RESOLUTION = datetime.timedelta(minutes=1)


@pytest.fixture
def profile(kcost_crds: DevCluster, kubectl: Any, smoke_end_s: int) -> Iterator[str]:
    name = f"e2e-stable-{uuid.uuid4().hex[:6]}"
    document = custom_profile(name, kcost_crds.require_state().prometheus_url)
    assert kubectl("apply", "-f", "-", input_text=json.dumps(document)).returncode == 0
    yield name
    kubectl("delete", "ccp", name, "--timeout=30s")


def _analysis(profile: str) -> Analysis:
    return Analysis.model_validate(
        {
            "metadata": {"name": f"stable-{profile}"},
            "spec": {
                "profileRef": {"name": profile},
                "namespaces": NAMESPACES,
                "window": "3d",
                "resolution": "1m",
                "analyzers": [{"name": "rightsizing"}],
            },
        }
    )


async def _run(kubeconfig: str, profile: str, end: datetime.datetime) -> AnalyzerResult:
    """The rightsizing analyzer's run over a window frozen at ``end`` (the clock injected)."""
    async with connect(kubeconfig) as kube:
        context = RunContext(
            analysis=_analysis(profile),
            run_id=f"run-{end.timestamp():.0f}",
            window_start=end - WINDOW,
            window_end=end,
            resolution=RESOLUTION,
            settings=RightsizingSettings.model_validate({}),
            namespaces=NAMESPACES,
            kube=kube,
        )
        return await RightsizingAnalyzer().run(context)


async def _proposals(kubeconfig: str, profile: str, end: datetime.datetime) -> dict[str, dict[str, Any]]:
    result = await _run(kubeconfig, profile, end)
    assert result.window is not None
    return {
        f"{p.namespace}/{p.spec.target_ref.name}": p.spec.to_api() | {"recordedWindow": list(result.window)}
        for p in result.proposals
    }


async def test_runs_started_at_different_seconds_make_identical_recommendations(
    dev_cluster: DevCluster, profile: str, smoke_end_s: int
) -> None:
    end = datetime.datetime.fromtimestamp(smoke_end_s, datetime.UTC)
    step_s = QueryPlan.for_window(end - WINDOW, end, RESOLUTION).step_s
    on_step = smoke_end_s // step_s * step_s
    kubeconfig = str(dev_cluster.require_state().admin_kubeconfig)
    # Two runs a minute and a half apart (different seconds, one of them on the step itself).
    first = await _proposals(kubeconfig, profile, datetime.datetime.fromtimestamp(on_step, datetime.UTC))
    later = await _proposals(kubeconfig, profile, datetime.datetime.fromtimestamp(on_step + 97, datetime.UTC))
    assert len(first) >= 3, "the smoke scenario has over-provisioned and OOM-killed workloads"
    assert first == later, "the same history gives the same recommendations, evidence included"
    web = first["shop/web"]["evidence"]
    # The evidence records the exact window read: on the step grid, whole steps long.
    start_s = datetime.datetime.fromisoformat(web["windowStart"]).timestamp()
    end_s = datetime.datetime.fromisoformat(web["windowEnd"]).timestamp()
    assert end_s == on_step
    assert start_s % step_s == 0
    assert WINDOW.total_seconds() - step_s < end_s - start_s <= WINDOW.total_seconds()


@pytest.fixture
def wide_band(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    """A policy over the smoke namespaces whose band swallows any change short of 90%."""
    name = f"e2e-band-{uuid.uuid4().hex[:6]}"
    document = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": NAMESPACES, "hysteresis": {"minChangePercent": 90, "minMonthlySavingsUsd": 1}},
    }
    assert kubectl("apply", "-f", "-", input_text=json.dumps(document)).returncode == 0
    yield name
    kubectl("delete", "kpol", name, "--timeout=30s")


async def test_changes_inside_the_policys_hysteresis_band_are_not_proposed_but_oom_fixes_are(
    dev_cluster: DevCluster, profile: str, smoke_end_s: int, wide_band: str
) -> None:
    kubeconfig = str(dev_cluster.require_state().admin_kubeconfig)
    result = await _run(kubeconfig, profile, datetime.datetime.fromtimestamp(smoke_end_s, datetime.UTC))
    proposed = {f"{p.namespace}/{p.spec.target_ref.name}" for p in result.proposals}
    assert "shop/web" not in proposed, "0.5 cores down to about 0.15 is a 70% change: inside a 90% band"
    assert "jobs/leaky" in proposed, "raising memory after OOM kills is proposed whatever the band"
    assert result.skipped.get("InsideHysteresisBand", 0) >= 1


def test_an_analysis_records_the_exact_window_its_queries_read(
    profile: str, kubectl: Any, spawn: Any, smoke_end_s: int
) -> None:
    spawn("operator", "operator")
    spawn("rightsizing", "analyzer", "rightsizing")
    name = f"stable-window-{uuid.uuid4().hex[:6]}"
    spec = _analysis(profile).to_api()["spec"]
    document = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": spec,
    }
    assert kubectl("apply", "-f", "-", input_text=json.dumps(document)).returncode == 0
    try:
        status = _wait(kubectl, name)["status"]
        assert status["phase"] == "Succeeded", status
        section = status["analyzers"]["rightsizing"]
        frozen_end_s = datetime.datetime.fromisoformat(status["windowEnd"]).timestamp()
        read_start_s = datetime.datetime.fromisoformat(section["windowStart"]).timestamp()
        read_end_s = datetime.datetime.fromisoformat(section["windowEnd"]).timestamp()
        end = datetime.datetime.fromtimestamp(frozen_end_s, datetime.UTC)
        step_s = QueryPlan.for_window(end - WINDOW, end, RESOLUTION).step_s
        assert read_end_s == frozen_end_s // step_s * step_s, "the frozen end floored to the query step"
        assert read_start_s % step_s == 0
        recs = _recs(kubectl, name)
        assert recs, "the smoke scenario gives recommendations"
        for rec in recs.values():
            evidence = rec["spec"]["evidence"]
            assert (evidence["windowStart"], evidence["windowEnd"]) == (section["windowStart"], section["windowEnd"])
    finally:
        kubectl("delete", "kca", name, "--timeout=60s")
