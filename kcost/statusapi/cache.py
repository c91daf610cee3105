"""The four kinds kept in memory by list+watch, so that no read of the API costs an API server call;
every change is also published to the event stream's subscribers.

Each kind is listed a page at a time, then watched from the list's resourceVersion; a watch
that ends is resumed from the last version seen, and one the API server no longer
remembers (410 Gone) starts over with a fresh list.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import GROUP, VERSION, Resource
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation

Body = dict[str, Any]
Key = tuple[str, str]
KINDS: tuple[type[Resource], ...] = (ClusterCostProfile, Analysis, OptimizationRecommendation, OptimizationPolicy)
PAGE_SIZE = 500
WATCH_TIMEOUT_S = 300
RETRY_DELAY_S = 2.0
# Events a subscriber may fall behind by before it is dropped (it reconnects and reads the lists again).
SUBSCRIBER_BACKLOG = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)  # one object as seen once: compared by identity
class Entry:
    """One object: its model, and its JSON as answered, as data and as bytes (computed once, not per request)."""

    model: Resource
    body: Body
    encoded: bytes


@dataclass(frozen=True)
class Change:
    """One change, as the event stream sends it."""

    type: str
    kind: str
    namespace: str
    body: Body


@dataclass
class Broker:
    """Fans changes out to the event stream's subscribers; one that falls behind is closed (None)."""

    subscribers: set[asyncio.Queue[Change | None]] = field(default_factory=set)

    def subscribe(self) -> asyncio.Queue[Change | None]:
        """A queue of every change from now on; ``unsubscribe`` it when done."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change | None]) -> None:
        """Stop sending changes to ``queue``."""
        self.subscribers.discard(queue)

    def publish(self, change: Change) -> None:
        """Send ``change`` to every subscriber."""
        for queue in list(self.subscribers):
            if queue.full():
                self.subscribers.discard(queue)
                queue.get_nowait()  # room for the end mark
                queue.put_nowait(None)
            else:
                queue.put_nowait(change)


@dataclass
class KindCache:
    """Every object of one kind as last seen."""

    kind: type[Resource]
    items: dict[Key, Entry] = field(default_factory=dict)
    synced: bool = False
    #: Called with (before, after) on every change; None: absent before or after.
    listeners: list[Callable[[Entry | None, Entry | None], None]] = field(default_factory=list)

    def _changed(self, before: Entry | None, after: Entry | None) -> None:
        for listener in self.listeners:
            listener(before, after)

    def observe(self, event_type: str, body: Body) -> Change | None:
        """One watch event; the change to publish, None for an object that does not fit its model."""
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))
        if event_type == "DELETED":
            gone = self.items.pop(key, None)
            self._changed(gone, None)
            return Change(event_type, self.kind.crd.kind, key[0], gone.body if gone else body)
        try:
            model = self.kind.model_validate(body)
        except ValidationError as error:
            log.warning("%s %s/%s left out: %s", self.kind.crd.kind, *key, error.errors()[0]["msg"])
            return None
        body = model.to_api()
        entry = Entry(model, body, json.dumps(body).encode())
        self._changed(self.items.get(key), entry)
        self.items[key] = entry
        return Change(event_type, self.kind.crd.kind, key[0], body)

    def replace(self, bodies: list[Body]) -> list[Change]:
        """The result of a fresh list: every object, none else; the changes since the last state seen
        (what a watch that had to start over missed)."""
        gone, self.items = self.items, {}
        for entry in gone.values():
            self._changed(entry, None)
        changes = []
        for body in bodies:
            metadata = body.get("metadata") or {}
            before = gone.pop((str(metadata.get("namespace") or ""), str(metadata.get("name") or "")), None)
            change = self.observe("MODIFIED" if before else "ADDED", body)
            if change is not None and (before is None or before.body != change.body):
                changes.append(change)
        changes += [Change("DELETED", self.kind.crd.kind, key[0], entry.body) for key, entry in gone.items()]
        self.synced = True
        return changes

    def get(self, name: str, namespace: str = "") -> Entry | None:
        """The named object, None when the cache has none."""
        return self.items.get((namespace, name))

    def entries(self) -> Iterator[Entry]:
        """Every object."""
        return iter(list(self.items.values()))


@dataclass
class Caches:
    """One ``KindCache`` per kind, and the broker their changes go to."""

    kinds: dict[str, KindCache] = field(default_factory=lambda: {kind.crd.kind: KindCache(kind) for kind in KINDS})
    broker: Broker = field(default_factory=Broker)

    @property
    def ready(self) -> bool:
        """Whether every kind has been listed at least once."""
        return all(cache.synced for cache in self.kinds.values())

    def of(self, kind: type[Resource]) -> KindCache:
        """The cache of ``kind``."""
        return self.kinds[kind.crd.kind]

    async def run(self, api: client.ApiClient) -> None:
        """List and watch every kind until cancelled."""
        custom = client.CustomObjectsApi(api)
        await asyncio.gather(*(_list_watch(custom, cache, self.broker) for cache in self.kinds.values()))


async def _list_watch(custom: client.CustomObjectsApi, cache: KindCache, broker: Broker) -> None:
    plural = cache.kind.crd.plural
    while True:
        try:
            version = await _relist(custom, cache, broker)
            while True:
                version = await _watch(custom, cache, broker, version)
        except asyncio.CancelledError:
            raise
        except ApiException as error:
            if error.status != 410:
                log.warning("watch of %s failed (%s): listing again in %ss", plural, error.status, RETRY_DELAY_S)
                await asyncio.sleep(RETRY_DELAY_S)
        except Exception as error:  # noqa: BLE001 - a broken connection must not end the cache
            log.warning("watch of %s failed: %s: listing again in %ss", plural, error, RETRY_DELAY_S)
            await asyncio.sleep(RETRY_DELAY_S)


async def _relist(custom: client.CustomObjectsApi, cache: KindCache, broker: Broker) -> str:
    """List every object a page at a time; the list's resourceVersion."""
    bodies: list[Body] = []
    token: str | None = None
    while True:
        options: dict[str, Any] = {"limit": PAGE_SIZE, **({"_continue": token} if token else {})}
        page = await custom.list_cluster_custom_object(GROUP, VERSION, cache.kind.crd.plural, **options)
        bodies += page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            for change in cache.replace(bodies):
                broker.publish(change)
            return str(page["metadata"]["resourceVersion"])


async def _watch(custom: client.CustomObjectsApi, cache: KindCache, broker: Broker, version: str) -> str:
    """Watch from ``version`` until the server ends the watch; the last version seen."""
    stream = watch.Watch()
    async with stream:
        async for event in stream.stream(
            custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            cache.kind.crd.plural,
            resource_version=version,
            timeout_seconds=WATCH_TIMEOUT_S,
            allow_watch_bookmarks=True,
        ):
            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                change = cache.observe(event["type"], event["raw_object"])
                if change is not None:
                    broker.publish(change)
    return str(stream.resource_version or version)
