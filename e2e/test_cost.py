"""The cost analyzer on the real control plane: a mixed fleet priced from the catalog file."""

from __future__ import annotations

import base64
import datetime
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from e2e.conftest import SHARED_DATA, Prometheus, custom_profile
from e2e.prometheus_proxy import FaultyProxy
from e2e.rollout_support import wait_for_event
from kcost.analyzers.cost import analyzer as cost
from kcost.analyzers.cost.pricer import PricerFactory
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import mixed_cloud_nodes
from kcost.kube.client import connect


def _profile(prometheus_url: str) -> str:
    return json.dumps(
        {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "ClusterCostProfile",
            "metadata": {"name": "mixed"},
            "spec": {
                "provider": "aws",
                "region": "us-east-1",
                "pricing": {
                    "source": "catalog",
                    "catalog": {"path": str(SHARED_DATA / "pricing" / "cloud-instance-prices.csv.gz")},
                },
                "prometheus": {"url": prometheus_url},
                "budget": {"monthly": 50, "alertThresholdsPercent": [50, 100]},
            },
        }
    )


def _wait_status(kubectl: Any, check: Any, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = json.loads(kubectl("get", "ccp", "mixed", "-o", "json").stdout).get("status", {})
        if check(status):
            return status
        time.sleep(0.5)
    raise AssertionError(f"profile status never got there: {json.dumps(status, indent=1)}")


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions", [])}


@pytest.fixture
def mixed_fleet(kcost_crds: DevCluster, kubectl: Any, prometheus: Prometheus, smoke_end_s: int) -> Any:
    kcost_crds.apply_nodes(mixed_cloud_nodes())
    assert kubectl("apply", "-f", "-", input_text=_profile(prometheus.url)).returncode == 0
    yield
    kubectl("delete", "ccp", "mixed", "--timeout=30s")


def test_catalog_prices_a_mixed_fleet_and_costs_add_up(
    mixed_fleet: Any, kubectl: Any, spawn: Any, tmp_path: Path
) -> None:
    database = tmp_path / "history.db"
    spawn("operator", "operator")
    spawn(
        "cost",
        "analyzer",
        "cost",
        env={"KCOST_COST_INTERVAL_SECONDS": "2", "KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{database}"},
    )
    status = _wait_status(kubectl, lambda s: _conditions(s).get("Ready", {}).get("status") == "True")
    nodes = {(n["instanceType"], n["region"], n["capacityType"]): n for n in status["nodes"]}
    expected = {
        ("m5.large", "us-east-1", "on-demand"): (0.096, "catalog"),
        ("e2-standard-4", "us-central1", "on-demand"): (0.13402, "catalog"),
        ("Standard_D4s_v5", "eastus", "on-demand"): (0.192, "catalog"),
        # The catalog has no AWS spot prices: the default spot unit rates apply, and status says so.
        ("m5.large", "us-east-1", "spot"): (2 * 0.006655 + 8 * 0.000892, "default"),
    }
    for key, (price, source) in expected.items():
        assert nodes[key]["hourlyPrice"] == pytest.approx(price, rel=1e-4), key
        assert nodes[key]["priceSource"] == source, key
    assert status["pricesAsOf"].startswith("2026-")
    hourly = status["hourlyCost"]
    parts = hourly["cpu"] + hourly["memory"] + hourly["gpu"] + hourly.get("storage", 0) + hourly["idle"]
    assert parts == pytest.approx(hourly["total"], abs=1e-3), "allocated + idle = total"
    assert hourly["total"] == pytest.approx(sum(n["hourlyPrice"] * n["count"] for n in status["nodes"]), rel=1e-3)
    assert status["monthlyCost"]["total"] == pytest.approx(hourly["total"] * 730, rel=1e-3)
    namespaces = {n["namespace"]: n["monthlyCost"] for n in status["topNamespaces"]}
    allocated_monthly = (hourly["cpu"] + hourly["memory"] + hourly["gpu"]) * 730
    assert sum(namespaces.values()) <= allocated_monthly + 0.05
    assert "shop" in namespaces, "the smoke scenario's workloads are allocated"
    conditions = _conditions(status)
    assert conditions["PricingReady"]["status"] == "True"
    assert "no price for m5.large (spot, us-east-1): default unit rates used" in conditions["PricingReady"]["message"]
    assert conditions["Ready"]["status"] == "True", conditions["Ready"]["message"]
    assert conditions["WithinBudget"]["status"] == "False"
    assert conditions["WithinBudget"]["reason"] == "Above100Percent"
    wait_for_event(kubectl, "default", lambda line: line.startswith("BudgetThresholdCrossed:"), "mixed")
    # Daily cost rows reach the history store; a retried write never duplicates a row.
    deadline = time.monotonic() + 30
    rows: list[tuple[str, float]] = []
    while time.monotonic() < deadline and not rows:
        if database.exists():
            with sqlite3.connect(database) as connection:
                try:
                    rows = connection.execute(
                        "select namespace, total_usd from daily_costs where cluster = 'mixed'"
                    ).fetchall()
                except sqlite3.OperationalError:
                    rows = []
        time.sleep(0.5)
    by_namespace = dict(rows)
    assert len(by_namespace) == len(rows), "one row per namespace and day"
    assert sum(by_namespace.values()) == pytest.approx(hourly["total"] * 24, rel=0.05)


async def test_usage_comes_through_a_prometheus_that_demands_the_profiles_credentials(
    kcost_crds: DevCluster, kubectl: Any, prometheus: Prometheus, smoke_end_s: int
) -> None:
    """Allocation is max(request, usage): usage must be read with the profile's credentials, not skipped."""
    suffix = uuid.uuid4().hex[:6]
    namespace, name = f"prom-auth-{suffix}", f"auth-{suffix}"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "prometheus-auth", "namespace": namespace},
        "data": {"auth": base64.b64encode(b"kcost:s3cret").decode()},
    }
    proxy = FaultyProxy(prometheus.url, authorization=aiohttp.encode_basic_auth("kcost", "s3cret"))
    profile = custom_profile(name, proxy.url)
    profile["spec"]["prometheus"]["basicAuthSecretRef"] = {
        "name": "prometheus-auth",
        "namespace": namespace,
        "key": "auth",
    }
    assert kubectl("create", "namespace", namespace).returncode == 0
    try:
        for document in (secret, profile):
            result = kubectl("apply", "-f", "-", input_text=json.dumps(document))
            assert result.returncode == 0, result.stderr
        reports: dict[str, cost.ProfileReport] = {}

        async def keep(profile: Any, report: cost.ProfileReport) -> None:
            reports[profile.name] = report

        at = datetime.datetime.fromtimestamp(smoke_end_s, datetime.UTC)
        async with connect(str(kcost_crds.require_state().admin_kubeconfig)) as kube:
            await cost.run_once(kube, PricerFactory(kube), now=at, on_report=keep)
        used = [c.use for c in reports[name].allocation.containers if c.use.cpu_usage_cores > 0]
        assert proxy.refused == 0, "every request carried the profile's credentials"
        assert proxy.requests >= 2, "CPU and memory usage were both asked for"
        assert used, "containers are allocated by usage too, not by requests only"
        assert any(u.memory_usage_bytes > 0 for u in used)
    finally:
        proxy.close()
        kubectl("delete", "ccp", name, "--timeout=30s")
        kubectl("delete", "namespace", namespace, "--wait=false")


async def test_a_profile_in_another_currency_is_refused_and_its_figures_say_usd(
    kcost_crds: DevCluster, kubectl: Any, prometheus: Prometheus, smoke_end_s: int
) -> None:
    name = f"euros-{uuid.uuid4().hex[:6]}"
    profile = custom_profile(name, prometheus.url)
    profile["spec"]["pricing"]["currency"] = "EUR"
    profile["spec"]["budget"] = {"monthly": 1, "alertThresholdsPercent": [50]}
    result = kubectl("apply", "-f", "-", input_text=json.dumps(profile))
    assert result.returncode == 0, result.stderr
    try:
        reports: dict[str, cost.ProfileReport] = {}

        async def keep(profile: Any, report: cost.ProfileReport) -> None:
            reports[profile.name] = report

        async with connect(str(kcost_crds.require_state().admin_kubeconfig)) as kube:
            await cost.run_once(kube, PricerFactory(kube), on_report=keep)
        status = json.loads(kubectl("get", "ccp", name, "-o", "json").stdout)["status"]
        pricing = _conditions(status)["PricingReady"]
        assert (pricing["status"], pricing["reason"]) == ("False", "UnsupportedCurrency")
        assert "spec.pricing.currency is 'EUR'" in pricing["message"]
        assert "USD only" in pricing["message"]
        assert status["currency"] == "USD", "the figures are dollars and say so"
        assert "WithinBudget" not in _conditions(status), "a budget in euros is not compared with dollars"
        assert reports[name].events[0][1] == "UnsupportedCurrency"
    finally:
        kubectl("delete", "ccp", name, "--timeout=30s")
