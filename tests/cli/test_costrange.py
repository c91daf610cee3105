"""`kubectl cost costs --from/--to/--days` reads a range of days as the status API's history does."""

from __future__ import annotations

import datetime

import click
import pytest

from kcost.cli.kubectl_cost.costrange import DayRange, chosen_range, grouping_of, summed
from kcost.history.grouping import GroupBy, Grouping
from kcost.history.queries import CostTotals


def _day(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def test_no_range_means_todays_allocation() -> None:
    assert chosen_range(None, None, None) is None


def test_days_count_back_from_to_with_both_ends_included() -> None:
    assert chosen_range(None, _day("2026-03-31"), 7) == DayRange(datetime.date(2026, 3, 25), datetime.date(2026, 3, 31))
    assert chosen_range(_day("2026-03-25"), _day("2026-03-31"), None) == chosen_range(None, _day("2026-03-31"), 7)


def test_from_alone_ends_today_and_to_alone_starts_30_days_before() -> None:
    today = datetime.datetime.now(datetime.UTC).date()
    assert chosen_range(_day("2026-01-01"), None, None) == DayRange(datetime.date(2026, 1, 1), today)
    assert chosen_range(None, _day("2026-03-31"), None) == DayRange(
        datetime.date(2026, 3, 2), datetime.date(2026, 3, 31)
    )


@pytest.mark.parametrize(
    ("from_day", "to_day", "days", "flag"),
    [
        ("2026-03-02", "2026-03-01", None, "--from"),
        ("2026-03-01", None, 3, "--days"),
        ("2020-01-01", "2026-03-31", None, "--from"),
    ],
)
def test_a_wrong_range_names_the_flag(from_day: str, to_day: str | None, days: int | None, flag: str) -> None:
    with pytest.raises(click.BadParameter) as raised:
        chosen_range(_day(from_day), _day(to_day) if to_day else None, days)
    assert raised.value.param_hint == flag


def test_by_workload_and_by_label_read_the_history_store_as_the_api_does() -> None:
    assert grouping_of("namespace") == Grouping(GroupBy.NAMESPACE)
    assert grouping_of("workload") == Grouping(GroupBy.WORKLOAD)
    assert grouping_of("label=app.kubernetes.io/name") == Grouping(GroupBy.LABEL, "app.kubernetes.io/name")


@pytest.mark.parametrize(
    ("by", "message"),
    [("node", "grouped by namespace, workload or label=KEY"), ("label=-x", "'-x' is not a Kubernetes label key")],
)
def test_a_grouping_the_history_store_cannot_answer_names_the_flag(by: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=message) as raised:
        grouping_of(by)
    assert raised.value.param_hint == "--by"


def test_a_label_value_sums_across_namespaces() -> None:
    def row(namespace: str, team: str | None, total: float) -> CostTotals:
        return CostTotals("c", namespace, None, total, 0, 0, 0, 0, 0, total, label_value=team)

    rows = [row("shop", "a", 1.0), row("bank", "a", 2.0), row("bank", None, 4.0)]
    totals = summed(rows, Grouping(GroupBy.LABEL, "team"))
    assert {name: sums["total"] for name, sums in totals.items()} == {"a": 3.0, "__unallocated__": 4.0}
