"""A small async client for kcost's objects and the workloads they point at.

Writes use server-side apply with a field manager per writer (the operator, each
analyzer), so each owns only its own fields; status writes may carry the
``resourceVersion`` they were computed from, so that two writers conflict (HTTP 409)
instead of overwriting each other.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.common import GROUP, VERSION, Resource
from kcost.kube.workloads import WorkloadClient

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
Body = dict[str, Any]


class Conflict(Exception):  # noqa: N818 - the HTTP name is what readers know
    """The object changed since it was read (HTTP 409): read again and retry."""


class NotFound(Exception):  # noqa: N818
    """The object does not exist (HTTP 404)."""


def _translate(error: ApiException) -> Exception:
    if error.status == 409:
        return Conflict(str(error.reason))
    if error.status == 404:
        return NotFound(str(error.reason))
    return error


@asynccontextmanager
async def connect(kubeconfig: str | None = None, context: str | None = None) -> AsyncIterator[KubeClient]:
    """A client from a kubeconfig (``$KUBECONFIG`` or ~/.kube/config) or, inside a Pod, the service account."""
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        api = client.ApiClient()
    else:
        configuration = client.Configuration()
        await config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
        api = client.ApiClient(configuration)
    try:
        yield KubeClient(api)
    finally:
        await api.close()


def _ns(namespace: str | None) -> str:
    if not namespace:
        raise ValueError("a namespaced object needs metadata.namespace")
    return namespace


class KubeClient:
    """Custom objects of ``optimizer.kcost.dev``, workloads, namespaces and events."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.workloads = WorkloadClient(api)

    # -- kcost objects ---------------------------------------------------------------

    async def get(self, kind: type[Resource], name: str, namespace: str | None = None) -> Body | None:
        try:
            if kind.crd.scope == "Cluster":
                found = await self.custom.get_cluster_custom_object(GROUP, VERSION, kind.crd.plural, name)
            else:
                found = await self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), kind.crd.plural, name
                )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    async def list_objects(
        self, kind: type[Resource], namespace: str | None = None, label_selector: str | None = None
    ) -> list[Body]:
        selector = label_selector or ""
        if namespace is None:
            result = await self.custom.list_cluster_custom_object(
                GROUP, VERSION, kind.crd.plural, label_selector=selector
            )
        else:
            result = await self.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, kind.crd.plural, label_selector=selector
            )
        return list(result.get("items", []))

    async def apply(
        self, kind: type[Resource], body: Body, *, field_manager: str, force: bool = True, status: bool = False
    ) -> Body:
        """Server-side apply of ``body`` (a partial object: only the fields this manager owns)."""
        name = body["metadata"]["name"]
        namespace = body["metadata"].get("namespace")
        full = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind.crd.kind, **body}
        plural = kind.crd.plural
        # `_content_type` is accepted by the client's methods though its stubs leave it out.
        # The generated client maps only HTTP 200, so the body of a create (201) would be lost
        # and need a second read: take the raw answer instead.
        options: dict[str, Any] = {
            "field_manager": field_manager,
            "force": force,
            "_content_type": APPLY,
            "_preload_content": False,
        }
        try:
            if kind.crd.scope == "Cluster" and status:
                result = await self.custom.patch_cluster_custom_object_status(
                    GROUP, VERSION, plural, name, full, **options
                )
            elif kind.crd.scope == "Cluster":
                result = await self.custom.patch_cluster_custom_object(GROUP, VERSION, plural, name, full, **options)
            elif status:
                result = await self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, _ns(namespace), plural, name, full, **options
                )
            else:
                result = await self.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), plural, name, full, **options
                )
        except ApiException as error:
            raise _translate(error) from error
        raw = await result.read()
        if not 200 <= result.status <= 299:
            # Without preloading, the client leaves errors to us: raise what it would have raised.
            failure = ApiException(status=result.status, reason=result.reason)
            failure.body = raw
            raise _translate(failure) from failure
        answer: Body = json.loads(raw)
        return answer

    async def merge_patch(self, kind: type[Resource], name: str, namespace: str | None, patch: Body) -> None:
        """A JSON merge patch, for what server-side apply cannot express (taking a field from another manager)."""
        options: dict[str, Any] = {"_content_type": MERGE}
        try:
            if kind.crd.scope == "Cluster":
                await self.custom.patch_cluster_custom_object(GROUP, VERSION, kind.crd.plural, name, patch, **options)
            else:
                await self.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), kind.crd.plural, name, patch, **options
                )
        except ApiException as error:
            raise _translate(error) from error

    async def delete(self, kind: type[Resource], name: str, namespace: str | None = None) -> None:
        try:
            if kind.crd.scope == "Cluster":
                await self.custom.delete_cluster_custom_object(GROUP, VERSION, kind.crd.plural, name)
            else:
                await self.custom.delete_namespaced_custom_object(GROUP, VERSION, _ns(namespace), kind.crd.plural, name)
        except ApiException as error:
            if error.status != 404:
                raise

    # -- workloads and namespaces -----------------------------------------------------

    async def get_workload(self, api_version: str, plural: str, namespace: str, name: str) -> Body | None:
        """Any namespaced object of a named API group (apps/v1 deployments, batch/v1 cronjobs, …)."""
        group, _, version = api_version.rpartition("/")
        try:
            found = await self.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    async def list_workloads(self, api_version: str, plural: str, namespace: str | None = None) -> list[Body]:
        group, _, version = api_version.rpartition("/")
        if namespace is None:
            result = await self.custom.list_cluster_custom_object(group, version, plural)
        else:
            result = await self.custom.list_namespaced_custom_object(group, version, namespace, plural)
        return list(result.get("items", []))

    async def iter_workloads(
        self, api_version: str, plural: str, namespace: str | None = None, *, page_size: int = 500
    ) -> AsyncIterator[Body]:
        """Objects of one kind, read a page at a time so a large cluster never sits in memory twice.

        Raises NotFound when the API server does not serve the kind (a CRD that is not installed).
        """
        group, _, version = api_version.rpartition("/")
        token: str | None = None
        while True:
            options: dict[str, Any] = {"limit": page_size}
            if token:
                options["_continue"] = token
            try:
                if namespace is None:
                    page = await self.custom.list_cluster_custom_object(group, version, plural, **options)
                else:
                    page = await self.custom.list_namespaced_custom_object(group, version, namespace, plural, **options)
            except ApiException as error:
                raise _translate(error) from None
            for item in page.get("items", []):
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    async def namespaces(self) -> list[Body]:
        result = await self.core.list_namespace()
        return [self.api.sanitize_for_serialization(item) for item in result.items]

    async def event(
        self,
        involved: Body,
        *,
        reason: str,
        message: str,
        event_type: str = "Normal",
        component: str = "kcost-operator",
    ) -> None:
        """Record a Kubernetes Event on ``involved`` (shown by ``kubectl describe``)."""
        metadata = involved["metadata"]
        now = datetime.datetime.now(datetime.UTC)
        namespace = metadata.get("namespace") or "default"
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{metadata['name']}.", namespace=namespace),
            involved_object=client.V1ObjectReference(
                api_version=involved.get("apiVersion"),
                kind=involved.get("kind"),
                name=metadata["name"],
                namespace=metadata.get("namespace"),
                uid=metadata.get("uid"),
                resource_version=metadata.get("resourceVersion"),
            ),
            reason=reason,
            message=message[:1024],
            type=event_type,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component=component),
            reporting_component=component,
        )
        await self.core.create_namespaced_event(namespace, event)
