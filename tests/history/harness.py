"""What the history contracts share: the store fixture, sample rows, and a database that is down.

The contracts (``*Contract`` classes in the ``test_*`` modules) run on SQLite here and on
a real PostgreSQL in ``e2e/test_history.py``; each place provides the ``database_url``
and ``outage`` fixtures.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kcost.history.models import (
    AnalysisRecord,
    ClusterRecord,
    DailyCost,
    HistoryTable,
    InstancePrice,
    RecommendationChange,
    WorkloadDailyCost,
    WorkloadUsageDaily,
    table_of,
)
from kcost.history.store import HistoryStore

DAY0 = datetime.date(2026, 11, 1)
T0 = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)
GIB = 1024**3
# Column values by name; plain strings stand in for enumerations, as callers may pass them.
Fields = dict[str, Any]


@dataclass
class Outage:
    """A database URL that is down until ``restore()`` brings it up."""

    url: str
    restore: Callable[[], Awaitable[None]]
    #: What the logs may show of the URL (its host), and the password they must not.
    host: str
    password: str | None


def days(count: int, start: datetime.date = DAY0) -> list[datetime.date]:
    """``count`` consecutive days from ``start``."""
    return [start + datetime.timedelta(days=offset) for offset in range(count)]


def daily_cost(namespace: str = "shop", day: datetime.date = DAY0, **values: Any) -> DailyCost:
    """A day of one namespace's cost in cluster ``prod``: 1 USD of CPU, 2 of memory, 3 in total unless given."""
    fields: Fields = {
        "cluster": "prod",
        "namespace": namespace,
        "day": day,
        "cpu_usd": 1.0,
        "memory_usd": 2.0,
        "total_usd": 3.0,
    }
    return DailyCost(**(fields | values))


def workload_cost(
    name: str = "web", day: datetime.date = DAY0, labels: dict[str, str] | None = None, **values: Any
) -> WorkloadDailyCost:
    """A day of one Deployment's cost in namespace ``shop`` of cluster ``prod``: 1 USD of CPU, 3 in total unless
    given; labelled ``team: a`` unless given."""
    fields: Fields = {
        "cluster": "prod",
        "namespace": "shop",
        "kind": "Deployment",
        "name": name,
        "day": day,
        "cpu_usd": 1.0,
        "total_usd": 3.0,
        "labels": {"team": "a"} if labels is None else labels,
    }
    return WorkloadDailyCost(**(fields | values))


def usage(name: str = "web", day: datetime.date = DAY0, **values: Any) -> WorkloadUsageDaily:
    """A day of one Deployment's usage: 0.2/0.5/0.9 cores and 1/2/3 GiB unless given."""
    fields: Fields = {
        "cluster": "prod",
        "namespace": "shop",
        "kind": "Deployment",
        "name": name,
        "day": day,
        "cpu_p50_cores": 0.2,
        "cpu_p95_cores": 0.5,
        "cpu_max_cores": 0.9,
        "memory_p50_bytes": GIB,
        "memory_p95_bytes": 2 * GIB,
        "memory_max_bytes": 3 * GIB,
    }
    return WorkloadUsageDaily(**(fields | values))


def change(phase: str = "Proposed", at: datetime.datetime = T0, **values: Any) -> RecommendationChange:
    """A phase change of recommendation ``shop/web-rightsizing`` in cluster ``prod``."""
    fields: Fields = {
        "cluster": "prod",
        "namespace": "shop",
        "name": "web-rightsizing",
        "phase": phase,
        "changed_at": at,
        "target_kind": "Deployment",
        "target_name": "web",
        "type": "right-sizing",
        "estimated_monthly_savings_usd": 42.5,
        "confidence": 0.9,
        "risk_level": "low",
    }
    return RecommendationChange(**(fields | values))


def analysis(phase: str = "Running", **values: Any) -> AnalysisRecord:
    """Run ``r1`` of Analysis ``nightly`` in cluster ``prod``."""
    fields: Fields = {"cluster": "prod", "name": "nightly", "run_id": "r1", "phase": phase, "started_at": T0}
    return AnalysisRecord(**(fields | values))


def cluster(**values: Any) -> ClusterRecord:
    """Cluster ``prod`` on AWS in eu-west-1."""
    fields: Fields = {"name": "prod", "provider": "aws", "region": "eu-west-1", "created_at": T0}
    return ClusterRecord(**(fields | values))


def price(instance_type: str = "m5.large", **values: Any) -> InstancePrice:
    """An on-demand AWS price in eu-west-1, fetched at T0."""
    fields: Fields = {
        "provider": "aws",
        "region": "eu-west-1",
        "instance_type": instance_type,
        "capacity_type": "on-demand",
        "usd_per_hour": 0.096,
        "source": "api",
        "fetched_at": T0,
    }
    return InstancePrice(**(fields | values))


async def count_rows(engine: AsyncEngine, model: type[HistoryTable]) -> int:
    """How many rows a history table holds."""
    async with engine.connect() as connection:
        result = await connection.execute(select(func.count()).select_from(table_of(model)))
        return int(result.scalar_one())


class StoreHarness:
    """Fixtures of every contract; subclasses get ``database_url`` from their module or conftest."""

    @pytest.fixture
    async def store(self, database_url: str) -> AsyncIterator[HistoryStore]:
        store = HistoryStore()
        await store.connect(database_url)
        yield store
        await store.close()

    @pytest.fixture
    async def engine(self, database_url: str) -> AsyncIterator[AsyncEngine]:
        """A second, plain connection to the same database, to look behind the store's back."""
        engine = create_async_engine(database_url)
        yield engine
        await engine.dispose()
