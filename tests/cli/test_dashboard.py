"""``kubectl cost dashboard``: the proxy in front of a real upstream HTTP server, and the command's refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from kcost.cli.kubectl_cost import errors
from kcost.cli.kubectl_cost.commands import dashboard
from kcost.cli.kubectl_cost.proxy import DashboardProxy
from kcost.cli.kubectl_cost.root import cli
from kcost.cli.kubectl_cost.session import Context

Client = TestClient[web.Request, web.Application]


class Upstream:
    """A stand-in status API that answers what it received, and a stream the test releases."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/echo", self.echo)
        app.router.add_get("/api/v1/events", self.events)
        return app

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "method": request.method,
                "authorization": request.headers.get("Authorization"),
                "cookie": request.headers.get("Cookie"),
                "query": dict(request.query),
                "body": (await request.read()).decode(),
            },
            status=201,
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"event: change\ndata: {}\n\n")
        await self.release.wait()
        await response.write_eof()
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    served = Upstream()
    async with TestServer(served.app()) as server:
        yield served, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def proxied(upstream: tuple[Upstream, str]) -> AsyncIterator[tuple[DashboardProxy, Client]]:
    proxy = DashboardProxy(upstream[1], "the-users-token")
    async with TestClient(TestServer(proxy.app())) as client:
        yield proxy, client


async def test_requests_under_the_prefix_go_upstream_with_the_users_token(
    proxied: tuple[DashboardProxy, Client],
) -> None:
    proxy, client = proxied
    answer = await client.post(
        f"/{proxy.prefix}/api/v1/echo?limit=5",
        data=b'{"reason": "cheap"}',
        headers={"Content-Type": "application/json", "Authorization": "Bearer browser", "Cookie": "a=b"},
    )
    assert answer.status == 201
    seen = await answer.json()
    assert seen == {
        "method": "POST",
        "authorization": "Bearer the-users-token",
        "cookie": None,
        "query": {"limit": "5"},
        "body": '{"reason": "cheap"}',
    }


async def test_nothing_outside_the_prefix_is_forwarded(proxied: tuple[DashboardProxy, Client]) -> None:
    proxy, client = proxied
    assert (await client.get("/api/v1/echo")).status == 404
    assert (await client.get(f"/{proxy.prefix[:-1]}/api/v1/echo")).status == 404
    bare = await client.get(f"/{proxy.prefix}", allow_redirects=False)
    assert bare.status == 302
    assert bare.headers["Location"] == f"/{proxy.prefix}/"


async def test_the_event_stream_arrives_as_it_is_written(
    upstream: tuple[Upstream, str], proxied: tuple[DashboardProxy, Client]
) -> None:
    proxy, client = proxied
    answer = await client.get(f"/{proxy.prefix}/api/v1/events")
    assert answer.content_type == "text/event-stream"
    # The first event comes through while the upstream stream is still open.
    first = await asyncio.wait_for(answer.content.readuntil(b"\n\n"), 10)
    assert first == b"event: change\ndata: {}\n\n"
    upstream[0].release.set()
    assert await answer.content.read() == b""


async def test_an_unreachable_api_is_a_502_naming_it() -> None:
    proxy = DashboardProxy("http://127.0.0.1:9", "token")
    async with TestClient(TestServer(proxy.app())) as client:
        answer = await client.get(f"/{proxy.prefix}/api/v1/recommendations")
        assert answer.status == 502
        assert "http://127.0.0.1:9" in await answer.text()


def test_without_an_api_url_the_command_says_where_to_find_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCOST_API_URL", raising=False)
    result = CliRunner().invoke(cli, ["dashboard", "--no-open"])
    assert result.exit_code == errors.EXIT_UNREACHABLE
    assert "KCOST_API_URL" in result.output
    assert "port-forward" in result.output


def _kubeconfig(path: Path, user: dict[str, str]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


async def test_the_token_comes_from_the_kubeconfig_user(tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", {"token": "sa-token-123"})
    assert await dashboard._kubeconfig_token(Context(str(kubeconfig), None)) == "sa-token-123"


def test_a_client_certificate_user_is_told_to_bring_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KCOST_API_TOKEN", raising=False)
    cert = tmp_path / "client.pem"
    cert.write_text("not read: the token is looked for first")
    kubeconfig = _kubeconfig(tmp_path / "kubeconfig", {"client-certificate": str(cert), "client-key": str(cert)})
    result = CliRunner().invoke(
        cli, ["--kubeconfig", str(kubeconfig), "dashboard", "--api-url", "http://127.0.0.1:9", "--no-open"]
    )
    assert result.exit_code == errors.EXIT_FORBIDDEN, result.output
    assert "kubectl create token" in result.output
