"""The one lock under which kcost changes its history schema, taken by every process that migrates."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# "kcost" in ASCII; replicas sharing one database take turns at migrations and partition DDL.
SCHEMA_LOCK_KEY = 0x6B636F7374


async def hold_schema_lock(connection: AsyncConnection) -> None:
    """Take kcost's schema lock until the transaction ends.

    PostgreSQL: an advisory lock. SQLite: the database's write lock, taken before the first
    read, so processes sharing one file (the chart's Pod runs several) migrate one after the
    other instead of each finding no tables and creating them ("table … already exists").
    """
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        await connection.execute(text("BEGIN IMMEDIATE"))
