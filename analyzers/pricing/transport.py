"""HTTP and retries shared by the REST sources: timeouts, backoff with ``Retry-After``, clear errors.

Error messages name the endpoint without its query string, since a query may carry an
API key; response bodies are quoted only in short excerpts.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential
from yarl import URL

from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable

T = TypeVar("T")
_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry what ``PricingUnavailable`` says is worth retrying."""

    attempts: int = 4
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)(state)
        error = state.outcome.exception() if state.outcome else None
        # The server knows best when it will take us again; never wait past our own ceiling.
        if isinstance(error, PricingUnavailable) and error.retry_after_s is not None:
            return min(max(backoff, error.retry_after_s), self.max_wait_s)
        return backoff


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """``call()`` retried with exponential backoff while it raises ``PricingUnavailable``.

    The last error is re-raised with the number of attempts, so a persistent outage
    reads "… (gave up after 4 attempts)".
    """
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=policy._wait,
            retry=retry_if_exception_type(PricingUnavailable),
            reraise=True,
        ):
            with attempt:
                return await call()
    except PricingUnavailable as error:
        raise PricingUnavailable(f"{error} (gave up after {policy.attempts} attempts)") from None
    raise AssertionError("unreachable")  # pragma: no cover


def endpoint_of(url: str | URL) -> str:
    """The URL without its query string: safe to show (keys and tokens may sit in the query)."""
    return str(URL(url).with_query(None))


def _retry_after_s(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date, or nothing: fall back to our own backoff


def _error_detail(body: str) -> str:
    """The message of a Google/Azure style JSON error body, else a short excerpt of the body."""
    try:
        document = json.loads(body)
    except ValueError:
        return body[:_EXCERPT_CHARS].strip()
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:_EXCERPT_CHARS]
    return body[:_EXCERPT_CHARS].strip()


async def get_json(
    session: aiohttp.ClientSession,
    url: str | URL,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """One GET, decoded as JSON. 429, 5xx, timeouts and network errors raise ``PricingUnavailable``."""
    endpoint = endpoint_of(url)
    try:
        async with session.get(url, params=params, headers=headers) as response:
            status = response.status
            if status == 429 or status >= 500:
                raise PricingUnavailable(f"{endpoint}: HTTP {status}", retry_after_s=_retry_after_s(response))
            body = await response.text()
    except (aiohttp.ClientError, TimeoutError) as error:
        detail = str(error) if not isinstance(error, TimeoutError) else "timed out"
        raise PricingUnavailable(f"{endpoint}: {type(error).__name__}: {detail}") from None
    if status in (401, 403):
        raise PricingError(f"{endpoint}: HTTP {status}, credentials refused: {_error_detail(body)}")
    if status >= 400:
        raise PricingError(f"{endpoint}: HTTP {status}: {_error_detail(body)}")
    try:
        return json.loads(body)
    except ValueError as error:
        raise PricingError(f"{endpoint}: HTTP {status} but the body is not JSON ({error})") from None
