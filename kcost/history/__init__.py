"""The history store: what kcost saw and proposed, kept in SQLite or PostgreSQL.

``store`` holds the async ``HistoryStore`` (idempotent upserts and reads), ``buffer`` the
``BufferedWriter`` that keeps callers working while the database is down, ``models`` the
tables, and ``migrate`` the Alembic migrations that run at start-up.
"""
