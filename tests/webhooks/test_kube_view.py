"""The webhook's view of the cluster against a small fake API server that counts requests.

Policies and namespaces come from watch-backed mirrors: however many approvals are
decided, each is listed once; a watch event is seen by the next decision, however large its
object; a watch whose version is gone (410) lists again. e2e/test_webhook.py covers the same with the real
kube-apiserver.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kubernetes_asyncio import client

from kcost.analyzers import registry
from kcost.kube.client import KubeClient
from kcost.webhooks import review, server
from kcost.webhooks.cluster import KubeView
from kcost.webhooks.validation import Context
from tests.webhooks.test_admission_handlers import _rec, _update

POLICIES = "/apis/optimizer.kcost.dev/v1alpha1/optimizationpolicies"
NAMESPACES = "/api/v1/namespaces"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
WORKLOAD = "/apis/apps/v1/namespaces/shop/deployments/web"
DEADLINE_S = 10.0


def _policy(name: str, min_cpu: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"namespaces": ["shop"], "constraints": {"minCpu": min_cpu}}}


@dataclass
class FakeApiServer:
    """Lists, watches (events pushed by the test), SubjectAccessReviews and one Deployment; every request counted."""

    policies: list[dict[str, Any]] = field(default_factory=list)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    events: dict[str, asyncio.Queue[dict[str, Any]]] = field(
        default_factory=lambda: {POLICIES: asyncio.Queue(), NAMESPACES: asyncio.Queue()}
    )

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_get(POLICIES, self.list_or_watch)
        application.router.add_get(NAMESPACES, self.list_or_watch)
        application.router.add_post(ACCESS_REVIEWS, self.access_review)
        application.router.add_get(WORKLOAD, self.workload)
        return application

    async def list_or_watch(self, request: web.Request) -> web.StreamResponse:
        watching = request.query.get("watch", "").lower() == "true"
        self.requests[f"{'watch' if watching else 'list'} {request.path}"] += 1
        if not watching:
            items = self.policies if request.path == POLICIES else [{"metadata": {"name": "shop"}}]
            return web.json_response({"metadata": {"resourceVersion": "1"}, "items": items})
        stream = web.StreamResponse()
        await stream.prepare(request)
        while True:
            event = await self.events[request.path].get()
            await stream.write(json.dumps(event).encode() + b"\n")
            if event["type"] == "ERROR":
                return stream

    async def access_review(self, request: web.Request) -> web.Response:
        self.requests["access review"] += 1
        return web.json_response({"status": {"allowed": True}})

    async def workload(self, request: web.Request) -> web.Response:
        self.requests["workload"] += 1
        return web.json_response({"metadata": {"name": "web", "labels": {"app": "web"}}})


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeApiServer, Context, KubeView]]:
    fake = FakeApiServer(policies=[_policy("guard", "100m")])
    server = TestServer(fake.app())
    await server.start_server()
    api = client.ApiClient(client.Configuration(host=str(server.make_url(""))))
    view = KubeView(KubeClient(api))
    mirroring = asyncio.create_task(view.mirror())
    try:
        await view.wait_synced()
        yield fake, Context(view, registry.settings_model), view
    finally:
        mirroring.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await mirroring
        await api.close()
        await server.close()


async def _approve(context: Context, cpu: str = "250m") -> tuple[str, ...]:
    verdict = await review.validate(_update(_rec({"approved": True}, cpu=cpu), _rec()), context)
    return verdict.refusals


async def _until(what: str, check: Any) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not after {DEADLINE_S} s")
        await asyncio.sleep(0.01)


async def test_decisions_read_policies_and_namespaces_from_the_mirrors(
    served: tuple[FakeApiServer, Context, KubeView],
) -> None:
    fake, context, _ = served
    for _ in range(5):
        assert await _approve(context) == ()
    assert fake.requests[f"list {POLICIES}"] == 1
    assert fake.requests[f"list {NAMESPACES}"] == 1
    # Per decision, only what cannot be mirrored: the user's permission and the workload's labels.
    assert fake.requests["access review"] == 5
    assert fake.requests["workload"] == 5


async def test_a_policy_from_the_watch_governs_the_next_decision(
    served: tuple[FakeApiServer, Context, KubeView],
) -> None:
    fake, context, _ = served
    fake.events[POLICIES].put_nowait({"type": "MODIFIED", "object": _policy("guard", "300m")})

    async def refused() -> bool:
        return any("OptimizationPolicy 'guard'" in refusal for refusal in await _approve(context))

    await _until("the raised floor enforced", refused)
    assert fake.requests[f"list {POLICIES}"] == 1


async def test_a_watch_whose_version_is_gone_lists_again(served: tuple[FakeApiServer, Context, KubeView]) -> None:
    fake, _, view = served
    fake.policies = [_policy("other", "100m")]
    fake.events[POLICIES].put_nowait({"type": "ERROR", "object": {"code": 410, "message": "too old"}})

    async def relisted() -> bool:
        return list(view.policy_mirror.items) == [("", "other")]

    await _until("the policies listed again", relisted)
    assert fake.requests[f"list {POLICIES}"] == 2


async def test_an_object_of_hundreds_of_kilobytes_comes_through_the_watch(
    served: tuple[FakeApiServer, Context, KubeView],
) -> None:
    # Annotations alone may hold 256 KiB, more than one read of the socket.
    fake, _, view = served
    notes = {"kubectl.kubernetes.io/last-applied-configuration": "x" * 300_000}
    namespace = {"metadata": {"name": "shop", "labels": {"team": "payments"}, "annotations": notes}}
    fake.events[NAMESPACES].put_nowait({"type": "MODIFIED", "object": namespace})

    async def labelled() -> bool:
        return view.namespace_mirror.items.get(("", "shop")) == {"team": "payments"}

    await _until("the large namespace's labels mirrored", labelled)
    assert fake.requests[f"list {NAMESPACES}"] == 1  # seen by the watch, not by listing again


async def test_ready_only_once_the_mirrors_are_synced() -> None:
    fake = FakeApiServer()
    api_server = TestServer(fake.app())
    await api_server.start_server()
    api = client.ApiClient(client.Configuration(host=str(api_server.make_url(""))))
    view = KubeView(KubeClient(api))
    webhook = TestClient(TestServer(server.app(Context(view, registry.settings_model), lambda: view.synced)))
    await webhook.start_server()
    mirroring: asyncio.Task[None] | None = None
    try:
        assert (await webhook.get("/readyz")).status == 503
        mirroring = asyncio.create_task(view.mirror())
        await view.wait_synced()
        assert (await webhook.get("/readyz")).status == 200
    finally:
        if mirroring is not None:
            mirroring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mirroring
        await webhook.close()
        await api.close()
        await api_server.close()
