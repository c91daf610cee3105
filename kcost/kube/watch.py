"""Objects of one kind mirrored in memory: listed once, then kept current by a watch.

The webhook answers from these mirrors instead of reading the API server per request. The
loop is the informer's: list (a page at a time) and note the list's ``resourceVersion``;
watch from there (with bookmarks, so the version stays fresh while nothing changes); when the
API server has forgotten that version (410 Gone) list again and replace everything, so an
object deleted while the watch was away goes too; any other failure is retried with a
backoff from the last version. ``Mirror.synced`` is set once the first list is in, and stays
set: later the mirror lags at most by the retry, as the operator's kopf watches do.

A mirror's items are transformed as they arrive (parsed into a model, or reduced to the few
fields a reader needs), so a read costs a dict lookup and never parses JSON or pydantic.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import tenacity
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.common import GROUP, VERSION, Resource
from kcost.kube import wire
from kcost.kube.client import PAGE_SIZE, Body

T = TypeVar("T")
Key = tuple[str, str]
# A generated client's list method, its positional arguments bound (group, version, plural…).
ListCall = Callable[..., Awaitable[Any]]
# The API server ends a watch after about this long; the mirror then watches again from its version.
WATCH_TIMEOUT_S = 300
# Watch events that change an object; BOOKMARK only moves the version on.
CHANGES = frozenset({"ADDED", "MODIFIED", "DELETED"})
log = logging.getLogger(__name__)


class Gone(Exception):  # noqa: N818 - the HTTP name is what readers know
    """The API server no longer holds the version the watch asked for (HTTP 410): list again."""


def key_of(body: Body) -> Key:
    metadata = body.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


@dataclass
class Mirror(Generic[T]):
    """The objects of one kind as last seen, each as ``transform`` made it (None: not kept)."""

    what: str
    transform: Callable[[Body], T | None]
    items: dict[Key, T] = field(default_factory=dict)
    synced: asyncio.Event = field(default_factory=asyncio.Event)

    def replace(self, bodies: list[Body]) -> None:
        """A full listing: what it does not hold is gone."""
        fresh: dict[Key, T] = {}
        for body in bodies:
            if (value := self.transform(body)) is not None:
                fresh[key_of(body)] = value
        self.items = fresh
        self.synced.set()

    def observe(self, event_type: str, body: Body) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        key = key_of(body)
        value = None if event_type == "DELETED" else self.transform(body)
        if value is None:
            self.items.pop(key, None)
        else:
            self.items[key] = value


def custom_objects(api: client.ApiClient, kind: type[Resource]) -> ListCall:
    """The list call of a kcost kind, over every namespace."""
    return functools.partial(client.CustomObjectsApi(api).list_cluster_custom_object, GROUP, VERSION, kind.crd.plural)


def namespaces(api: client.ApiClient) -> ListCall:
    """The list call of Namespaces."""
    return client.CoreV1Api(api).list_namespace


async def _list(list_call: ListCall, mirror: Mirror[T]) -> str:
    """List every object into ``mirror``; the version to watch from."""
    version = ""

    async def page(**options: Any) -> Body:
        nonlocal version
        listed = await wire.body(await list_call(_preload_content=False, **options))
        # The first page's version is the snapshot the whole paged list comes from.
        version = version or str((listed.get("metadata") or {}).get("resourceVersion") or "")
        return listed

    mirror.replace([item async for item in wire.pages(page, PAGE_SIZE)])
    return version


async def _watch(list_call: ListCall, mirror: Mirror[T], version: str) -> str:
    """Follow the watch from ``version`` until the API server ends it; the last version seen."""
    response = await list_call(
        watch=True,
        resource_version=version,
        allow_watch_bookmarks=True,
        timeout_seconds=WATCH_TIMEOUT_S,
        _preload_content=False,
        # Connect quickly or fail; a read may wait for the next event up to the watch's end.
        _request_timeout=(10, WATCH_TIMEOUT_S + 30),
    )
    async with response:
        if response.status == 410:
            raise Gone(mirror.what)
        if response.status != 200:
            raise await wire.failure(response)
        async for event in wire.events(response.content):
            event_type, body = event.get("type"), event.get("object") or {}
            if event_type == "ERROR":
                if body.get("code") == 410:
                    raise Gone(mirror.what)
                raise ApiException(status=body.get("code"), reason=body.get("message"))
            if event_type in CHANGES:
                mirror.observe(event_type, body)
            version = str((body.get("metadata") or {}).get("resourceVersion") or version)
    return version


async def _list_and_watch(list_call: ListCall, mirror: Mirror[T]) -> None:
    version = await _list(list_call, mirror)
    while True:
        try:
            version = await _watch(list_call, mirror, version)
        except Gone:
            log.info("%s: the watch's version is gone; listing again", mirror.what)
            version = await _list(list_call, mirror)


async def reflect(list_call: ListCall, mirror: Mirror[T], *, max_backoff_s: float = 10.0) -> None:
    """Keep ``mirror`` current until cancelled; failures are logged and retried with a backoff."""
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type(Exception),
        wait=tenacity.wait_exponential(multiplier=0.2, max=max_backoff_s),
        before_sleep=lambda state: log.warning(
            "%s: watching failed (%s); again in %.1f s",
            mirror.what,
            state.outcome.exception() if state.outcome else None,
            state.next_action.sleep if state.next_action else 0.0,
        ),
    )
    await retrying(_list_and_watch, list_call, mirror)
