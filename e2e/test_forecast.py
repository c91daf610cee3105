"""The cost forecast on the dev cluster: from seeded history to the profile's status and the status API."""

from __future__ import annotations

import asyncio
import datetime
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import Prometheus, custom_profile
from e2e.webhook_support import poll
from kcost.devcluster.processes import free_port
from kcost.history.models import DailyCost
from kcost.history.store import HistoryStore

HISTORY_DAYS = 28
BUDGET_USD = 1000.0


def _weekday_cost(day: datetime.date) -> float:
    return 20.0 if day.weekday() >= 5 else 60.0


async def _seed(database_url: str, cluster: str, web: str, batch: str) -> None:
    """Four weeks up to yesterday: ``web`` follows the week (60 on weekdays, 20 at weekends), ``batch`` is flat."""
    today = datetime.datetime.now(datetime.UTC).date()
    days = [today - datetime.timedelta(days=back) for back in range(HISTORY_DAYS, 0, -1)]
    store = HistoryStore()
    await store.connect(database_url)
    try:
        await store.upsert_daily_costs(
            DailyCost(cluster=cluster, namespace=namespace, day=day, total_usd=cost(day))
            for day in days
            for namespace, cost in ((web, _weekday_cost), (batch, lambda _: 40.0))
        )
    finally:
        await store.close()


@pytest.fixture
def forecast_profile(kcost_crds: Any, kubectl: Any, prometheus: Prometheus, tmp_path: Path) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    names = {
        "profile": f"forecast-{suffix}",
        "web": f"fc-web-{suffix}",
        "batch": f"fc-batch-{suffix}",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'history.db'}",
    }
    asyncio.run(_seed(names["database_url"], names["profile"], names["web"], names["batch"]))
    profile = custom_profile(names["profile"], prometheus.url)
    profile["spec"]["budget"] = {"monthly": BUDGET_USD, "alertThresholdsPercent": [50, 80, 100]}
    assert kubectl("apply", "-f", "-", input_text=json.dumps(profile)).returncode == 0
    yield names
    kubectl("delete", "ccp", names["profile"], "--timeout=30s")


@pytest.fixture
def reader_token(kubectl: Any) -> Iterator[str]:
    """A ServiceAccount that may get recommendations everywhere, as the history and forecast require."""
    suffix = uuid.uuid4().hex[:6]
    namespace, role = f"fc-users-{suffix}", f"fc-reader-{suffix}"
    assert kubectl("create", "namespace", namespace).returncode == 0
    assert kubectl("create", "serviceaccount", "reader", "-n", namespace).returncode == 0
    created = kubectl(
        "create", "clusterrole", role, "--verb=get,list", "--resource=optimizationrecommendations.optimizer.kcost.dev"
    )
    assert created.returncode == 0, created.stderr
    bound = kubectl(
        "create", "clusterrolebinding", role, f"--clusterrole={role}", f"--serviceaccount={namespace}:reader"
    )
    assert bound.returncode == 0, bound.stderr
    token = kubectl("create", "token", "reader", "-n", namespace, "--duration=1h").stdout.strip()
    assert token, "no token for the reader"
    yield token
    kubectl("delete", "clusterrolebinding,clusterrole", role, "--wait=false")
    kubectl("delete", "namespace", namespace, "--wait=false")


def _status(kubectl: Any, name: str) -> dict[str, Any]:
    answer = kubectl("get", "ccp", name, "-o", "json")
    return dict(json.loads(answer.stdout).get("status") or {}) if answer.returncode == 0 else {}


def _forecast_of(kubectl: Any, name: str) -> dict[str, Any] | None:
    """The forecast once it includes today's row, which the cost analyzer writes beside it."""
    forecast = _status(kubectl, name).get("forecast")
    return forecast if forecast and forecast["historyDays"] == HISTORY_DAYS + 1 else None


def _answered(url: str, token: str) -> tuple[int, Any] | None:
    """The endpoint's answer once the API listens (None before)."""
    status, body = _get(url, token)
    return (status, body) if status else None


def _get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, None


def test_the_profile_and_the_api_show_a_forecast_from_the_history(
    forecast_profile: dict[str, str], reader_token: str, kubectl: Any, spawn: Any
) -> None:
    name, database_url = forecast_profile["profile"], forecast_profile["database_url"]
    spawn("cost", "analyzer", "cost", env={"KCOST_COST_INTERVAL_SECONDS": "2", "KCOST_DATABASE_URL": database_url})
    forecast = poll("the profile's forecast of 29 days", lambda: _forecast_of(kubectl, name), timeout_s=120)
    today = datetime.datetime.now(datetime.UTC).date()
    assert forecast["method"] == "seasonal-naive"
    assert "prophet did not beat it" in forecast["reason"]
    # The seeded four weeks, and today's row the cost analyzer wrote itself.
    assert forecast["historyDays"] == HISTORY_DAYS + 1
    assert forecast["horizonDays"] == 30
    seeded_this_month = sum(
        _weekday_cost(day) + 40.0
        for day in (today - datetime.timedelta(days=back) for back in range(HISTORY_DAYS, 0, -1))
        if day.month == today.month
    )
    assert forecast["monthEndCostLower"] <= forecast["monthEndCost"] <= forecast["monthEndCostUpper"]
    assert forecast["monthEndCost"] >= seeded_this_month
    # About 89 USD a day: the month's running cost reaches each threshold of 1,000 USD within the horizon.
    crossings = {c["thresholdPercent"]: c.get("crossesOn") for c in forecast["budgetCrossings"]}
    assert set(crossings) == {50, 80, 100}
    dates = [datetime.date.fromisoformat(crossings[percent]) for percent in (50, 80, 100)]
    assert dates == sorted(dates)
    assert dates[0] >= today.replace(day=1)

    port = free_port()
    spawn(
        "api",
        "api",
        env={"KCOST_API_PORT": str(port), "KCOST_API_HOST": "127.0.0.1", "KCOST_DATABASE_URL": database_url},
    )
    url = f"http://127.0.0.1:{port}/api/v1/costs/forecast?cluster={name}"
    status, answer = poll("the forecast endpoint", lambda: _answered(url, reader_token), timeout_s=120)
    assert status == 200, answer
    assert answer["method"] == "seasonal-naive"
    assert len(answer["points"]) == 30
    assert answer["points"][0]["day"] == str(today + datetime.timedelta(days=1))
    status, batch = _get(f"{url}&namespace={forecast_profile['batch']}&horizonDays=14", reader_token)
    assert status == 200, batch
    assert [point["costUsd"] for point in batch["points"]] == [40.0] * 14
    assert batch["totalUsd"] == pytest.approx(14 * 40.0)
    status, web = _get(f"{url}&namespace={forecast_profile['web']}&horizonDays=7", reader_token)
    assert status == 200, web
    assert sorted(point["costUsd"] for point in web["points"]) == [20.0, 20.0, 60.0, 60.0, 60.0, 60.0, 60.0]
