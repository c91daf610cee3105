"""``GET /api/v1/events``: changes to the four kinds as Server-Sent Events, each only to callers RBAC lets
``list`` that kind (in that namespace)."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from kcost.statusapi import params
from kcost.statusapi.auth import Attributes
from kcost.statusapi.cache import KINDS, Change
from kcost.statusapi.state import identity_of, state_of

HEARTBEAT_S = 15.0
PLURALS = {kind.crd.kind: kind.crd.plural for kind in KINDS}


async def stream(request: web.Request) -> web.StreamResponse:
    """Send every change the caller may see until they leave (or ``timeoutSeconds`` passes)."""
    state = state_of(request)
    identity = identity_of(request)
    timeout_s = params.number(request, "timeoutSeconds", 0.0)
    deadline = time.monotonic() + timeout_s if timeout_s else float("inf")
    queue = state.caches.broker.subscribe()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        while (left_s := deadline - time.monotonic()) > 0:
            try:
                change = await asyncio.wait_for(queue.get(), min(HEARTBEAT_S, left_s))
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if change is None:
                break  # fell too far behind: the client reconnects and reads the lists again
            if await state.access.allows(identity, Attributes("list", PLURALS[change.kind], change.namespace)):
                await response.write(_message(change))
    finally:
        state.caches.broker.unsubscribe(queue)
    await response.write_eof()
    return response


def _message(change: Change) -> bytes:
    data = json.dumps({"type": change.type, "kind": change.kind, "object": change.body})
    return f"event: change\ndata: {data}\n\n".encode()
