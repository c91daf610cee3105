"""A rollout's look at its Deployment is answered from the watch when that is as new as kcost's own last write."""

from __future__ import annotations

import asyncio
from typing import Any

import kmock
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.kube.workloads import WorkloadRef
from kcost.operator.rollout.watched_workloads import WatchedWorkloadClient, key_of

pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)
PATH = "/apis/apps/v1/namespaces/shop/deployments/web"
REF = WorkloadRef("apps/v1", "Deployment", "deployments", "shop", "web")
KEY = key_of(REF)


def deployment(version: str, cpu: str = "500m") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": version},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]}}},
    }


@pytest.fixture
def workloads(kmock_api: client.ApiClient) -> WatchedWorkloadClient:
    return WatchedWorkloadClient(kmock_api)


def gets(kmock: kmock.RawHandler) -> int:
    return len(kmock["get"])


async def version_read(workloads: WatchedWorkloadClient) -> str:
    """The resourceVersion of the Deployment a rollout's look gets."""
    body = await workloads.get(REF)
    assert body is not None
    return str(body["metadata"]["resourceVersion"])


async def test_a_followed_deployment_as_the_watch_delivered_it_costs_no_read(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"get {PATH}"] << deployment("10")
    workloads.follow(KEY)
    workloads.delivered("MODIFIED", "Deployment", deployment("10"))
    assert await version_read(workloads) == "10"
    assert gets(kmock) == 0


async def test_a_deployment_not_followed_is_read_every_time(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"get {PATH}"] << deployment("10")
    workloads.delivered("MODIFIED", "Deployment", deployment("10"))
    await workloads.get(REF)
    await workloads.get(REF)
    assert gets(kmock) == 2
    assert workloads.fresh(KEY) is None


async def test_a_first_read_serves_the_next_looks(kmock: kmock.RawHandler, workloads: WatchedWorkloadClient) -> None:
    kmock[f"get {PATH}"] << deployment("10")
    workloads.follow(KEY)
    await workloads.get(REF)
    workloads.delivered("MODIFIED", "Deployment", deployment("9"))  # the watch, behind the read
    assert await version_read(workloads) == "10"
    assert gets(kmock) == 1


async def test_an_event_older_than_kcosts_template_patch_is_not_decided_on(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"patch {PATH}"] << deployment("12", cpu="250m")
    workloads.follow(KEY)
    workloads.delivered("MODIFIED", "Deployment", deployment("10"))
    await workloads.apply_containers(REF, ("spec", "template", "spec"), [{"name": "app", "resources": {}}])
    workloads.delivered("MODIFIED", "Deployment", deployment("11"))  # an event from before the patch
    assert await version_read(workloads) == "12"
    workloads.delivered("MODIFIED", "Deployment", deployment("13", cpu="250m"))  # the rollout moving on
    assert await version_read(workloads) == "13"
    assert gets(kmock) == 0


async def test_a_write_without_an_answer_body_is_read_again(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"patch {PATH}/scale"] << {"kind": "Scale", "spec": {"replicas": 2}}
    kmock[f"get {PATH}"] << deployment("15")
    workloads.follow(KEY)
    workloads.delivered("MODIFIED", "Deployment", deployment("10"))
    await workloads.scale(REF, 2)
    workloads.delivered("MODIFIED", "Deployment", deployment("14"))  # before or after the scale: unknown
    assert await version_read(workloads) == "15"
    await workloads.get(REF)
    assert gets(kmock) == 1


async def test_a_deleted_or_let_go_deployment_is_read(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"get {PATH}"] << 404
    workloads.follow(KEY)
    workloads.delivered("MODIFIED", "Deployment", deployment("10"))
    workloads.delivered("DELETED", "Deployment", deployment("11"))
    assert await workloads.get(REF) is None
    workloads.delivered("MODIFIED", "Deployment", deployment("12"))
    workloads.unfollow(KEY)
    assert workloads.fresh(KEY) is None


HPAS = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers"


async def test_rollouts_starting_together_in_a_namespace_share_one_listing_of_its_autoscalers(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"get {HPAS}"] << {"kind": "List", "metadata": {}, "items": [{"metadata": {"name": "web"}}]}
    listed = await asyncio.gather(*(workloads.autoscalers("shop") for _ in range(5)))
    assert await workloads.autoscalers("shop") == listed[0]
    assert [hpa["metadata"]["name"] for hpa in listed[0]] == ["web"]
    assert len(kmock["get"]) == 1


async def test_a_listing_older_than_its_window_is_not_shared(
    kmock: kmock.RawHandler, kmock_api: client.ApiClient
) -> None:
    kmock[f"get {HPAS}"] << {"kind": "List", "metadata": {}, "items": []}
    workloads = WatchedWorkloadClient(kmock_api, autoscalers_shared_s=0.0)
    await workloads.autoscalers("shop")
    await workloads.autoscalers("shop")
    assert len(kmock["get"]) == 2


PODS = "/api/v1/namespaces/shop/pods"


async def test_pods_are_listed_as_the_json_sent(kmock: kmock.RawHandler, workloads: WatchedWorkloadClient) -> None:
    pod = {"metadata": {"name": "web-1", "labels": {"app": "web"}}, "status": {"startTime": "2026-12-01T12:00:00Z"}}
    kmock[f"get {PODS}"] << {"kind": "PodList", "metadata": {}, "items": [pod]}
    assert await workloads.pods("shop", "app=web") == [pod]
    assert [request.params.get("labelSelector") for request in kmock["get"]] == ["app=web"]


async def test_a_refused_pod_listing_raises_the_api_error(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    kmock[f"get {PODS}"] << 403
    with pytest.raises(ApiException) as refused:
        await workloads.pods("shop", "app=web")
    assert refused.value.status == 403


async def test_a_kind_the_operator_does_not_watch_is_read_every_time(
    kmock: kmock.RawHandler, workloads: WatchedWorkloadClient
) -> None:
    """No event would ever replace its first read: a StatefulSet's rollout must see it change."""
    path = "/apis/apps/v1/namespaces/shop/statefulsets/db"
    kmock[f"get {path}"] << {"metadata": {"name": "db", "namespace": "shop", "resourceVersion": "10"}}
    ref = WorkloadRef("apps/v1", "StatefulSet", "statefulsets", "shop", "db")
    workloads.follow(key_of(ref))
    await workloads.get(ref)
    await workloads.get(ref)
    assert gets(kmock) == 2
