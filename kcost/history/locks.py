"""The one PostgreSQL advisory lock under which kcost changes its history schema."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# "kcost" in ASCII; replicas sharing one database take turns at migrations and partition DDL.
SCHEMA_LOCK_KEY = 0x6B636F7374


async def hold_schema_lock(connection: AsyncConnection) -> None:
    """Take kcost's schema lock until the transaction ends (PostgreSQL only; SQLite serialises writers itself)."""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
