"""Alembic's environment and the history schema's revisions (see ``kcost.history.migrate``)."""
