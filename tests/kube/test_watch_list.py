"""Streamed lists (watch_list) against kmock answering as the API server does: the initial events, then the bookmark."""

from __future__ import annotations

import json
import logging
from typing import Any

import kmock
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube import watch_list
from kcost.kube.client import KubeClient
from tests.kube.test_client import RECS, paged, recommendation

pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)
WATCH = {"watch": "true"}


def added(body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ADDED", "object": body}


def bookmark(*, end: bool) -> dict[str, Any]:
    annotations = {watch_list.INITIAL_EVENTS_END: "true"} if end else {}
    kind = "OptimizationRecommendation"
    return {
        "type": "BOOKMARK",
        "object": {"kind": kind, "metadata": {"resourceVersion": "9", "annotations": annotations}},
    }


def line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"


@pytest.fixture
def kube(kmock_api: client.ApiClient) -> KubeClient:
    return KubeClient(kmock_api)


async def test_a_stream_is_the_initial_objects_and_ends_at_their_bookmark(
    kmock: kmock.RawHandler, kube: KubeClient
) -> None:
    events = [added(recommendation("a")), bookmark(end=False), added(recommendation("b")), bookmark(end=True)]
    # What comes after the bookmark changed after the list was taken: not part of it.
    kmock[f"get {RECS}"][WATCH] << tuple(line(event) for event in [*events, added(recommendation("late"))])

    listed = [rec.name async for rec in kube.stream(OptimizationRecommendation, "shop", label_selector="x=y")]

    assert listed == ["a", "b"]
    (request,) = kmock["get"]
    assert request.params == {
        "watch": "true",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(watch_list.TIMEOUT_S),
        "labelSelector": "x=y",
    }


async def test_objects_cut_across_chunks_and_longer_than_a_read_buffer_come_whole(
    kmock: kmock.RawHandler, kube: KubeClient
) -> None:
    big = recommendation("big")
    big["spec"]["evidence"]["notes"] = "x" * 300_000  # one event over 43 chunks of 7,000 bytes
    stream = b"".join(line(event) for event in [added(recommendation("a")), added(big), bookmark(end=True)])
    chunks = tuple(stream[start : start + 7_000] for start in range(0, len(stream), 7_000))
    kmock[f"get {RECS}"][WATCH] << chunks

    listed = await _raw(kube)

    assert [body["metadata"]["name"] for body in listed] == ["a", "big"]
    assert listed[1]["spec"]["evidence"]["notes"] == "x" * 300_000


async def test_an_error_event_is_raised_with_its_code(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}}
    kmock[f"get {RECS}"][WATCH] << (line(added(recommendation("a"))), line(gone))

    with pytest.raises(ApiException) as raised:
        await _raw(kube)

    assert (raised.value.status, raised.value.reason) == (410, "too old resource version")


async def test_a_stream_that_ends_before_its_bookmark_is_an_error_not_a_short_list(
    kmock: kmock.RawHandler, kube: KubeClient
) -> None:
    kmock[f"get {RECS}"][WATCH] << (line(added(recommendation("a"))),)

    with pytest.raises(ApiException) as raised:
        await _raw(kube)

    assert raised.value.status == 504
    assert "/namespaces/shop/optimizationrecommendations before its last object" in str(raised.value.reason)


async def test_a_server_that_will_not_stream_is_listed_in_pages_and_not_asked_again(
    kmock: kmock.RawHandler, kube: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = {"kind": "Status", "code": 422, "message": "sendInitialEvents is forbidden for watch"}
    kmock[f"get {RECS}"][WATCH] << 422 << refusal
    kmock[f"get {RECS}"] << paged([recommendation(f"r{i}") for i in range(3)])

    with caplog.at_level(logging.INFO, logger="kcost.kube.client"):
        first = [body["metadata"]["name"] for body in await _raw(kube)]
        second = [body["metadata"]["name"] for body in await _raw(kube)]

    assert first == second == ["r0", "r1", "r2"]
    assert [request.params.get("watch") for request in kmock["get"]] == ["true", None, None]
    assert f"listing {RECS} in pages: the API server does not stream it (HTTP 422" in caplog.text


async def test_a_streamed_object_that_does_not_fit_is_skipped_and_named(
    kmock: kmock.RawHandler, kube: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    events = [added(recommendation("good")), added(recommendation("bad", confidence=7)), bookmark(end=True)]
    kmock[f"get {RECS}"][WATCH] << tuple(line(event) for event in events)

    with caplog.at_level(logging.WARNING, logger="kcost.kube.client"):
        listed = [rec.name async for rec in kube.stream(OptimizationRecommendation, "shop")]

    assert listed == ["good"]
    assert "OptimizationRecommendation shop/bad" in caplog.text


async def _raw(kube: KubeClient) -> list[dict[str, Any]]:
    return [body async for body in kube.stream_raw(OptimizationRecommendation, "shop")]
