"""The aiohttp application of ``kcost api``, and the process that serves it."""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import metadata, resources
from typing import Any

from aiohttp import web

from kcost.config import Config
from kcost.history.store import HistoryStore
from kcost.kube import client
from kcost.observability import metrics
from kcost.statusapi import openapi
from kcost.statusapi.auth import Access, RateLimiter
from kcost.statusapi.cache import Caches
from kcost.statusapi.costs import HistoryReader
from kcost.statusapi.gateway import Gateway
from kcost.statusapi.problems import Problem
from kcost.statusapi.routes import OPERATIONS
from kcost.statusapi.state import STATE, State
from kcost.statusapi.views import Handler

log = logging.getLogger(__name__)


@web.middleware
async def problems(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error as problem+json: ours, aiohttp's (unknown path, wrong method) and unexpected ones."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except Problem as problem:
        return problem.response(request.path)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return Problem(error.status, error.reason, f"{request.method} {request.path}: {error.reason}").response(
            request.path
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return Problem(500, "Internal Server Error", "the status API failed; its log says why").response(request.path)


DASHBOARD_FILES = (
    ("/", "dashboard.html", "text/html"),
    ("/static/dashboard.js", "dashboard.js", "text/javascript"),
    ("/static/dashboard.css", "dashboard.css", "text/css"),
)


def _static_file(body: bytes, content_type: str) -> Handler:
    async def serve_file(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    return serve_file


def build(state: State) -> web.Application:
    """The application serving ``state``: every operation, health, metrics, the OpenAPI document and its
    page, and the dashboard at ``/``."""
    app = web.Application(middlewares=[problems])
    app[STATE] = state
    for operation in OPERATIONS:
        app.router.add_route(operation.method, operation.path, operation.handler)
    document = json.dumps(openapi.document(metadata.version("kcost")))
    static = resources.files("kcost.statusapi").joinpath("static")
    docs_page = static.joinpath("docs.html").read_text()

    async def openapi_json(_: web.Request) -> web.Response:
        return web.Response(text=document, content_type="application/json")

    async def docs(_: web.Request) -> web.Response:
        return web.Response(text=docs_page, content_type="text/html")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ready = state.caches.ready
        return web.json_response({"status": "ok" if ready else "starting"}, status=200 if ready else 503)

    # The dashboard: static files, public like /docs (the data behind them needs a token).
    for path, name, content_type in DASHBOARD_FILES:
        app.router.add_get(path, _static_file(static.joinpath(name).read_bytes(), content_type))
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/docs", docs)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    metrics.mount(app)
    return app


async def serve(config: Config) -> None:
    """Run the status API until cancelled: caches filled by watches, the history store, the HTTP server."""
    store = HistoryStore()
    try:
        await store.connect(config.database_url)
    except Exception as error:  # noqa: BLE001 - the resource endpoints work without history
        log.warning("history store unavailable for now: %s", store.redact(str(error)))
    async with client.connect() as kube:
        gateway = Gateway(kube.api_client)
        state = State(
            caches=Caches(),
            access=Access(gateway, ttl_s=config.api_auth_cache_s),
            writes=gateway,
            history=HistoryReader(store),
            limiter=RateLimiter(config.api_rate_per_s, config.api_burst),
        )
        watches = asyncio.create_task(state.caches.run(kube.api_client))
        runner = web.AppRunner(build(state), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, config.api_host, config.api_port).start()
            log.info("status API on http://%s:%d (docs at /docs)", config.api_host, config.api_port)
            await watches
        finally:
            watches.cancel()
            await runner.cleanup()
            await store.close()
