"""An HTTP proxy in front of the real Prometheus, for tests of how kcost copes with what sits in between."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
from aiohttp import web


class FaultyProxy:
    """An HTTP proxy in front of the real Prometheus that starts failing on cue, in its own thread.

    ``fail_from``: requests from this one on (counted from 1) get ``status``;
    ``delay_s``: every answer waits this long first (a slow Prometheus);
    ``authorization``: the ``Authorization`` header it demands (HTTP 401 without it), as a
    Prometheus behind an authenticating gateway does.
    """

    def __init__(
        self,
        upstream: str,
        *,
        fail_from: int | None = None,
        status: int = 503,
        delay_s: float = 0,
        authorization: str | None = None,
    ) -> None:
        self.upstream, self.fail_from, self.status, self.delay_s = upstream, fail_from, status, delay_s
        self.authorization = authorization
        self.requests = 0
        self.failed = 0
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.authorization is not None and request.headers.get("Authorization") != self.authorization:
            self.refused += 1
            return web.Response(status=401, text="Unauthorized")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_from is not None and self.requests >= self.fail_from:
            self.failed += 1
            return web.Response(status=self.status, text="injected failure")
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.upstream + request.path_qs) as answer,
        ):
            return web.Response(status=answer.status, body=await answer.read(), content_type="application/json")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
