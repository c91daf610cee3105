"""The buffered writer: callers never see an error or wait, rows survive an outage, losses are counted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from kcost.devcluster import processes
from kcost.history.buffer import BufferedWriter, RowWriter, is_transient
from kcost.history.models import DailyCost, HistoryTable
from kcost.history.store import HistoryStore
from tests.history.harness import DAY0, Outage, StoreHarness, count_rows, daily_cost, days

POLL_S = 0.01


def fast(store: RowWriter, **options: Any) -> BufferedWriter:
    """A writer that retries within milliseconds, so outages in tests are short."""
    return BufferedWriter(store, initial_backoff_s=0.01, max_backoff_s=0.05, **options)


async def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait until ``condition()`` holds, polling the event loop."""
    for _ in range(int(timeout_s / POLL_S)):
        if condition():
            return
        await asyncio.sleep(POLL_S)
    pytest.fail(f"not within {timeout_s}s: {what}")


class BufferContract(StoreHarness):
    async def test_rows_written_during_an_outage_arrive_after_it(
        self, outage: Outage, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="kcost.history")
        store = HistoryStore()
        with pytest.raises((OSError, OperationalError)) as refused:
            await store.connect(outage.url)
        assert is_transient(refused.value)
        try:
            async with fast(store, capacity=5) as writer:
                assert writer.submit(*(daily_cost("shop", day) for day in days(3))) == 3
                await eventually(lambda: writer.retried >= 2, "the first batch is being retried")
                # That batch left the queue; five more fill it, the last two are dropped.
                assert writer.submit(*(daily_cost("search", day) for day in days(7))) == 5
                assert (writer.written, writer.dropped, writer.pending) == (0, 2, 5)

                await outage.restore()
                await asyncio.wait_for(writer.flush(), 30)
                assert (writer.written, writer.dropped) == (8, 2)
            costs = await store.daily_costs("prod", DAY0, days(7)[-1])
            assert sorted((row.namespace, row.day) for row in costs) == sorted(
                [("shop", day) for day in days(3)] + [("search", day) for day in days(5)]
            )
        finally:
            await store.close()
        logs = caplog.text
        assert outage.host in logs
        if outage.password:
            assert outage.password not in logs

    async def test_a_healthy_database_gets_everything(self, store: HistoryStore, engine: AsyncEngine) -> None:
        async with BufferedWriter(store, batch_size=50) as writer:
            for namespace in ("a", "b", "c"):
                writer.submit(*(daily_cost(namespace, day) for day in days(100)))
        assert (writer.written, writer.retried, writer.dropped) == (300, 0, 0)
        assert await count_rows(engine, DailyCost) == 300


class TestBufferOnSqlite(BufferContract):
    pass


class FakeStore:
    """A store that raises the given errors, one per write, before it works."""

    url_for_logs = "postgresql+asyncpg://kcost:***@db.internal:5432/kcost"

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.batches: list[list[HistoryTable]] = []
        self.attempts = 0

    async def write(self, rows: Sequence[HistoryTable]) -> None:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        self.batches.append(list(rows))

    def redact(self, text: str) -> str:
        return text.replace("s3cret", "***")


def down() -> OperationalError:
    return OperationalError("INSERT INTO daily_costs …", {}, ConnectionRefusedError("connection refused"))


async def test_transient_errors_are_retried_until_the_write_succeeds() -> None:
    store = FakeStore(down(), ConnectionRefusedError(), TimeoutError())
    async with fast(store) as writer:
        writer.submit(daily_cost())
        await asyncio.wait_for(writer.flush(), 5)
    assert (writer.written, writer.retried, writer.dropped) == (1, 3, 0)
    assert store.attempts == 4


async def test_a_permanent_error_drops_that_batch_and_the_writer_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore(IntegrityError("INSERT …", {}, Exception("duplicate key, password s3cret")))
    async with fast(store) as writer:
        writer.submit(daily_cost("a"), daily_cost("b"))
        await asyncio.wait_for(writer.flush(), 5)
        writer.submit(daily_cost("c"))
        await asyncio.wait_for(writer.flush(), 5)
    assert (writer.written, writer.retried, writer.dropped) == (1, 0, 2)
    assert "dropped 2 rows that postgresql+asyncpg://kcost:***@db.internal:5432/kcost refused" in caplog.text
    assert "s3cret" not in caplog.text


async def test_a_full_queue_drops_and_counts_without_raising_or_waiting(caplog: pytest.LogCaptureFixture) -> None:
    writer = BufferedWriter(FakeStore(), capacity=3)
    # Not started: nothing drains the queue.
    assert writer.submit(*(daily_cost("shop", day) for day in days(5))) == 3
    assert writer.submit(daily_cost("late")) == 0
    assert (writer.pending, writer.dropped) == (3, 3)
    assert caplog.text.count("queue full") == 1


async def test_invalid_rows_are_dropped_at_the_door(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore()
    async with BufferedWriter(store) as writer:
        assert writer.submit(daily_cost(cpu_usd=-5.0), daily_cost("fine")) == 1
    assert (writer.written, writer.dropped) == (1, 1)
    assert "daily_costs.cpu_usd: Input should be greater than or equal to 0" in caplog.text


async def test_closing_while_down_counts_what_never_arrived() -> None:
    store = FakeStore(*(down() for _ in range(10_000)))
    writer = fast(store, batch_size=2)
    writer.start()
    writer.submit(*(daily_cost("shop", day) for day in days(5)))
    await eventually(lambda: writer.retried >= 1, "retrying")
    await asyncio.wait_for(writer.close(timeout_s=0.1), 5)
    assert (writer.written, writer.dropped, writer.pending) == (0, 5, 0)


async def test_an_unreachable_postgres_is_logged_by_host_never_by_password(caplog: pytest.LogCaptureFixture) -> None:
    port = processes.free_port()
    store = HistoryStore()
    with pytest.raises(OSError, match="Connect call failed"):
        await store.connect(f"postgresql+asyncpg://kcost:s3cret@127.0.0.1:{port}/kcost")
    try:
        async with fast(store) as writer:
            writer.submit(daily_cost())
            await eventually(lambda: writer.retried >= 2, "retrying")
            await writer.close(timeout_s=0)
        assert writer.dropped == 1
    finally:
        await store.close()
    assert f"kcost:***@127.0.0.1:{port}/kcost" in caplog.text
    assert "s3cret" not in caplog.text
