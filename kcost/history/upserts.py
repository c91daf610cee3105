"""Idempotent writes: ``INSERT … ON CONFLICT (primary key) DO UPDATE`` in SQLite's or PostgreSQL's dialect.

Writing the same row twice leaves one row holding the second write's values, so a
retried write can never duplicate history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.dialects import postgresql, sqlite

from kcost.history.models import HistoryTable

Values = dict[str, Any]
Upsert = sqlite.Insert | postgresql.Insert

# Columns a repeated write leaves alone: a cluster's first sighting stays its creation time.
KEEP_ON_CONFLICT: Mapping[str, frozenset[str]] = {"clusters": frozenset({"created_at"})}
# A write to these tables wins only if it is at least as new: a late retry of an older
# price must not replace a newer one.
NEWER_WINS: Mapping[str, str] = {"pricing": "fetched_at"}
# Below the bound-parameter limits of SQLite (32,766) and asyncpg (32,767).
MAX_PARAMETERS_PER_STATEMENT = 30_000


def values_of(row: HistoryTable, table: Table) -> Values:
    """The row as column values; enumerations as their plain string values."""
    values = {column.name: getattr(row, column.name) for column in table.columns}
    return {name: value.value if isinstance(value, Enum) else value for name, value in values.items()}


def statements(dialect: str, table: Table, rows: Sequence[Values]) -> Iterator[Upsert]:
    """Upserts writing ``rows`` of one table, as few statements as the parameter limit allows."""
    unique = deduplicated(table, rows)
    per_statement = max(1, MAX_PARAMETERS_PER_STATEMENT // len(table.columns))
    for start in range(0, len(unique), per_statement):
        yield _upsert(dialect, table, unique[start : start + per_statement])


def deduplicated(table: Table, rows: Sequence[Values]) -> list[Values]:
    """One row per primary key: the last one, or the newest where ``NEWER_WINS``.

    PostgreSQL refuses an upsert that touches the same row twice, and on SQLite the
    outcome would depend on the order of the VALUES list.
    """
    keys = [column.name for column in table.primary_key]
    newer = NEWER_WINS.get(table.name)
    by_key: dict[tuple[Any, ...], Values] = {}
    for row in rows:
        key = tuple(row[name] for name in keys)
        kept = by_key.get(key)
        if kept is None or newer is None or row[newer] >= kept[newer]:
            by_key[key] = row
    return list(by_key.values())


def _upsert(dialect: str, table: Table, rows: Sequence[Values]) -> Upsert:
    insert = _insert(dialect, table).values(list(rows))
    keys = [column.name for column in table.primary_key]
    keep = KEEP_ON_CONFLICT.get(table.name, frozenset())
    updates = {
        column.name: insert.excluded[column.name]
        for column in table.columns
        if column.name not in keys and column.name not in keep
    }
    newer = NEWER_WINS.get(table.name)
    where: ColumnElement[bool] | None = table.c[newer] <= insert.excluded[newer] if newer else None
    return insert.on_conflict_do_update(index_elements=keys, set_=updates, where=where)


def _insert(dialect: str, table: Table) -> Upsert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"history store: unsupported database {dialect!r}; use sqlite+aiosqlite or postgresql+asyncpg")
