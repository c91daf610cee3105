"""``/api/v1/costs/history`` sums what the history store's own query sums, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from kcost.devcluster.postgres import ThrowawayPostgres
from kcost.history.models import DailyCost
from kcost.history.queries import CostGroup
from kcost.history.store import HistoryStore
from kcost.statusapi import app
from kcost.statusapi.auth import Identity
from tests.statusapi import fakes

START = datetime.date(2026, 1, 20)
DAYS = 45
NAMESPACES = ("shop", "bank", "ops")


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HistoryStore]:
    if request.param == "postgresql":
        server: ThrowawayPostgres = request.getfixturevalue("postgres")
        url = server.url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"
    history = HistoryStore()
    await history.connect(url)
    yield history
    await history.close()


async def test_history_totals_equal_the_store_query(store: HistoryStore) -> None:
    cluster = f"c-{uuid.uuid4().hex[:8]}"
    await store.upsert_daily_costs(
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
    )
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
