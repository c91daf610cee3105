"""Shared pieces of the pricing tests: the shared data folder, a local HTTP server, fast retries."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kcost.analyzers.pricing.transport import RetryPolicy

Serve = Callable[[web.Application], Awaitable[TestServer]]


def shared_data() -> Path:
    """The shared data folder beside the repository, or ``KCOST_SHARED_DATA``."""
    override = os.environ.get("KCOST_SHARED_DATA")
    return Path(override) if override else Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
def pricing_data() -> Path:
    folder = shared_data() / "pricing"
    if not folder.is_dir():
        pytest.fail(f"shared pricing data not found at {folder}; set KCOST_SHARED_DATA")
    return folder


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return RetryPolicy(attempts=3, initial_wait_s=0.001, max_wait_s=0.01)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start an aiohttp app on 127.0.0.1 (a free port); every server is closed after the test."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> TestServer:
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


@dataclass
class Faults:
    """Responses to give instead of the real answer, one per request, before answering normally.

    ``always`` makes the last fault permanent (a persistent outage).
    """

    pending: list[Callable[[], web.StreamResponse]] = field(default_factory=list)
    always: bool = False
    served: int = 0

    def next(self) -> web.StreamResponse | None:
        if not self.pending:
            return None
        self.served += 1
        return self.pending[0]() if self.always else self.pending.pop(0)()
