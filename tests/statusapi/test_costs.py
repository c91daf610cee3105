"""Cost history: steps, roll-ups, and the reader that shares one query among many callers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from typing import Any

import pytest

from kcost.history.grouping import GroupBy, Grouping
from kcost.history.queries import CostTotals
from kcost.statusapi import costs
from kcost.statusapi.schemas import CostStep

BY_NAMESPACE, BY_CLUSTER = Grouping(GroupBy.NAMESPACE), Grouping(GroupBy.CLUSTER)


def _row(namespace: str, day: datetime.date, total: float) -> CostTotals:
    return CostTotals("c", namespace, day, total, 0, 0, 0, 0, 0, total)


def test_steps_start_on_monday_and_on_the_first() -> None:
    sunday = datetime.date(2026, 3, 1)
    assert costs.period_start(sunday, CostStep.WEEK) == datetime.date(2026, 2, 23)
    assert costs.period_start(datetime.date(2026, 3, 17), CostStep.MONTH) == datetime.date(2026, 3, 1)
    assert costs.period_start(sunday, CostStep.DAY) == sunday


def test_rollup_by_cluster_sums_namespaces_per_month() -> None:
    rows = [_row(ns, datetime.date(2026, 1, 30) + datetime.timedelta(days=d), 1.0) for ns in "ab" for d in range(4)]
    points, totals = costs.rollup(rows, BY_CLUSTER, CostStep.MONTH)
    assert [(p.period_start.month, p.group, p.total_usd) for p in points] == [(1, "c", 4.0), (2, "c", 4.0)]
    assert totals.total_usd == 8.0


class SlowStore:
    """Counts queries and how many ran at once."""

    def __init__(self, fail: bool = False) -> None:
        self.queries = 0
        self.running = 0
        self.most_at_once = 0
        self.fail = fail

    async def grouped_costs(self, cluster: str, *_: Any, **__: Any) -> list[CostTotals]:
        self.queries += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        if self.fail:
            raise RuntimeError("database down")
        return [_row(cluster, datetime.date(2026, 1, 1), 1.0)]


async def test_many_callers_of_one_range_share_one_query() -> None:
    store = SlowStore()
    reader = costs.HistoryReader(store)  # type: ignore[arg-type]
    day = datetime.date(2026, 1, 1)
    answers = await asyncio.gather(*(reader.daily_rows("c", day, day) for _ in range(200)))
    assert store.queries == 1
    assert all(answer == answers[0] for answer in answers)


async def test_distinct_ranges_never_run_more_queries_at_once_than_allowed() -> None:
    store = SlowStore()
    reader = costs.HistoryReader(store, max_queries=4)  # type: ignore[arg-type]
    day = datetime.date(2026, 1, 1)
    await asyncio.gather(*(reader.daily_rows(f"c{n}", day, day) for n in range(40)))
    assert store.queries == 40
    assert store.most_at_once == 4


async def test_a_failed_query_fails_its_waiters_and_is_not_cached() -> None:
    store = SlowStore(fail=True)
    reader = costs.HistoryReader(store)  # type: ignore[arg-type]
    day = datetime.date(2026, 1, 1)
    results = await asyncio.gather(*(reader.daily_rows("c", day, day) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    store.fail = False
    assert await reader.daily_rows("c", day, day)
    assert store.queries == 2


@pytest.mark.parametrize("step", list(CostStep))
def test_rollup_keeps_the_total(step: CostStep) -> None:
    rows = [_row("a", datetime.date(2026, 1, 1) + datetime.timedelta(days=d), 0.5 + d) for d in range(60)]
    points, totals = costs.rollup(rows, BY_NAMESPACE, step)
    assert sum(p.total_usd for p in points) == pytest.approx(totals.total_usd)
    assert totals.total_usd == pytest.approx(sum(0.5 + d for d in range(60)))


def _workload_row(namespace: str, name: str, team: str | None, total: float) -> CostTotals:
    row = _row(namespace, datetime.date(2026, 1, 5), total)
    return dataclasses.replace(row, workload_kind="Deployment", workload_name=name, label_value=team)


def test_rollup_by_label_sums_a_value_across_namespaces_and_keeps_idle_apart() -> None:
    rows = [
        _workload_row("shop", "web", "a", 1.0),
        _workload_row("bank", "api", "a", 2.0),
        _workload_row("bank", "cron", None, 4.0),
        _workload_row("__idle__", "__idle__", None, 8.0),
    ]
    points, totals = costs.rollup(rows, Grouping(GroupBy.LABEL, "team"), CostStep.WEEK)
    assert [(p.group, p.total_usd) for p in points] == [("__idle__", 8.0), ("__unallocated__", 4.0), ("a", 3.0)]
    assert totals.total_usd == 15.0
    by_workload, _ = costs.rollup(rows, Grouping(GroupBy.WORKLOAD), CostStep.DAY)
    assert [p.group for p in by_workload] == [
        "__idle__",
        "bank/Deployment/api",
        "bank/Deployment/cron",
        "shop/Deployment/web",
    ]


async def test_each_grouping_is_a_query_of_its_own_but_cluster_shares_the_namespace_one() -> None:
    store = SlowStore()
    reader = costs.HistoryReader(store)  # type: ignore[arg-type]
    day = datetime.date(2026, 1, 1)
    for grouping in (BY_NAMESPACE, BY_CLUSTER, Grouping(GroupBy.WORKLOAD), Grouping(GroupBy.LABEL, "team")):
        await reader.grouped_rows("c", day, day, grouping)
    assert store.queries == 3
