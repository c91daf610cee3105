"""``/api/v1/costs/history`` sums what the history store's own query sums, and what ``kubectl cost costs``
answers for the same range, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kcost.devcluster import binaries
from kcost.devcluster.postgres import ThrowawayPostgres
from kcost.history.models import DailyCost, WorkloadDailyCost
from kcost.history.queries import CostGroup
from kcost.history.store import HistoryStore
from kcost.statusapi import app
from kcost.statusapi.auth import Identity
from tests.statusapi import fakes

START = datetime.date(2026, 1, 20)
DAYS = 45
NAMESPACES = ("shop", "bank", "ops")
# Each namespace's cost splits over two workloads: "web" (70%, labelled team=<namespace's team>) and "batch"
# (30%, unlabelled); shop and bank are one team, so a label value spans namespaces.
TEAMS = {"shop": "retail", "bank": "retail", "ops": "platform"}
WORKLOAD_SHARES = (("Deployment", "web", 0.7), ("CronJob", "batch", 0.3))


@dataclass(frozen=True)
class Database:
    """A history store and the URL another process reaches it at."""

    store: HistoryStore
    url: str


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        server: ThrowawayPostgres = request.getfixturevalue("postgres")
        url = server.url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    history = HistoryStore()
    await history.connect(url)
    yield Database(history, url)
    await history.close()


@pytest.fixture
def store(database: Database) -> HistoryStore:
    return database.store


async def _fill(store: HistoryStore) -> str:
    """A new cluster's 45 days of costs in three namespaces, and of their workloads; its name."""
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    namespaces = [
        DailyCost(
            cluster=cluster,
            namespace=namespace,
            day=START + datetime.timedelta(days=day),
            cpu_usd=0.37 * (index + 1) + day / 100,
            memory_usd=0.11 * day,
            idle_usd=0.05,
            total_usd=0.37 * (index + 1) + day / 100 + 0.11 * day + 0.05,
        )
        for index, namespace in enumerate(NAMESPACES)
        for day in range(DAYS)
    ]
    await store.upsert_daily_costs(namespaces)
    await store.upsert_workload_costs(
        WorkloadDailyCost(
            cluster=cluster,
            namespace=row.namespace,
            kind=kind,
            name=name,
            day=row.day,
            labels={"team": TEAMS[row.namespace]} if name == "web" else {},
            **{f"{amount}_usd": getattr(row, f"{amount}_usd") * share for amount in ("cpu", "memory", "idle", "total")},
        )
        for row in namespaces
        for kind, name, share in WORKLOAD_SHARES
    )
    return cluster


async def test_history_totals_equal_the_store_query(store: HistoryStore) -> None:
    cluster = await _fill(store)
    reader = Identity("reader")
    grants = {("reader", "get", "optimizationrecommendations", ns) for ns in ("shop", "bank")}
    state = fakes.state(fakes.FakeReviews(tokens={"t": reader}, grants=grants), store=store)
    end = START + datetime.timedelta(days=DAYS - 1)
    expected = {
        row.namespace: row.total_usd
        for row in await store.daily_costs(cluster, START, end, group_by=[CostGroup.NAMESPACE])
        if row.namespace in ("shop", "bank")
    }
    async with TestClient(TestServer(app.build(state))) as client:
        for step in ("day", "week", "month"):
            query = f"/api/v1/costs/history?cluster={cluster}&from={START}&to={end}&step={step}"
            answer = await client.get(query, headers={"Authorization": "Bearer t"})
            assert answer.status == 200, await answer.text()
            history = await answer.json()
            by_namespace: dict[str, float] = {}
            for point in history["points"]:
                by_namespace[point["group"]] = by_namespace.get(point["group"], 0.0) + point["totalUsd"]
            assert by_namespace == pytest.approx(expected), step
            assert history["totals"]["totalUsd"] == pytest.approx(sum(expected.values())), step


def _kubectl_cost_costs(database_url: str, *args: str) -> dict[str, dict[str, float]]:
    """``kubectl cost costs … -o json`` through kubectl's plugin discovery: each namespace's amounts."""
    done = subprocess.run(
        [binaries.kubectl(), "cost", "costs", *args, "-o", "json"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "KCOST_DATABASE_URL": database_url,
        },
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {item["name"]: item for item in json.loads(done.stdout)["items"]}


@pytest.mark.parametrize(
    ("group_by", "by", "groups"),
    [
        ("namespace", "namespace", set(NAMESPACES)),
        ("workload", "workload", {f"{ns}/{kind}/{name}" for ns in NAMESPACES for kind, name, _ in WORKLOAD_SHARES}),
        ("label:team", "label=team", {"retail", "platform", "__unallocated__"}),
    ],
)
async def test_history_totals_equal_kubectl_cost_costs_for_the_same_range(
    database: Database, group_by: str, by: str, groups: set[str]
) -> None:
    cluster = await _fill(database.store)
    admin = Identity("admin")
    grants = {("admin", "get", "optimizationrecommendations", "")}
    state = fakes.state(fakes.FakeReviews(tokens={"t": admin}, grants=grants), store=database.store)
    # A range inside the data, so that days outside it would change the sums if they were counted.
    start, end = START + datetime.timedelta(days=3), START + datetime.timedelta(days=DAYS - 5)
    async with TestClient(TestServer(app.build(state))) as client:
        query = f"/api/v1/costs/history?cluster={cluster}&from={start}&to={end}&step=week&groupBy={group_by}"
        answer = await client.get(query, headers={"Authorization": "Bearer t"})
        assert answer.status == 200, await answer.text()
        history = await answer.json()
    api_totals: dict[str, dict[str, float]] = {}
    for point in history["points"]:
        sums = api_totals.setdefault(point["group"], {})
        for amount in ("cpu", "memory", "idle", "total"):
            sums[amount] = sums.get(amount, 0.0) + point[f"{amount}Usd"]

    by_dates = _kubectl_cost_costs(
        database.url, "--profile", cluster, "--from", str(start), "--to", str(end), "--by", by
    )

    assert set(by_dates) == set(api_totals) == groups
    for group, sums in api_totals.items():
        for amount, usd in sums.items():
            # kubectl cost prints cents.
            assert by_dates[group][amount] == pytest.approx(usd, abs=0.005), (group, amount)
    grand_total = sum(item["total"] for item in by_dates.values())
    assert grand_total == pytest.approx(history["totals"]["totalUsd"], abs=0.005 * len(groups))
    # Every grouping splits the same money: the workloads add up to their namespaces.
    namespace_total = sum(row.total_usd for row in await database.store.daily_costs(cluster, start, end, group_by=[]))
    assert history["totals"]["totalUsd"] == pytest.approx(namespace_total)
