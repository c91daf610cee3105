"""The cost analyzer's history rows: per namespace and per workload from one allocation, adding up alike."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from kcost.analyzers.cost import analyzer, model
from kcost.history.grouping import IDLE, GroupBy, Grouping
from kcost.history.models import DailyCost, WorkloadDailyCost
from kcost.history.store import HistoryStore

DAY = datetime.date(2026, 11, 3)
GIB = model.GIB


def _pod(namespace: str, pod: str, kind: str, name: str, cpu: float, **labels: str) -> model.ContainerUse:
    return model.ContainerUse(
        namespace, pod, "app", "n1", kind, name, labels, cpu_request_cores=cpu, memory_request_bytes=cpu * GIB
    )


def _allocation() -> model.Allocation:
    identity = model.NodeIdentity("aws", "us-east-1", "m5.2xlarge", "on-demand")
    node = model.price_node("n1", identity, 8, 32, 0, hourly_price=0.384, price_source="catalog")
    return model.allocate(
        [node],
        [
            # Two ReplicaSets of one Deployment mid-rollout; only "team" is on both.
            _pod("shop", "web-a-1", "ReplicaSet", "web-a", 1.0, team="a", tier="front", **{"pod-template-hash": "a"}),
            _pod("shop", "web-b-1", "ReplicaSet", "web-b", 0.5, team="a", **{"pod-template-hash": "b"}),
            _pod("shop", "db-0", "StatefulSet", "db", 2.0, team="b", **{"controller-revision-hash": "db-1"}),
            _pod("bank", "api-1", "ReplicaSet", "api-x", 0.25, **{"pod-template-hash": "x"}),
            _pod("bank", "debug", "", "", 0.1, team="a"),
        ],
    )


def test_workload_rows_add_up_to_the_namespace_rows() -> None:
    allocation = _allocation()
    rows = analyzer.history_rows("prod", DAY, allocation)
    namespaces = {row.namespace: row for row in rows if isinstance(row, DailyCost)}
    workloads = [row for row in rows if isinstance(row, WorkloadDailyCost)]
    assert set(namespaces) == {"shop", "bank", IDLE}
    for namespace, expected in namespaces.items():
        mine = [row for row in workloads if row.namespace == namespace]
        for amount in ("cpu_usd", "memory_usd", "gpu_usd", "idle_usd", "total_usd"):
            assert sum(getattr(row, amount) for row in mine) == pytest.approx(getattr(expected, amount)), amount
    assert sum(row.total_usd for row in workloads) == pytest.approx(0.384 * 24)


def test_workloads_are_named_by_their_controller_and_keep_the_labels_their_pods_share() -> None:
    workloads = {
        (row.namespace, row.kind, row.name): row.labels
        for row in analyzer.workload_cost_rows("prod", DAY, _allocation())
    }
    assert workloads == {
        ("shop", "Deployment", "web"): {"team": "a"},
        ("shop", "StatefulSet", "db"): {"team": "b"},
        ("bank", "Deployment", "api"): {},
        ("bank", "Pod", "debug"): {"team": "a"},
        (IDLE, IDLE, IDLE): {},
    }


async def test_written_twice_a_day_the_store_sums_every_grouping_to_the_namespace_total(tmp_path: Path) -> None:
    store = HistoryStore()
    await store.connect(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    try:
        allocation = _allocation()
        # A second pass the same day replaces the first: nothing is counted twice.
        for _ in range(2):
            await store.write(analyzer.history_rows("prod", DAY, allocation))
        by_namespace = await store.grouped_costs("prod", DAY, DAY, Grouping(GroupBy.NAMESPACE))
        total = sum(row.total_usd for row in by_namespace)
        assert total == pytest.approx(0.384 * 24)
        for grouping in (Grouping(GroupBy.WORKLOAD), Grouping(GroupBy.LABEL, "team")):
            rows = await store.grouped_costs("prod", DAY, DAY, grouping)
            assert sum(row.total_usd for row in rows) == pytest.approx(total), grouping
            per_namespace: dict[str, float] = {}
            for row in rows:
                per_namespace[row.namespace or ""] = per_namespace.get(row.namespace or "", 0.0) + row.total_usd
            assert per_namespace == pytest.approx({row.namespace: row.total_usd for row in by_namespace})
        teams = Grouping(GroupBy.LABEL, "team")
        assert {teams.group_of(row) for row in await store.grouped_costs("prod", DAY, DAY, teams)} == {
            "a",
            "b",
            "__unallocated__",
            IDLE,
        }
    finally:
        await store.close()
