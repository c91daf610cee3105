"""A small async client for kcost's objects and the workloads they point at.

Reads of kcost's kinds come back as their pydantic models (``get``, ``list``, ``iter``);
``get_raw``/``list_raw``/``iter_raw`` hand back the API server's JSON for the few callers
that need fields the models do not keep (printing an object as the server holds it).
Lists are read a page at a time (``limit`` and ``continue``), so tens of thousands of
recommendations never come in one answer.

An object that does not fit its model is a fault of that object, not of the list: ``get``
raises InvalidObject naming it and the field; ``list`` and ``iter`` skip it with a warning
that says the same, and go on with the rest.

Writes use server-side apply with a field manager per writer (the operator, each
analyzer), so each owns only its own fields; status writes may carry the
``resourceVersion`` they were computed from, so that two writers conflict (HTTP 409)
instead of overwriting each other.
"""

from __future__ import annotations

import base64
import builtins
import datetime
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kcost.api.v1alpha1.common import GROUP, VERSION, Resource
from kcost.config import KubeconfigError
from kcost.kube import watch_list, wire
from kcost.kube.workloads import WorkloadClient

APPLY = wire.APPLY
MERGE = wire.MERGE
# Objects per list request: large enough to keep requests few, small enough to keep answers short.
PAGE_SIZE = 500
PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL = "kopf.dev", "v1", "clusterkopfpeerings"
Body = wire.Body
R = TypeVar("R", bound=Resource)
log = logging.getLogger(__name__)


class Conflict(Exception):  # noqa: N818 - the HTTP name is what readers know
    """The object changed since it was read (HTTP 409): read again and retry."""


class NotFound(Exception):  # noqa: N818
    """The object does not exist (HTTP 404)."""


class InvalidObject(ValueError):  # noqa: N818 - says what is wrong, like NotFound
    """An object the API server holds does not fit its model; the message names the object and the fields."""


def _translate(error: ApiException) -> Exception:
    if error.status == 409:
        return Conflict(str(error.reason))
    if error.status == 404:
        return NotFound(str(error.reason))
    return error


def parse(kind: type[R], body: Body) -> R:
    """``body`` as a ``kind``; InvalidObject says which object and which fields do not fit."""
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        metadata = body.get("metadata") or {}
        where = "/".join(str(part) for part in (metadata.get("namespace"), metadata.get("name", "?")) if part)
        problems = "; ".join(_problem(problem) for problem in error.errors())
        raise InvalidObject(f"{kind.crd.kind} {where} does not fit the {VERSION} schema: {problems}") from None


def _problem(problem: ErrorDetails) -> str:
    field = ".".join(str(part) for part in problem["loc"]) or "(the object)"
    value = problem.get("input")
    got = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
    return f"{field}: {problem['msg']}{got}"


async def _parsed(kind: type[R], bodies: AsyncIterator[Body]) -> AsyncIterator[R]:
    """``bodies`` as ``kind``, skipping with a warning those that do not fit."""
    async for body in bodies:
        try:
            item = parse(kind, body)
        except InvalidObject as error:
            log.warning("skipped in a list: %s", error)
            continue
        yield item


@asynccontextmanager
async def connect(kubeconfig: str | None = None, context: str | None = None) -> AsyncIterator[KubeClient]:
    """A client from a kubeconfig (``$KUBECONFIG`` or ~/.kube/config) or, inside a Pod, the service account.

    Raises ``KubeconfigError`` naming the file when neither gives a usable configuration.
    """
    if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except ConfigException as error:
            raise KubeconfigError(f"no usable in-cluster service account: {error}") from None
        api = client.ApiClient()
    else:
        configuration = client.Configuration()
        try:
            await config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
        except (ConfigException, OSError) as error:
            raise KubeconfigError(_kubeconfig_problem(kubeconfig, error)) from None
        api = client.ApiClient(configuration)
    skip_idle_environment_lookups(api)
    try:
        yield KubeClient(api)
    finally:
        await api.close()


def _kubeconfig_problem(kubeconfig: str | None, error: Exception) -> str:
    # kubernetes_asyncio reads a missing file as an empty one ("Expected key current-context"): name the file.
    source = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [path for path in source.split(os.pathsep) if path]
    if paths and not any(Path(path).expanduser().exists() for path in paths):
        detail = f"{source}: no such file"
    else:
        detail = f"{source}: {error}"
    return f"no usable kubeconfig ({detail}); set KUBECONFIG or --kubeconfig, or run inside a Pod"


# What aiohttp's trust_env reads: proxies from these variables, credentials from a netrc file.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def skip_idle_environment_lookups(api: client.ApiClient) -> None:
    """Turn off aiohttp's ``trust_env`` when the environment holds nothing it would use.

    kubernetes_asyncio opens its session with ``trust_env=True``, so every request first
    looks for a netrc file in a worker thread: a thread hop per request, costly on a
    loaded event loop (the webhook's p99). With no proxy variable and no netrc file that
    lookup finds nothing; with either, it is left on.
    """
    netrc = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if any(os.environ.get(name) for name in PROXY_VARIABLES) or netrc.exists():
        return
    # aiohttp reads trust_env per request; the session has no public setter for it.
    api.rest_client.pool_manager._trust_env = False


def _ns(namespace: str | None) -> str:
    if not namespace:
        raise ValueError("a namespaced object needs metadata.namespace")
    return namespace


class KubeClient:
    """Custom objects of ``optimizer.kcost.dev``, workloads, nodes, pods, namespaces, events and the few
    Secrets and ConfigMaps a profile points at.

    Errors of the API server come up as ``ApiException`` except where a method says otherwise.
    """

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self.workloads = WorkloadClient(api)
        self._unstreamed: set[str] = set()  # collections the server would not stream (watch_list.Refused)

    @property
    def api_client(self) -> client.ApiClient:
        """The underlying client, for the few APIs not wrapped here (SubjectAccessReviews, webhook configurations)."""
        return self._api

    # -- kcost objects, typed ----------------------------------------------------------

    async def get(self, kind: type[R], name: str, namespace: str | None = None) -> R | None:
        """The named object, None when it does not exist; InvalidObject when it does not fit its model."""
        body = await self.get_raw(kind, name, namespace)
        return None if body is None else parse(kind, body)

    async def list(
        self,
        kind: type[R],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> builtins.list[R]:
        """Every object of ``kind`` (in ``namespace``, or all), skipping with a warning those that do not fit."""
        return [item async for item in self.iter(kind, namespace, label_selector=label_selector, page_size=page_size)]

    async def iter(
        self,
        kind: type[R],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[R]:
        """As ``list``, one object at a time, read a page at a time."""
        async for item in _parsed(
            kind, self.iter_raw(kind, namespace, label_selector=label_selector, page_size=page_size)
        ):
            yield item

    async def stream(
        self, kind: type[R], namespace: str | None = None, *, label_selector: str | None = None
    ) -> AsyncIterator[R]:
        """As ``iter``, streamed from the API server's watch cache: for lists of thousands (see ``watch_list``)."""
        async for item in _parsed(kind, self.stream_raw(kind, namespace, label_selector=label_selector)):
            yield item

    # -- kcost objects, as the API server sends them ---------------------------------------

    async def get_raw(self, kind: type[Resource], name: str, namespace: str | None = None) -> Body | None:
        """The named object's JSON, None when it does not exist."""
        try:
            if kind.crd.scope == "Cluster":
                found = await self._custom.get_cluster_custom_object(GROUP, VERSION, kind.crd.plural, name)
            else:
                found = await self._custom.get_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), kind.crd.plural, name
                )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    async def list_raw(
        self,
        kind: type[Resource],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> builtins.list[Body]:
        """Every object of ``kind`` as JSON (in ``namespace``, or all)."""
        return [
            item async for item in self.iter_raw(kind, namespace, label_selector=label_selector, page_size=page_size)
        ]

    def iter_raw(
        self,
        kind: type[Resource],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Body]:
        """As ``list_raw``, one object at a time, read a page at a time."""
        return self._custom_pages(
            GROUP, VERSION, kind.crd.plural, namespace, label_selector=label_selector, page_size=page_size
        )

    async def stream_raw(
        self, kind: type[Resource], namespace: str | None = None, *, label_selector: str | None = None
    ) -> AsyncIterator[Body]:
        """As ``iter_raw``, streamed from the API server's watch cache; in pages where the server does not stream."""
        scope = f"/namespaces/{namespace}" if namespace else ""
        path = f"/apis/{GROUP}/{VERSION}{scope}/{kind.crd.plural}"
        if path not in self._unstreamed:
            try:
                async for item in watch_list.stream(self._api, path, label_selector):
                    yield item
                return
            except watch_list.Refused as refusal:
                self._unstreamed.add(path)  # the server (or this account's RBAC) will not: do not ask each time
                log.info("listing %s in pages: the API server does not stream it (%s)", path, refusal)
        async for item in self.iter_raw(kind, namespace, label_selector=label_selector):
            yield item

    def _custom_pages(
        self,
        group: str,
        version: str,
        plural: str,
        namespace: str | None,
        *,
        label_selector: str | None,
        page_size: int,
    ) -> AsyncIterator[Body]:
        selector = label_selector or ""

        async def page(**options: Any) -> Body:
            if namespace is None:
                listed = await self._custom.list_cluster_custom_object(
                    group, version, plural, label_selector=selector, **options
                )
            else:
                listed = await self._custom.list_namespaced_custom_object(
                    group, version, namespace, plural, label_selector=selector, **options
                )
            return dict(listed)

        return wire.pages(page, page_size)

    # -- kcost objects, writes ---------------------------------------------------------

    async def create(self, kind: type[Resource], body: Body, *, field_manager: str) -> Body:
        """Create ``body``, never overwriting (HTTP 409 is ``Conflict``); ``generateName`` lets the server name it."""
        full = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind.crd.kind, **body}
        try:
            if kind.crd.scope == "Cluster":
                created = await self._custom.create_cluster_custom_object(
                    GROUP, VERSION, kind.crd.plural, full, field_manager=field_manager
                )
            else:
                namespace = _ns(body["metadata"].get("namespace"))
                created = await self._custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, kind.crd.plural, full, field_manager=field_manager
                )
        except ApiException as error:
            raise _translate(error) from error
        return dict(created)

    async def apply(
        self, kind: type[Resource], body: Body, *, field_manager: str, force: bool = True, status: bool = False
    ) -> Body:
        """Server-side apply of ``body`` (a partial object: only the fields this manager owns); the whole object."""
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
            # For an apply the API server checks only for duplicate keys with this (unknown fields fail
            # the apply anyway), by parsing the YAML a second time: a JSON-dumped dict has none.
            "field_validation": "Ignore",
            "_content_type": APPLY,
            "_preload_content": False,
        }
        try:
            if kind.crd.scope == "Cluster" and status:
                result = await self._custom.patch_cluster_custom_object_status(
                    GROUP, VERSION, plural, name, full, **options
                )
            elif kind.crd.scope == "Cluster":
                result = await self._custom.patch_cluster_custom_object(GROUP, VERSION, plural, name, full, **options)
            elif status:
                result = await self._custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, _ns(namespace), plural, name, full, **options
                )
            else:
                result = await self._custom.patch_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), plural, name, full, **options
                )
            return await wire.body(result)
        except ApiException as error:
            raise _translate(error) from error

    async def merge_patch(self, kind: type[Resource], name: str, namespace: str | None, patch: Body) -> None:
        """A JSON merge patch, for what server-side apply cannot express (taking a field from another manager)."""
        options: dict[str, Any] = {"_content_type": MERGE}
        try:
            if kind.crd.scope == "Cluster":
                await self._custom.patch_cluster_custom_object(GROUP, VERSION, kind.crd.plural, name, patch, **options)
            else:
                await self._custom.patch_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), kind.crd.plural, name, patch, **options
                )
        except ApiException as error:
            raise _translate(error) from error

    async def delete(self, kind: type[Resource], name: str, namespace: str | None = None) -> None:
        """Delete the object; one already gone is not an error."""
        try:
            if kind.crd.scope == "Cluster":
                await self._custom.delete_cluster_custom_object(GROUP, VERSION, kind.crd.plural, name)
            else:
                await self._custom.delete_namespaced_custom_object(
                    GROUP, VERSION, _ns(namespace), kind.crd.plural, name
                )
        except ApiException as error:
            if error.status != 404:
                raise

    # -- workloads ---------------------------------------------------------------------

    async def get_workload(self, api_version: str, plural: str, namespace: str, name: str) -> Body | None:
        """Any namespaced object of a named API group (apps/v1 deployments, batch/v1 cronjobs, …)."""
        group, _, version = api_version.rpartition("/")
        try:
            found = await self._custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    async def list_workloads(
        self, api_version: str, plural: str, namespace: str | None = None, *, page_size: int = PAGE_SIZE
    ) -> builtins.list[Body]:
        """Every object of one kind of a named API group; NotFound when the kind is not served."""
        return [item async for item in self.iter_workloads(api_version, plural, namespace, page_size=page_size)]

    async def iter_workloads(
        self, api_version: str, plural: str, namespace: str | None = None, *, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[Body]:
        """Objects of one kind, read a page at a time so a large cluster never sits in memory twice.

        Raises NotFound when the API server does not serve the kind (a CRD that is not installed).
        """
        group, _, version = api_version.rpartition("/")
        try:
            async for item in self._custom_pages(
                group, version, plural, namespace, label_selector=None, page_size=page_size
            ):
                yield item
        except ApiException as error:
            raise _translate(error) from None

    # -- the core API ----------------------------------------------------------------------

    def _core_pages(self, list_page: Callable[..., Awaitable[Any]], page_size: int) -> AsyncIterator[Body]:
        # The JSON as sent: building the generated models of thousands of pods costs more than the listing.
        async def page(**options: Any) -> Body:
            return await wire.body(await list_page(_preload_content=False, **options))

        return wire.pages(page, page_size)

    async def namespaces(self, *, page_size: int = PAGE_SIZE) -> builtins.list[Body]:
        """Every Namespace as JSON."""
        return [item async for item in self._core_pages(self._core.list_namespace, page_size)]

    async def nodes(self, *, page_size: int = PAGE_SIZE) -> builtins.list[Body]:
        """Every Node as JSON."""
        return [item async for item in self._core_pages(self._core.list_node, page_size)]

    async def pods(self, *, page_size: int = PAGE_SIZE) -> builtins.list[Body]:
        """Every Pod of every namespace as JSON."""
        return [item async for item in self._core_pages(self._core.list_pod_for_all_namespaces, page_size)]

    async def persistent_volume_claims(self, *, page_size: int = PAGE_SIZE) -> builtins.list[Body]:
        """Every PersistentVolumeClaim of every namespace as JSON."""
        listing = self._core.list_persistent_volume_claim_for_all_namespaces
        return [item async for item in self._core_pages(listing, page_size)]

    async def config_map_data(self, name: str, namespace: str) -> dict[str, str]:
        """The ``data`` of a ConfigMap (empty when it has none)."""
        config_map = await self._core.read_namespaced_config_map(name, namespace)
        return dict(config_map.data or {})

    async def secret_data(self, name: str, namespace: str) -> dict[str, bytes]:
        """The ``data`` of a Secret, decoded from base64 (empty when it has none)."""
        secret = await self._core.read_namespaced_secret(name, namespace)
        return {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}

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
        await self._core.create_namespaced_event(namespace, event)

    # -- kopf's peering (which operator replica leads) -----------------------------------------

    async def ensure_cluster_peering(self, name: str) -> None:
        """Create the ClusterKopfPeering ``name`` unless it exists."""
        body = {
            "apiVersion": f"{PEERING_GROUP}/{PEERING_VERSION}",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": name},
        }
        try:
            await self._custom.create_cluster_custom_object(PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL, body)
        except ApiException as error:
            if error.status != 409:
                raise

    async def get_cluster_peering(self, name: str) -> Body | None:
        """The ClusterKopfPeering ``name`` as JSON (kopf's, so no model), None when it does not exist."""
        try:
            found = await self._custom.get_cluster_custom_object(PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)
