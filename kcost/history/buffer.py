"""``BufferedWriter``: history writes that never fail or stall the caller, even while the database is down.

Rows go into a bounded queue with ``put_nowait``; one background task writes them in
batches and retries with exponential backoff while the database is unreachable. When
the queue is full, new rows are dropped and counted: history has gaps, callers go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential

from kcost.history.models import HistoryTable
from kcost.history.validation import validated

log = logging.getLogger("kcost.history.buffer")
DEFAULT_CAPACITY = 10_000
DEFAULT_BATCH_SIZE = 500


class RowWriter(Protocol):
    """What the writer writes through; ``HistoryStore`` is one."""

    @property
    def url_for_logs(self) -> str:
        """Where the rows go, without a password."""
        ...

    async def write(self, rows: Sequence[HistoryTable]) -> None:
        """Write the rows in one transaction, or raise."""
        ...

    def redact(self, text: str) -> str:
        """``text`` with the database password masked."""
        ...


def is_transient(error: BaseException) -> bool:
    """Whether a later attempt may succeed: the database is down, restarting or unreachable."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError | OSError | TimeoutError)


class BufferedWriter:
    """A bounded queue of rows in front of a ``RowWriter``.

    Counters, in rows unless noted: ``written`` reached the database; ``dropped`` never
    will (queue full, invalid, a permanent error, or still queued at ``close``);
    ``retried`` counts retry attempts of a batch.
    """

    def __init__(
        self,
        store: RowWriter,
        *,
        capacity: int = DEFAULT_CAPACITY,
        batch_size: int = DEFAULT_BATCH_SIZE,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.written = 0
        self.retried = 0
        self.dropped = 0
        self._store = store
        self._queue: asyncio.Queue[HistoryTable] = asyncio.Queue(capacity)
        self._batch_size = batch_size
        self._wait = wait_exponential(multiplier=initial_backoff_s, max=max_backoff_s)
        self._task: asyncio.Task[None] | None = None
        self._full = False

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self, error_type: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the background task that writes queued rows (needs a running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="kcost-history-writer")

    def submit(self, *rows: HistoryTable) -> int:
        """Queue rows for writing and return how many were accepted; never raises, never waits.

        Invalid rows are logged and dropped here, so one bad row cannot hold up the queue.
        """
        accepted = 0
        for row in rows:
            try:
                checked = validated(row)
            except ValueError as error:
                self.dropped += 1
                log.error("history: dropped an invalid row: %s", error)
                continue
            try:
                self._queue.put_nowait(checked)
            except asyncio.QueueFull:
                self.dropped += 1
                if not self._full:
                    self._full = True
                    log.warning(
                        "history: queue full (%d rows) while %s is unavailable; dropping new rows",
                        self._queue.maxsize,
                        self._store.url_for_logs,
                    )
                continue
            accepted += 1
        return accepted

    async def flush(self) -> None:
        """Wait until every queued row is written or dropped (forever while the database stays down)."""
        await self._queue.join()

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, waiting at most ``timeout_s``, then stop; rows still queued count as dropped."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        left = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            left += 1
        if left:
            self.dropped += left
            log.warning("history: closed with %d rows unwritten to %s", left, self._store.url_for_logs)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: Sequence[HistoryTable]) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient), wait=self._wait, before_sleep=self._on_retry, reraise=True
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._store.write(batch)
        except asyncio.CancelledError:
            self.dropped += len(batch)
            raise
        except Exception as error:  # noqa: BLE001 - the writer must outlive any error, and this one is logged
            self.dropped += len(batch)
            log.error(
                "history: dropped %d rows that %s refused: %s", len(batch), self._store.url_for_logs, self._say(error)
            )
        else:
            self.written += len(batch)
            self._full = False

    def _on_retry(self, state: RetryCallState) -> None:
        self.retried += 1
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "history: writing to %s failed (attempt %d: %s); retrying in %.2fs",
            self._store.url_for_logs,
            state.attempt_number,
            self._say(error),
            state.upcoming_sleep,
        )

    def _say(self, error: BaseException | None) -> str:
        # The driver's own message, without SQLAlchemy's statement and parameters (a batch could fill the log).
        cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
        text = f"{type(cause).__name__}: {cause}".splitlines()[0] if cause is not None else "unknown error"
        # A driver message might quote the password it was given.
        return self._store.redact(text)
