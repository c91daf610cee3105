"""Alembic's entry point: runs the revisions on the connection ``kcost.history.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from kcost.history import migrate
from kcost.history.models import METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the history migrations run from kcost.history.migrate.upgrade(connection), not from the alembic command line"
    )
context.configure(
    connection=connection,
    target_metadata=METADATA,
    include_name=migrate.include_name,
    compare_type=True,
    # SQLite alters tables by copying them; batch mode lets later revisions change columns there too.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
