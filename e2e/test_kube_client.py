"""KubeClient against the real API server: lists longer than a page come back whole, paged or streamed, as models."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.devcluster.cluster import DevCluster
from kcost.kube import watch_list
from kcost.kube.client import KubeClient, connect

COUNT = 1200
PAGE_SIZE = 500
# Creates in parallel: the API server takes them faster, without drowning the shared machine.
WRITERS = 16


@pytest.fixture
def namespace(kcost_crds: DevCluster, kubectl: Any) -> Iterator[str]:
    name = f"kube-client-{uuid.uuid4().hex[:6]}"
    assert kubectl("create", "namespace", name).returncode == 0
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def _recommendation(namespace: str, index: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"rec-{index:04}", "namespace": namespace, "labels": {"kcost.dev/half": str(index % 2)}},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"web-{index}"},
            "type": "right-sizing",
            "changes": {},
            "current": {},
            "estimatedMonthlySavings": 1.5,
            "confidence": 0.5,
            "riskLevel": "low",
            "evidence": {"method": "e2e"},
        },
    }


async def _create(kube: KubeClient, namespace: str) -> None:
    limit = asyncio.Semaphore(WRITERS)

    async def one(index: int) -> None:
        async with limit:
            await kube.apply(OptimizationRecommendation, _recommendation(namespace, index), field_manager="e2e")

    await asyncio.gather(*(one(index) for index in range(COUNT)))


async def test_a_list_longer_than_a_page_comes_back_whole(kcost_crds: DevCluster, namespace: str) -> None:
    async with connect(str(kcost_crds.require_state().admin_kubeconfig)) as kube:
        await _create(kube, namespace)

        listed = await kube.list(OptimizationRecommendation, namespace, page_size=PAGE_SIZE)
        halves = await kube.list_raw(
            OptimizationRecommendation, namespace, label_selector="kcost.dev/half=1", page_size=PAGE_SIZE
        )
        streamed = [rec.name async for rec in kube.iter(OptimizationRecommendation, page_size=PAGE_SIZE)]
        # From the watch cache (WatchList); watch_list.stream raises Refused where the server will not.
        path = f"/apis/optimizer.kcost.dev/v1alpha1/namespaces/{namespace}/optimizationrecommendations"
        watched = [body async for body in watch_list.stream(kube.api_client, path, "kcost.dev/half=1")]
        typed = [rec async for rec in kube.stream(OptimizationRecommendation, namespace)]

    expected = [f"rec-{index:04}" for index in range(COUNT)]
    assert sorted(rec.name for rec in listed) == expected
    assert {rec.spec.target_ref.name for rec in listed} == {f"web-{index}" for index in range(COUNT)}
    assert sorted(body["metadata"]["name"] for body in halves) == expected[1::2]
    assert sorted(body["metadata"]["name"] for body in watched) == expected[1::2]
    assert sorted(rec.name for rec in typed) == expected
    assert {rec.spec.target_ref.name for rec in typed} == {f"web-{index}" for index in range(COUNT)}
    # All namespaces: ours are all there (other tests' may be too).
    assert set(expected) <= set(streamed)


async def test_nodes_read_in_pages_are_every_node(kcost_crds: DevCluster, kubectl: Any) -> None:
    async with connect(str(kcost_crds.require_state().admin_kubeconfig)) as kube:
        nodes = await kube.nodes(page_size=2)

    listed = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(listed) > 2  # more than one page
    assert sorted(node["metadata"]["name"] for node in nodes) == sorted(n["metadata"]["name"] for n in listed)
