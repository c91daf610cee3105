"""What a price source raises when it cannot answer at all (junk rows are rejected, not raised)."""

from __future__ import annotations


class PricingError(Exception):
    """A price source failed; the message names the endpoint or file and what went wrong."""


class PricingUnavailable(PricingError):  # noqa: N818 - reads as the condition it names
    """Network error, timeout, throttling or 5xx: worth retrying later.

    ``retry_after_s`` carries the server's ``Retry-After`` hint when it gave one.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
