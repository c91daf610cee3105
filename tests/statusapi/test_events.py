"""The event stream sends each change only to users who may list it."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kcost.statusapi import app
from kcost.statusapi.auth import Identity
from tests.statusapi import fakes

Client = TestClient[web.Request, web.Application]

RECS = "optimizationrecommendations"


async def _first_change(client: Client, token: str, publish: asyncio.Event) -> list[dict[str, object]]:
    answer = await client.get("/api/v1/events?timeoutSeconds=2", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200
    publish.set()
    seen = []
    async for line in answer.content:
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:]))
    return seen


async def test_changes_reach_only_users_allowed_to_list_them() -> None:
    reviews = fakes.FakeReviews(
        tokens={"alice": Identity("alice"), "bob": Identity("bob")},
        grants={("alice", "list", RECS, "shop"), ("bob", "list", RECS, "bank")},
    )
    state = fakes.state(reviews)
    recs = state.caches.kinds["OptimizationRecommendation"]
    async with TestClient(TestServer(app.build(state))) as client:
        ready = [asyncio.Event(), asyncio.Event()]
        streams = [
            asyncio.create_task(_first_change(client, token, event))
            for token, event in zip(("alice", "bob"), ready, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 5)
        # Each stream subscribed before its headers were sent.
        assert len(state.caches.broker.subscribers) == 2
        for namespace in ("shop", "bank"):
            change = recs.observe("ADDED", fakes.recommendation(namespace, "web"))
            assert change is not None
            state.caches.broker.publish(change)
        alice, bob = await asyncio.gather(*streams)
    assert [event["object"]["metadata"]["namespace"] for event in alice] == ["shop"]  # type: ignore[index]
    assert [event["object"]["metadata"]["namespace"] for event in bob] == ["bank"]  # type: ignore[index]
