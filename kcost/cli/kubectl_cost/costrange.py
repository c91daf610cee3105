"""``kubectl cost costs`` over past days: each namespace's cost summed over a range, from the history store.

The range reads as the status API's ``/api/v1/costs/history`` reads ``from`` and ``to``
(both days included; ``to`` defaults to today in UTC, ``from`` to 30 days before it), and
the sums are the store's own ``daily_costs`` query, so both answer the same totals.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from kcost.cli.kubectl_cost import errors, outputs, units

if TYPE_CHECKING:
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


def read_totals(database_url: str | None, cluster: str, days: DayRange) -> list[CostTotals]:
    """Each namespace's costs over ``days`` for ``cluster``, as the history store sums them."""
    import asyncio

    from kcost.history.queries import CostGroup
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
            return await store.daily_costs(cluster, days.start_day, days.end_day, group_by=[CostGroup.NAMESPACE])
        finally:
            await store.close()

    try:
        return asyncio.run(read())
    except OSError as error:
        errors.fail(f"history store unreachable ({type(error).__name__}: {error})", errors.EXIT_UNREACHABLE)


def emit(totals: list[CostTotals], cluster: str, days: DayRange, output: str) -> None:
    """Print each namespace's costs over ``days``, the most expensive first, and the range's total."""
    items: list[Body] = [
        {"name": row.namespace or "", **{amount: round(getattr(row, f"{amount}_usd"), 2) for amount in AMOUNTS}}
        for row in sorted(totals, key=lambda row: (-row.total_usd, row.namespace or ""))
    ]
    money = {amount: _money_column(amount) for amount in AMOUNTS}
    table = outputs.Table(
        columns=[
            outputs.Column("NAMESPACE", lambda i: i["name"]),
            money["cpu"],
            money["memory"],
            money["idle"],
            money["total"],
        ],
        wide=[money["gpu"], money["storage"], money["network"]],
    )
    outputs.emit(items, output, table)
    if not outputs.is_machine_readable(output):
        total_usd = sum(row.total_usd for row in totals)
        click.echo(f"\ntotal {units.money(total_usd)} USD for {cluster} from {days.start_day} to {days.end_day}")


def _money_column(amount: str) -> outputs.Column:
    return outputs.Column(f"{amount.upper()} USD", lambda i: units.money(i[amount]), numeric=True)
