"""The history contracts run here on SQLite, one fresh file per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.history.harness import Outage


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'history.db'}"


@pytest.fixture
def outage(tmp_path: Path) -> Outage:
    """SQLite is "down" while the database file's folder is missing: it cannot be opened."""
    folder = tmp_path / "not-yet"

    async def restore() -> None:
        folder.mkdir()

    return Outage(url=f"sqlite+aiosqlite:///{folder / 'history.db'}", restore=restore, host=str(folder), password=None)
