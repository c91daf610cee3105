"""Realized savings: after an applied change's (shortened) verify window, what it saved, measured from Prometheus.

Where the usage *after* the change comes from: the dev cluster has no live exporter for
kwok's pods (Prometheus only scrapes itself); every cAdvisor and kube-state-metrics
series is generated from a scenario and backfilled as TSDB blocks. So this module's
scenario is loaded with a history that runs on for two hours past now: the window
before the rollout and the window after it are both in Prometheus, as the workload's
usage pattern going on (a right-sizing changes what pods ask for, not what they use).
Requests come from what kcost recorded (``status.previous`` and the applied values),
so the measurement sees the change itself.

The test computes the expected value by hand from the same series and prices, another
way: each pod's mean CPU from the raw counter's first and last sample, the mean
working set from the raw samples, the node's unit prices re-derived from its capacity
and the profile's custom rates by OpenCost's split, and max(request, usage) per
container; the operator's figure must be within 5% of it.

The regression case is a workload whose memory leak OOM-kills it every minute: under
an auto-apply policy its right-sizing is applied, the verify window sees OOM kills,
and the change is rolled back with the condition and an Event saying why.
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import Prometheus, custom_profile
from e2e.rollout_support import (
    analysis,
    apply,
    condition,
    container,
    get_json,
    phase_is,
    remove,
    wait_for_event,
    wait_for_rec,
)
from kcost.api.units import GIB, MIB
from kcost.api.v1alpha1.common import parse_quantity
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.scenario import loader
from kcost.devcluster.scenario.model import ContainerSpec, Scenario, UsagePattern, WorkloadSpec
from kcost.history.store import HistoryStore

VERIFY_WINDOW_S = 90
# The profile's custom unit rates (conftest.custom_profile).
CPU_CORE_HOUR, MEMORY_GIB_HOUR = 0.03, 0.004
# OpenCost's default rates: a node's price is split over CPU and memory in their ratio.
BASE_CPU_CORE_HOUR, BASE_MEMORY_GIB_HOUR = 0.031611, 0.004237
HOURS_PER_MONTH = 730
NODE = default_nodes()[2]  # 4 cores, 16 GiB
FAST = {"type": "canary", "steps": [{"replicas": "100%", "duration": "15s"}]}


def scenario(prefix: str) -> Scenario:
    """Two workloads on one 4-core node: a steady web service, and a leaking worker OOM-killed every minute."""
    web = ContainerSpec(
        cpu_request_cores=1.0,
        memory_request_bytes=512 * MIB,
        memory_limit_bytes=512 * MIB,
        cpu_usage_cores=0.3,
        memory_usage_bytes=150 * MIB,
    )
    leak = ContainerSpec(
        cpu_request_cores=0.2,
        memory_request_bytes=256 * MIB,
        memory_limit_bytes=512 * MIB,
        cpu_usage_cores=0.1,
        memory_usage_bytes=200 * MIB,
        memory_leak_bytes_per_hour=24 * GIB,
    )
    return Scenario(
        name=f"realized-{prefix}",
        seed=11,
        days=0.25,
        step_s=30,
        nodes=[NODE],
        workloads=[
            WorkloadSpec(name="web", namespace=f"{prefix}-web", replicas=2, containers=[web]),
            WorkloadSpec(
                name="leaky", namespace=f"{prefix}-leaky", pattern=UsagePattern.MEMORY_LEAK, containers=[leak]
            ),
        ],
    )


@pytest.fixture(scope="module")
def loaded(kcost_crds: DevCluster, kubectl: Any) -> Iterator[tuple[str, str]]:
    """The scenario loaded with history into the future; its prefix and the profile (with an Analysis) pricing it."""
    prefix = f"e2e-real-{uuid.uuid4().hex[:6]}"
    story = scenario(prefix)
    loader.load(kcost_crds, story, end_s=loader.aligned_end() + 2 * 3600)
    profile = f"{prefix}-profile"
    apply(kubectl, custom_profile(profile, kcost_crds.require_state().prometheus_url))
    apply(kubectl, analysis(f"{prefix}-run", profile, f"{prefix}-web"))
    yield prefix, profile
    for namespace in story.namespaces:
        kubectl("delete", "namespace", namespace, "--wait=false")
    remove(kubectl, "analysis", f"{prefix}-run")
    remove(kubectl, "clustercostprofile", profile)


def verified_policy(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": [namespace], "verifyWindow": f"{VERIFY_WINDOW_S}s", "rolloutStrategy": FAST, **spec},
    }


def right_sizing(
    namespace: str,
    target: str,
    run: str,
    *,
    replicas: int,
    current: tuple[str, str],
    proposed: tuple[str, str],
    approved: bool,
) -> dict[str, Any]:
    def shape(cpu: str, memory: str) -> dict[str, Any]:
        return {"containers": [{"name": "app", "requests": {"cpu": cpu, "memory": memory}}], "replicas": replicas}

    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": f"deployment-{target}-right-sizing", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "type": "right-sizing",
            "changes": shape(*proposed),
            "current": shape(*current),
            "estimatedMonthlySavings": 14.0,
            "confidence": 0.95,
            "riskLevel": "low",
            "evidence": {"method": "e2e"},
            "analysisRef": {"name": run, "runId": "e2e", "analyzer": "rightsizing"},
            "approval": {"approved": True, "approvedBy": "e2e"} if approved else {},
        },
    }


def measured(body: dict[str, Any]) -> bool:
    return bool(body.get("status", {}).get("realized"))


def parse_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def unit_rates(kubectl: Any, node: str) -> tuple[float, float]:
    """The node's CPU and memory prices per hour: its custom-rate price split by OpenCost's default ratio."""
    capacity = get_json(kubectl, "get", "node", node)["status"]["capacity"]
    cores, gib = parse_quantity(capacity["cpu"]), parse_quantity(capacity["memory"]) / GIB
    scale = (cores * CPU_CORE_HOUR + gib * MEMORY_GIB_HOUR) / (cores * BASE_CPU_CORE_HOUR + gib * BASE_MEMORY_GIB_HOUR)
    return BASE_CPU_CORE_HOUR * scale, BASE_MEMORY_GIB_HOUR * scale


def mean_usage(prometheus: Prometheus, namespace: str, start_s: float, end_s: float) -> tuple[float, float]:
    """Mean CPU cores and working-set bytes per pod of ``web``, from the raw samples of the window."""
    pods = f'namespace="{namespace}",pod=~"web-.*",container="app"'
    span = f"{round(end_s - start_s)}s"
    cpu, memory = [], []
    for series in prometheus.query(f"container_cpu_usage_seconds_total{{{pods}}}[{span}]", end_s):
        (t0, v0), (t1, v1) = series["values"][0], series["values"][-1]
        cpu.append((float(v1) - float(v0)) / (float(t1) - float(t0)))
    for series in prometheus.query(f"container_memory_working_set_bytes{{{pods}}}[{span}]", end_s):
        memory.append(sum(float(v) for _, v in series["values"]) / len(series["values"]))
    assert cpu, f"no CPU samples of web in {namespace} between {start_s} and {end_s}"
    assert memory, f"no memory samples of web in {namespace} between {start_s} and {end_s}"
    return sum(cpu) / len(cpu), sum(memory) / len(memory)


def monthly_cost(cpu: tuple[float, float], memory: tuple[float, float], rates: tuple[float, float]) -> float:
    """Two replicas at max(request, usage) of (request, usage) for CPU cores and memory bytes."""
    return (max(cpu) * rates[0] + max(memory) / GIB * rates[1]) * 2 * HOURS_PER_MONTH


def test_realized_savings_match_a_hand_computation_from_the_same_series(
    loaded: tuple[str, str], kubectl: Any, spawn: Any, prometheus: Prometheus, tmp_path: Path
) -> None:
    prefix, profile = loaded
    namespace = f"{prefix}-web"
    database = tmp_path / "history.db"
    # Cutting 1 core to 200m is more than the default 50% a change may cut.
    apply(kubectl, verified_policy(f"{prefix}-verify", namespace, constraints={"maxReductionPercent": 90}))
    try:
        spawn("operator", "operator", env={"KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{database}"})
        rec = right_sizing(
            namespace,
            "web",
            f"{prefix}-run",
            replicas=2,
            current=("500m", "512Mi"),
            proposed=("200m", "384Mi"),
            approved=True,
        )
        apply(kubectl, rec)
        # The operator's start is in this wait: minutes on a loaded machine.
        applied = wait_for_rec(kubectl, namespace, phase_is("Applied", "RolledBack", "Failed"), timeout_s=360)
        assert applied["status"]["phase"] == "Applied", applied["status"]
        assert container(kubectl, namespace)["resources"]["requests"] == {"cpu": "200m", "memory": "384Mi"}
        done = wait_for_rec(kubectl, namespace, measured, timeout_s=VERIFY_WINDOW_S + 120)
    finally:
        remove(kubectl, "optimizationpolicy", f"{prefix}-verify")
    status = done["status"]
    realized = status["realized"]
    assert realized["window"] == f"{VERIFY_WINDOW_S}s"
    started, applied_at = parse_time(status["rollout"]["startedAt"]), parse_time(status["appliedAt"])
    before = mean_usage(prometheus, namespace, started - VERIFY_WINDOW_S, started)
    after = mean_usage(prometheus, namespace, applied_at, applied_at + VERIFY_WINDOW_S)
    rates = unit_rates(kubectl, NODE.name)
    by_hand = monthly_cost((1.0, before[0]), (512 * MIB, before[1]), rates) - monthly_cost(
        (0.2, after[0]), (384 * MIB, after[1]), rates
    )
    assert by_hand > 0
    assert realized["monthlySavingsUsd"] == pytest.approx(by_hand, rel=0.05), (realized, by_hand)
    assert realized["estimateErrorPercent"] == pytest.approx((realized["monthlySavingsUsd"] - 14) / 14 * 100, abs=0.2)
    assert realized["regressions"].get("found", []) == [], realized
    assert condition(done, "SavingsRealized")["status"] == "True", status["conditions"]
    wait_for_event(kubectl, namespace, lambda line: line.startswith("Measured: saves"))
    assert history_row(database, profile, namespace) == pytest.approx(realized["monthlySavingsUsd"], abs=0.01)


def history_row(database: Path, cluster: str, namespace: str) -> float:
    """The realized savings the history store holds for the recommendation (polled: the writer batches)."""

    async def read() -> list[float]:
        store = HistoryStore()
        await store.connect(f"sqlite+aiosqlite:///{database}")
        try:
            rows = await store.realized_savings(cluster, namespace, "deployment-web-right-sizing")
        finally:
            await store.close()
        return [row.realized_monthly_savings_usd for row in rows]

    deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    while datetime.datetime.now(datetime.UTC) < deadline:
        if database.exists() and (rows := asyncio.run(read())):
            return rows[-1]
        time.sleep(0.5)
    raise AssertionError(f"no realized_savings row in {database}")


def test_a_regression_after_an_auto_applied_change_rolls_it_back(
    loaded: tuple[str, str], kubectl: Any, spawn: Any
) -> None:
    prefix, _ = loaded
    namespace = f"{prefix}-leaky"
    auto = {"minConfidence": 0.9, "maxRiskLevel": "low", "maxChangePercent": 60}
    apply(kubectl, verified_policy(f"{prefix}-auto", namespace, mode="auto-apply", autoApprove=auto))
    try:
        before = container(kubectl, namespace, "leaky")
        spawn("operator", "operator")
        rec = right_sizing(
            namespace,
            "leaky",
            f"{prefix}-run",
            replicas=1,
            current=("200m", "256Mi"),
            proposed=("150m", "200Mi"),
            approved=False,
        )
        apply(kubectl, rec)
        name = "deployment-leaky-right-sizing"
        wait_for_rec(kubectl, namespace, measured, name=name, timeout_s=VERIFY_WINDOW_S + 360)
        done = wait_for_rec(kubectl, namespace, phase_is("RolledBack", "Failed"), name=name)
    finally:
        remove(kubectl, "optimizationpolicy", f"{prefix}-auto")
    status = done["status"]
    assert done["spec"]["approval"]["approvedBy"] == f"policy/{prefix}-auto"
    assert status["phase"] == "RolledBack", status
    assert status["realized"]["regressions"]["oomKills"] >= 1, status["realized"]
    regression = condition(done, "SavingsRealized")
    assert (regression["status"], regression["reason"]) == ("False", "Regression"), regression
    assert "OOM kill(s) after the change" in status["rollout"]["reason"]
    wait_for_event(kubectl, namespace, lambda line: line.startswith("Regression: regression after the change"), name)
    assert container(kubectl, namespace, "leaky") == before
