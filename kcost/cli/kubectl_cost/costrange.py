"""``kubectl cost costs`` over past days: each namespace's, workload's or label value's cost summed over a
range, from the history store.

The range reads as the status API's ``/api/v1/costs/history`` reads ``from`` and ``to``
(both days included; ``to`` defaults to today in UTC, ``from`` to 30 days before it), and
the sums are the store's own ``grouped_costs`` query with the groups named by the same
``Grouping``, so both answer the same totals.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from kcost.cli.kubectl_cost import errors, outputs, units

if TYPE_CHECKING:
    from kcost.history.grouping import Grouping
    from kcost.history.queries import CostTotals

Body = dict[str, Any]
# The status API's defaults and bound for a history range.
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
AMOUNTS = ("cpu", "memory", "gpu", "storage", "network", "idle", "total")


@dataclass(frozen=True)
class DayRange:
    """From ``start_day`` to ``end_day``, both included."""

    start_day: datetime.date
    end_day: datetime.date


def chosen_range(
    from_day: datetime.datetime | None, to_day: datetime.datetime | None, days: int | None
) -> DayRange | None:
    """The range ``--from``, ``--to`` and ``--days`` ask for; None when none is given (today's allocation)."""
    if from_day is None and to_day is None and days is None:
        return None
    if from_day is not None and days is not None:
        raise click.BadParameter("give --from or --days, not both", param_hint="--days")
    end_day = to_day.date() if to_day else datetime.datetime.now(datetime.UTC).date()
    length = days or DEFAULT_DAYS
    start_day = from_day.date() if from_day else end_day - datetime.timedelta(days=length - 1)
    if start_day > end_day:
        raise click.BadParameter(f"{start_day} is after --to {end_day}", param_hint="--from")
    if (end_day - start_day).days >= MAX_DAYS:
        raise click.BadParameter(f"a range of at most {MAX_DAYS} days; ask for several ranges", param_hint="--from")
    return DayRange(start_day, end_day)


def grouping_of(group_by: str) -> Grouping:
    """``--by namespace``, ``workload`` or ``label=KEY`` as the history store groups a range."""
    from kcost.history.grouping import Grouping

    if group_by not in ("namespace", "workload") and not group_by.startswith("label="):
        raise click.BadParameter("a range of days is grouped by namespace, workload or label=KEY", param_hint="--by")
    try:
        return Grouping.parse(group_by, label_separator="=")
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--by") from None


def read_totals(
    database_url: str | None, cluster: str, days: DayRange, grouping: Grouping
) -> dict[str, dict[str, float]]:
    """Each group's costs over ``days`` for ``cluster``, as the history store sums them, by group name."""
    import asyncio

    from kcost.history.store import HistoryStore

    if not database_url:
        errors.fail(
            "a range of days is read from the history store: pass --database-url or set KCOST_DATABASE_URL "
            "(`kcost dev-cluster env` exports it)",
            errors.EXIT_UNREACHABLE,
        )

    async def read() -> list[CostTotals]:
        store = HistoryStore()
        try:
            await store.connect(database_url)
            return await store.grouped_costs(cluster, days.start_day, days.end_day, grouping, per_day=False)
        finally:
            await store.close()

    try:
        return summed(asyncio.run(read()), grouping)
    except OSError as error:
        errors.fail(f"history store unreachable ({type(error).__name__}: {error})", errors.EXIT_UNREACHABLE)


def summed(rows: list[CostTotals], grouping: Grouping) -> dict[str, dict[str, float]]:
    """The store's rows (one per namespace and group) summed per group name, in USD by amount: a label's
    value spans namespaces."""
    by_name: dict[str, dict[str, float]] = {}
    for row in rows:
        sums = by_name.setdefault(grouping.group_of(row), dict.fromkeys(AMOUNTS, 0.0))
        for amount in AMOUNTS:
            sums[amount] += getattr(row, f"{amount}_usd")
    return by_name


def emit(totals: dict[str, dict[str, float]], cluster: str, days: DayRange, grouping: Grouping, output: str) -> None:
    """Print each group's costs over ``days``, the most expensive first, and the range's total."""
    items: list[Body] = [
        {"name": name, **{amount: round(usd, 2) for amount, usd in sums.items()}}
        for name, sums in sorted(totals.items(), key=lambda item: (-item[1]["total"], item[0]))
    ]
    money = {amount: _money_column(amount) for amount in AMOUNTS}
    title = grouping.label_key if grouping.label_key is not None else str(grouping.by)
    table = outputs.Table(
        columns=[
            outputs.Column(title.upper(), lambda i: i["name"]),
            money["cpu"],
            money["memory"],
            money["idle"],
            money["total"],
        ],
        wide=[money["gpu"], money["storage"], money["network"]],
    )
    outputs.emit(items, output, table)
    if not outputs.is_machine_readable(output):
        total_usd = sum(sums["total"] for sums in totals.values())
        click.echo(f"\ntotal {units.money(total_usd)} USD for {cluster} from {days.start_day} to {days.end_day}")


def _money_column(amount: str) -> outputs.Column:
    return outputs.Column(f"{amount.upper()} USD", lambda i: units.money(i[amount]), numeric=True)
