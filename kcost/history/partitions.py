"""Monthly range partitions of the daily tables on PostgreSQL: created on demand, dropped by retention.

A partition of ``daily_costs`` for November 2026 is ``daily_costs_y2026m11`` and holds
days from 2026-11-01 up to, not including, 2026-12-01. SQLite has no partitions; there
the daily tables are plain tables and none of this runs.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kcost.history.locks import hold_schema_lock
from kcost.history.models import DAILY_TABLES

_PARTITION_NAME = re.compile(r"^(?P<table>.+)_y(?P<year>\d{4})m(?P<month>\d{2})$")


def partitioned_tables() -> tuple[str, ...]:
    """The names of the tables partitioned by month on PostgreSQL: the daily ones."""
    return tuple(str(model.__tablename__) for model in DAILY_TABLES)


def month_of(day: datetime.date) -> datetime.date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def next_month(month: datetime.date) -> datetime.date:
    """The first day of the month after ``month``."""
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def partition_name(table: str, month: datetime.date) -> str:
    """The partition of ``table`` holding ``month``'s days."""
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def month_of_partition(table: str, name: str) -> datetime.date | None:
    """The month a partition holds, or None for a table this module did not name."""
    match = _PARTITION_NAME.match(name)
    if match is None or match["table"] != table:
        return None
    return datetime.date(int(match["year"]), int(match["month"]), 1)


async def ensure(connection: AsyncConnection, table: str, days: Iterable[datetime.date]) -> list[str]:
    """Create the partitions of ``table`` that ``days`` fall in and that do not exist yet; return their names."""
    missing = [
        month for month in sorted({month_of(day) for day in days}) if not await _exists(connection, table, month)
    ]
    if not missing:
        return []
    await hold_schema_lock(connection)
    quote = connection.dialect.identifier_preparer.quote
    for month in missing:
        # Names and bounds come from dates and the models, never from input text.
        await connection.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {quote(partition_name(table, month))} PARTITION OF {quote(table)} "
                f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
            )
        )
    return [partition_name(table, month) for month in missing]


async def drop_before(connection: AsyncConnection, table: str, cutoff: datetime.date) -> list[str]:
    """Drop the partitions of ``table`` whose whole month is before ``cutoff``; return their names."""
    await hold_schema_lock(connection)
    quote = connection.dialect.identifier_preparer.quote
    dropped = []
    for name in await partitions(connection, table):
        month = month_of_partition(table, name)
        if month is not None and next_month(month) <= cutoff:
            await connection.execute(text(f"DROP TABLE {quote(name)}"))
            dropped.append(name)
    return dropped


async def partitions(connection: AsyncConnection, table: str) -> list[str]:
    """The names of ``table``'s partitions, oldest first."""
    result = await connection.execute(
        text(
            "SELECT child.relname FROM pg_inherits JOIN pg_class AS child ON child.oid = pg_inherits.inhrelid "
            "WHERE pg_inherits.inhparent = CAST(:table AS regclass) ORDER BY child.relname"
        ),
        {"table": table},
    )
    return [str(name) for name in result.scalars()]


async def _exists(connection: AsyncConnection, table: str, month: datetime.date) -> bool:
    result = await connection.execute(
        text("SELECT to_regclass(:name) IS NOT NULL"), {"name": partition_name(table, month)}
    )
    return bool(result.scalar_one())
