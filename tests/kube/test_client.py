"""KubeClient against kmock answering like the API server: paging, typed reads, bad objects in a list."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kmock
import pytest
from kubernetes_asyncio import client

from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube.client import PROXY_VARIABLES, InvalidObject, KubeClient, NotFound, skip_idle_environment_lookups

RECS = "/apis/optimizer.kcost.dev/v1alpha1/namespaces/shop/optimizationrecommendations"
pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)


def recommendation(name: str, confidence: float = 0.8) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": name, "namespace": "shop", "labels": {"kcost.dev/analysis": "weekly"}},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "type": "right-sizing",
            "changes": {},
            "current": {},
            "estimatedMonthlySavings": 10,
            "confidence": confidence,
            "riskLevel": "low",
            "evidence": {"method": "m"},
        },
    }


def paged(items: list[dict[str, Any]]) -> Callable[[kmock.Request], dict[str, Any]]:
    """Answers a list as the API server does: ``limit`` items from the ``continue`` offset, then a token if more."""

    def answer(request: kmock.Request) -> dict[str, Any]:
        start = int(request.params.get("continue") or 0)
        end = start + int(request.params.get("limit") or len(items))
        token = str(end) if end < len(items) else ""
        return {"kind": "List", "metadata": {"continue": token}, "items": items[start:end]}

    return answer


@pytest.fixture
def kube(kmock_api: client.ApiClient) -> KubeClient:
    return KubeClient(kmock_api)


async def test_list_reads_every_page_as_models(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock[f"get {RECS}"] << paged([recommendation(f"r{i:04}") for i in range(1200)])

    listed = await kube.list(OptimizationRecommendation, "shop", label_selector="kcost.dev/analysis=weekly")

    assert [rec.name for rec in listed] == [f"r{i:04}" for i in range(1200)]
    assert all(isinstance(rec, OptimizationRecommendation) for rec in listed)
    requests = kmock["get"]
    assert [(r.params.get("limit"), r.params.get("continue")) for r in requests] == [
        ("500", None),
        ("500", "500"),
        ("500", "1000"),
    ]
    assert {r.params.get("labelSelector") for r in requests} == {"kcost.dev/analysis=weekly"}


async def test_iter_asks_for_the_next_page_only_when_it_is_needed(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock[f"get {RECS}"] << paged([recommendation(f"r{i}") for i in range(5)])

    seen = []
    async for rec in kube.iter(OptimizationRecommendation, "shop", page_size=2):
        seen.append(rec.name)
        assert len(kmock["get"]) == (len(seen) + 1) // 2

    assert seen == ["r0", "r1", "r2", "r3", "r4"]


async def test_list_skips_an_object_that_does_not_fit_and_names_it(
    kmock: kmock.RawHandler, kube: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    items = [recommendation("good-1"), recommendation("bad", confidence=7), recommendation("good-2")]
    kmock[f"get {RECS}"] << paged(items)

    with caplog.at_level(logging.WARNING, logger="kcost.kube.client"):
        listed = await kube.list(OptimizationRecommendation, "shop", page_size=2)

    assert [rec.name for rec in listed] == ["good-1", "good-2"]
    assert "OptimizationRecommendation shop/bad" in caplog.text
    assert "spec.confidence" in caplog.text
    assert len(await kube.list_raw(OptimizationRecommendation, "shop")) == 3


async def test_get_of_an_object_that_does_not_fit_names_it_and_the_field(
    kmock: kmock.RawHandler, kube: KubeClient
) -> None:
    kmock[f"get {RECS}/bad"] << recommendation("bad", confidence=7)

    with pytest.raises(InvalidObject, match=r"OptimizationRecommendation shop/bad .*spec\.confidence"):
        await kube.get(OptimizationRecommendation, "bad", "shop")


async def test_get_of_a_missing_object_is_none(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock[f"get {RECS}/gone"] << 404

    assert await kube.get(OptimizationRecommendation, "gone", "shop") is None


async def test_nodes_pods_and_claims_are_read_a_page_at_a_time(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock["get /api/v1/nodes"] << paged([{"metadata": {"name": f"n{i}"}} for i in range(3)])
    kmock["get /api/v1/pods"] << paged([{"metadata": {"name": f"p{i}", "namespace": "a"}} for i in range(3)])
    kmock["get /api/v1/persistentvolumeclaims"] << paged([{"metadata": {"name": "c", "namespace": "a"}}])

    assert [n["metadata"]["name"] for n in await kube.nodes(page_size=2)] == ["n0", "n1", "n2"]
    assert [p["metadata"]["name"] for p in await kube.pods(page_size=2)] == ["p0", "p1", "p2"]
    assert [c["metadata"]["name"] for c in await kube.persistent_volume_claims(page_size=2)] == ["c"]
    assert len(kmock["get /api/v1/nodes"]) == 2


async def test_a_kind_that_is_not_served_is_not_found(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock["get /apis/example.com/v1/widgets"] << 404

    with pytest.raises(NotFound):
        await kube.list_workloads("example.com/v1", "widgets")


async def test_secret_data_comes_decoded_and_config_map_data_as_is(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock["get /api/v1/namespaces/mon/secrets/prom"] << {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "prom", "namespace": "mon"},
        "data": {"token": "czNjcmV0"},
    }
    kmock["get /api/v1/namespaces/kcost-system/configmaps/prices"] << {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "prices", "namespace": "kcost-system"},
        "data": {"prices.csv": "a,b\n"},
    }

    assert await kube.secret_data("prom", "mon") == {"token": b"s3cret"}
    assert await kube.config_map_data("prices", "kcost-system") == {"prices.csv": "a,b\n"}


async def test_the_peering_is_created_once_and_read_as_json(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    peerings = "/apis/kopf.dev/v1/clusterkopfpeerings"
    kmock[f"post {peerings}"] << 409
    kmock[f"get {peerings}/kcost"] << {"metadata": {"name": "kcost"}, "status": {"a": {"priority": 1}}}
    kmock[f"get {peerings}/other"] << 404

    await kube.ensure_cluster_peering("kcost")  # already there: not an error

    assert [request.data["metadata"] for request in kmock[f"post {peerings}"]] == [{"name": "kcost"}]
    assert await kube.get_cluster_peering("kcost") == {"metadata": {"name": "kcost"}, "status": {"a": {"priority": 1}}}
    assert await kube.get_cluster_peering("other") is None


async def test_an_apply_asks_for_no_second_parse_of_its_body(kmock: kmock.RawHandler, kube: KubeClient) -> None:
    kmock[f"patch {RECS}/r1"] << recommendation("r1")
    kmock[f"patch {RECS}/r1/status"] << recommendation("r1")
    body = recommendation("r1")

    assert await kube.apply(OptimizationRecommendation, body, field_manager="kcost-analyzer-x") == body
    await kube.apply(OptimizationRecommendation, body, field_manager="kcost-operator", status=True)

    requests = kmock["patch"]
    assert [r.headers.get("Content-Type") for r in requests] == ["application/apply-patch+yaml"] * 2
    # Duplicate keys are all fieldValidation would look for in an apply (unknown fields fail it anyway).
    assert [r.params.get("fieldValidation") for r in requests] == ["Ignore", "Ignore"]
    assert [r.params.get("fieldManager") for r in requests] == ["kcost-analyzer-x", "kcost-operator"]


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(*args, **kwargs)


@pytest.mark.parametrize(("proxy", "looks_up"), [(None, False), ("http://proxy.example:3128", True)])
async def test_requests_make_no_thread_hop_unless_the_environment_asks(
    kmock: kmock.RawHandler, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, proxy: str | None, looks_up: bool
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    if proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "*")  # kmock is reached directly all the same
    kmock["get", RECS] << paged([])
    executor = CountingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    api = client.ApiClient(client.Configuration(host=str(kmock.url).rstrip("/")))
    try:
        skip_idle_environment_lookups(api)
        for _ in range(3):
            await KubeClient(api).list(OptimizationRecommendation, "shop")
    finally:
        await api.close()
    # Left on, each request looks for a netrc file (and proxies) in a worker thread.
    assert (executor.submitted > 0) is looks_up, executor.submitted
