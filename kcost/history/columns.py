"""Column types shared by the history tables."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator
from typing_extensions import override


class UtcDateTime(TypeDecorator[datetime.datetime]):
    """A timezone-aware timestamp, stored in UTC on every database.

    SQLite keeps no offset, so values are normalised to UTC before they are stored and
    read back as UTC; PostgreSQL stores ``timestamptz`` and answers the same instants.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @override
    def process_bind_param(self, value: datetime.datetime | None, dialect: Dialect) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} has no timezone: pass an aware datetime (UTC)")
        return value.astimezone(datetime.UTC)

    @override
    def process_result_value(self, value: datetime.datetime | None, dialect: Dialect) -> datetime.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)
