"""Retrying reconciles: a conflict at once on fresh data, any other failure later from a queue.

A 409 is ordinary optimistic concurrency (an analyzer or another write got there first):
the object is read again and reconciled again, quietly. Recommendations are handled from
the watch stream, which kopf never retries; a reconcile that fails for another reason is
kept in a ``RetryQueue`` (one entry per object, one task for all) and tried again with
backoff until it succeeds or the object is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from kcost.api.v1alpha1.common import Resource
from kcost.kube.client import Conflict, KubeClient

log = logging.getLogger("kcost.operator.retry")
Reconcile = Callable[[KubeClient, dict[str, Any]], Awaitable[Any]]
# (namespace or "", name): what a retry needs to read the object again.
Key = tuple[str, str]
CONFLICT_ATTEMPTS = 5


def key_of(body: dict[str, Any]) -> Key:
    metadata = body.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _describe(key: Key) -> str:
    return "/".join(part for part in key if part)


async def on_fresh_data(fn: Reconcile, kube: KubeClient, kind: type[Resource], body: dict[str, Any]) -> Any:
    """``fn(kube, body)``; after a conflict, the object read again and ``fn`` run on it (None once it is gone).

    Raises ``Conflict`` only when the object kept changing through every attempt.
    """
    key = key_of(body)
    latest: dict[str, Any] | None = body

    async def attempt() -> Any:
        nonlocal latest
        if latest is None:
            latest = await kube.get_raw(kind, key[1], key[0] or None)
            if latest is None:
                return None  # deleted meanwhile: nothing left to reconcile
        current, latest = latest, None  # the next attempt reads the object again
        return await fn(kube, current)

    def quietly(failed: int) -> None:
        log.debug(
            "%s %s changed while being reconciled (attempt %d); reading it again", kind.crd.kind, _describe(key), failed
        )

    # Most reconciles meet no conflict: tenacity's machinery, which costs more than a reconcile that
    # writes nothing (a run's thousands of new recommendations), is set up only after the first one.
    try:
        return await attempt()
    except Conflict:
        quietly(1)
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Conflict),
        stop=stop_after_attempt(CONFLICT_ATTEMPTS - 1),
        wait=wait_random_exponential(multiplier=0.05, max=1.0),
        before_sleep=lambda state: quietly(state.attempt_number + 1),  # tenacity's first is the second
        reraise=True,
    )
    return await retrying(attempt)


class RetryQueue:
    """Objects whose reconcile failed, tried again by ``retry(key)`` with exponential backoff.

    One entry per object however often it fails, and one task (``run``) for all of them:
    nothing piles up, and the watch stream never waits for a retry.
    """

    def __init__(
        self, retry: Callable[[Key], Awaitable[None]], *, first_delay_s: float = 1.0, max_delay_s: float = 60.0
    ) -> None:
        self._retry = retry
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s
        self._due: dict[Key, tuple[float, int]] = {}  # when to retry, and failures so far
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: Key, failures: int | None = None) -> float:
        """Retry ``key`` later (one failure more than it had); returns the delay in seconds."""
        failures = (failures if failures is not None else self._due.get(key, (0.0, 0))[1]) + 1
        delay_s = min(self._max_delay_s, self._first_delay_s * 2.0 ** (failures - 1))
        self._due[key] = (asyncio.get_running_loop().time() + delay_s, failures)
        self._changed.set()
        return delay_s

    def forget(self, key: Key) -> None:
        """The object was reconciled (or deleted) meanwhile: no retry is needed."""
        self._due.pop(key, None)

    async def run(self) -> None:
        """Retry what is due, then sleep until the next one is; forever (cancel to stop)."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for key in [key for key, (due, _) in self._due.items() if due <= now]:
                _, failures = self._due.pop(key)
                try:
                    await self._retry(key)
                except asyncio.CancelledError:
                    raise
                except Conflict:
                    delay_s = self.schedule(key, failures)
                    log.debug("%s still changing; next retry in %.0f s", _describe(key), delay_s)
                except Exception as error:  # noqa: BLE001 - whatever failed is retried, and said once per retry
                    delay_s = self.schedule(key, failures)
                    log.error("retrying %s failed: %s; next retry in %.0f s", _describe(key), error, delay_s)
            self._changed.clear()
            sleep_s = min((due for due, _ in self._due.values()), default=now + 3600) - loop.time()
            if sleep_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=sleep_s)
