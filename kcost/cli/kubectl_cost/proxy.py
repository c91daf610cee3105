"""The local proxy of ``kubectl cost dashboard``: on 127.0.0.1, under a random path prefix, it forwards
to the status API with the user's bearer token, so the browser never holds the token.

The prefix is the proxy's only lock: other local users can reach the port but cannot guess the path
(and a web page elsewhere cannot either, so it cannot borrow the user's credentials).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import ClientError, ClientSession, ClientTimeout, web

# Request headers the status API needs; everything else (cookies, the browser's own Authorization) stays here.
FORWARDED_HEADERS = ("Accept", "Content-Type")
# The event stream is long-lived: only connecting has a deadline.
UPSTREAM_TIMEOUT = ClientTimeout(total=None, sock_connect=10)
SESSION = web.AppKey("upstream_session", ClientSession)


@dataclass
class DashboardProxy:
    """Forwards ``/<prefix>/<path>`` to ``upstream_url/<path>`` with ``Authorization: Bearer <token>``."""

    upstream_url: str
    token: str
    prefix: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def app(self) -> web.Application:
        """The proxy's aiohttp application (everything outside the prefix is 404)."""
        app = web.Application()
        app.cleanup_ctx.append(self._session)
        app.router.add_get(f"/{self.prefix}", self._to_page)
        app.router.add_route("*", f"/{self.prefix}/{{path:.*}}", self._forward)
        return app

    async def _session(self, app: web.Application) -> AsyncIterator[None]:
        async with ClientSession(timeout=UPSTREAM_TIMEOUT, auto_decompress=False) as session:
            app[SESSION] = session
            yield

    async def _to_page(self, _: web.Request) -> web.StreamResponse:
        # Relative URLs in the page need the trailing slash.
        raise web.HTTPFound(f"/{self.prefix}/")

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        target = f"{self.upstream_url.rstrip('/')}/{request.match_info['path']}"
        headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
        headers["Authorization"] = f"Bearer {self.token}"
        body = await request.read() if request.can_read_body else None
        try:
            async with request.app[SESSION].request(
                request.method, target, params=request.query, headers=headers, data=body, allow_redirects=False
            ) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name in ("Content-Type", "Content-Encoding", "Cache-Control", "Retry-After"):
                    if name in upstream.headers:
                        response.headers[name] = upstream.headers[name]
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except ClientError as error:
            return web.Response(
                status=502,
                text=f"kubectl cost dashboard: the status API at {self.upstream_url} is unreachable: {error}",
            )
