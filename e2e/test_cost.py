"""The cost analyzer on the real control plane: a mixed fleet priced from the catalog file."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SHARED_DATA, Prometheus
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import mixed_cloud_nodes


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
    events = json.loads(
        kubectl("get", "events", "-n", "default", "-o", "json", "--field-selector", "involvedObject.name=mixed").stdout
    )["items"]
    assert "BudgetThresholdCrossed" in {e["reason"] for e in events}
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
