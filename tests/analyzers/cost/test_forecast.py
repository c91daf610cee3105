"""The forecaster of the cost analyzer's process: one field, its own manager, refits only on new data."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kcost.analyzers.cost.forecast import FIELD_MANAGER, Forecaster
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.history.models import DailyCost
from kcost.history.store import HistoryStore

TODAY = datetime.date(2026, 4, 20)


class FakeKube:
    """One profile's body, updated by each status apply as the API server would merge it."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.applies: list[tuple[dict[str, Any], str]] = []

    async def list_raw(self, kind: type[Any]) -> list[dict[str, Any]]:
        assert kind is ClusterCostProfile
        return [self.body]

    async def apply(self, kind: type[Any], body: dict[str, Any], *, field_manager: str, status: bool) -> dict[str, Any]:
        assert status
        self.applies.append((body, field_manager))
        self.body = {**self.body, "status": {**self.body.get("status", {}), **body["status"]}}
        return self.body


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[HistoryStore]:
    history = HistoryStore()
    await history.connect(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    yield history
    await history.close()


def _rows(days: range, cost: float = 50.0) -> list[DailyCost]:
    return [
        DailyCost(cluster="prod", namespace=ns, day=TODAY - datetime.timedelta(days=back), total_usd=cost)
        for back in days
        for ns in ("shop", "__idle__")
    ]


async def test_the_forecast_is_written_alone_and_refitted_only_when_history_changes(store: HistoryStore) -> None:
    await store.upsert_daily_costs(_rows(range(1, 21)))  # twenty days up to yesterday, 100 USD a day
    body = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "ClusterCostProfile",
        "metadata": {"name": "prod"},
        "spec": {
            "provider": "aws",
            "prometheus": {"url": "http://prometheus:9090"},
            "budget": {"monthly": 3000, "alertThresholdsPercent": [50, 100]},
        },
        "status": {"projectedMonthlyCost": 1.0},
    }
    kube: Any = FakeKube(body)
    forecaster = Forecaster(store)
    assert await forecaster.run_once(kube, TODAY) == 1
    [(applied, manager)] = kube.applies
    assert manager == FIELD_MANAGER
    assert set(applied["status"]) == {"forecast"}, "the cost analyzer's fields are not this writer's"
    forecast = applied["status"]["forecast"]
    assert forecast["historyDays"] == 20
    # April to the 19th on record (1,900), then 100 a day for the 20th to the 30th.
    assert forecast["monthEndCost"] == pytest.approx(1900 + 11 * 100)
    assert forecast["budgetCrossings"] == [
        {"thresholdPercent": 50, "crossesOn": "2026-04-15"},
        {"thresholdPercent": 100, "crossesOn": "2026-04-30"},
    ]
    assert await forecaster.run_once(kube, TODAY) == 0, "same history and budget: no refit, no write"
    await store.upsert_daily_costs(_rows(range(1), cost=200.0))
    assert await forecaster.run_once(kube, TODAY) == 1
    assert kube.applies[-1][0]["status"]["forecast"]["historyDays"] == 21
