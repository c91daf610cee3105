"""Alembic migrations, run from code at start-up: no ``alembic.ini`` and no command line.

The scripts live in ``migrations/versions`` (``rNNNN_what_changed.py``, revision ids
``"0001"``, ``"0002"``, …). To draft a new one from the models, against a database at
head: ``alembic.command.revision(migrate.config(connection), "what changed", autogenerate=True)``
inside ``AsyncConnection.run_sync``, then rename the file and review it.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from kcost.history import partitions
from kcost.history.locks import hold_schema_lock
from kcost.history.models import METADATA

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
HEAD = "head"
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def config(connection: Connection | None = None) -> Config:
    """An Alembic config for the history migrations; ``migrations/env.py`` runs them on ``connection``."""
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(MIGRATIONS_DIR))
    alembic_config.attributes["connection"] = connection
    return alembic_config


def head_revision() -> str:
    """The newest revision among the scripts."""
    head = ScriptDirectory.from_config(config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR / 'versions'}")
    return head


async def upgrade(connection: AsyncConnection, revision: str = HEAD) -> None:
    """Bring the schema to ``revision`` inside the connection's transaction.

    On PostgreSQL the schema lock is held, so replicas starting together migrate one
    after the other, and DDL is transactional: a failed upgrade leaves nothing behind.
    """
    # Alembic's ``context`` and ``op`` are process-wide proxies: two upgrades interleaving
    # in one process would run each other's operations on the wrong connection.
    async with _process_lock():
        await hold_schema_lock(connection)
        await connection.run_sync(_upgrade, revision)


def _process_lock() -> asyncio.Lock:
    # One per event loop: an asyncio lock cannot be shared between loops.
    return _LOCKS.setdefault(asyncio.get_running_loop(), asyncio.Lock())


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(config(connection), revision)


async def current_revision(connection: AsyncConnection) -> str | None:
    """The revision the database is at; None for an empty database."""
    return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def schema_diff(connection: AsyncConnection) -> list[Any]:
    """What Alembic's autogenerate sees between the models and the database; empty when they agree."""
    return await connection.run_sync(_schema_diff)


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"include_name": include_name, "compare_type": True})
    return list(compare_metadata(context, METADATA))


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Leave monthly partitions out of autogenerate: they are made at run time, not by migrations."""
    if type_ != "table" or name is None:
        return True
    return not any(partitions.month_of_partition(table, name) for table in partitions.partitioned_tables())
