"""Database URLs in logs show the host, never the password."""

from __future__ import annotations

import pytest

from kcost.devcluster import processes
from kcost.history.redact import redact, scrub
from kcost.history.store import HistoryStore


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+asyncpg://kcost:s3cret@db.internal:5432/kcost",
            "postgresql+asyncpg://kcost:***@db.internal:5432/kcost",
        ),
        ("postgresql+asyncpg://kcost:p%40ss%2Fw0rd@10.0.0.7/kcost", "postgresql+asyncpg://kcost:***@10.0.0.7/kcost"),
        ("postgresql+asyncpg://kcost@127.0.0.1:5432/kcost", "postgresql+asyncpg://kcost@127.0.0.1:5432/kcost"),
        ("sqlite+aiosqlite:////var/lib/kcost/history.db", "sqlite+aiosqlite:////var/lib/kcost/history.db"),
        ("postgresql://kcost:s3cret@db:notaport/kcost", "postgresql://***"),
        ("kcost:s3cret", "***"),
    ],
)
def test_redact_keeps_the_host_and_hides_the_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_scrub_masks_the_password_as_given_and_as_sent() -> None:
    url = "postgresql+asyncpg://kcost:p%40ss@db.internal/kcost"
    assert scrub("auth failed for p@ss (from p%40ss)", url) == "auth failed for *** (from ***)"
    assert scrub("nothing to hide", "sqlite+aiosqlite:///history.db") == "nothing to hide"


async def test_the_store_shows_only_the_redacted_url() -> None:
    store = HistoryStore()
    with pytest.raises(OSError, match="Connect call failed"):
        await store.connect(f"postgresql+asyncpg://kcost:s3cret@127.0.0.1:{processes.free_port()}/kcost")
    try:
        assert store.url_for_logs.startswith("postgresql+asyncpg://kcost:***@127.0.0.1:")
        assert store.redact("password s3cret rejected") == "password *** rejected"
    finally:
        await store.close()
