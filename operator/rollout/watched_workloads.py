"""The workloads under rollout as the watch last delivered them, so a rollout's look at its Deployment costs no GET.

The operator's Deployment handler already sees every change; for the workloads a
rollout follows it keeps the latest body here. A read answers from it when the body is
at least as new as kcost's own last write to that workload (resourceVersions compared
as the etcd revisions they are; one that is not a number is never trusted, so it is
read). A write whose answer carries no body (scale, annotations) leaves the workload to
be read once more: an event still on its way may be older than that write.

A namespace's HorizontalPodAutoscalers, read as each rollout starts, are listed once for
all the rollouts starting there within a couple of seconds: a thousand rollouts in fifty
namespaces starting together otherwise decode every namespace's HPAs a thousand times.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes_asyncio import client

from kcost.kube.workloads import WorkloadClient, WorkloadRef

Body = dict[str, Any]
# kind, namespace, name: as the worker follows workloads.
Key = tuple[str, str, str]
# The kinds whose watch events reach ``delivered`` (the operator's Deployment handler): any other kind would keep
# its first read forever, so it is read every time.
WATCHED_KINDS = frozenset({"Deployment"})
# How long one listing of a namespace's HPAs serves the rollouts starting there (one made since is not seen).
AUTOSCALERS_SHARED_S = 2.0


def key_of(ref: WorkloadRef) -> Key:
    return ref.kind, ref.namespace, ref.name


def revision(body: Body) -> int | None:
    """The body's resourceVersion as a number; None when it is not one (then it is never trusted)."""
    version = (body.get("metadata") or {}).get("resourceVersion") or ""
    return int(version) if version.isdigit() else None


class WatchedWorkloadClient(WorkloadClient):
    """A WorkloadClient whose reads of followed workloads are answered from the watch when it is up to date."""

    def __init__(self, api: client.ApiClient, autoscalers_shared_s: float = AUTOSCALERS_SHARED_S) -> None:
        super().__init__(api)
        self._autoscalers_shared_s = autoscalers_shared_s
        # Namespace → when its HPAs were asked for, and that listing (shared by whoever asks meanwhile).
        self._autoscalers: dict[str, tuple[float, asyncio.Future[list[Body]]]] = {}
        self._followed: set[Key] = set()
        self._bodies: dict[Key, Body] = {}
        # Key → the revision of kcost's last write the body must reach (None: unknown, read it).
        self._written: dict[Key, int | None] = {}

    def follow(self, key: Key) -> None:
        """Keep this workload's bodies from now on (a rollout changes it), if its kind is watched."""
        if key[0] in WATCHED_KINDS:
            self._followed.add(key)

    def unfollow(self, key: Key) -> None:
        """Let go of this workload's body (its rollout is over)."""
        self._followed.discard(key)
        self._bodies.pop(key, None)
        self._written.pop(key, None)

    def delivered(self, event_type: str, kind: str, body: Body) -> None:
        """A body from the watch stream: kept when the workload is followed and it is newer than what is held
        (a deletion: read it again, which says it is gone)."""
        metadata = body.get("metadata") or {}
        key = (kind, metadata.get("namespace") or "", metadata.get("name") or "")
        if key not in self._followed:
            return
        if event_type == "DELETED":
            self._bodies.pop(key, None)
            self._written[key] = None
        else:
            self._keep(key, body)

    def fresh(self, key: Key) -> Body | None:
        """The body to decide on; None when it must be read (none held, or behind kcost's last write)."""
        body = self._bodies.get(key)
        held = revision(body) if body is not None else None
        if held is None or key not in self._written:
            return body if held is not None else None
        floor = self._written[key]
        if floor is None or held < floor:
            return None
        del self._written[key]  # caught up: later bodies are only newer
        return body

    def _keep(self, key: Key, body: Body) -> None:
        held = self._bodies.get(key)
        new, old = revision(body), revision(held) if held is not None else None
        # An event older than a body already held (a read, a write's answer) is not kept.
        if held is None or new is None or old is None or new >= old:
            self._bodies[key] = body

    def _wrote(self, ref: WorkloadRef, answer: Body | None) -> None:
        key = key_of(ref)
        if key not in self._followed:
            return
        if answer is None:
            self._bodies.pop(key, None)
            self._written[key] = None
            return
        self._written[key] = revision(answer)
        self._keep(key, answer)

    async def get(self, ref: WorkloadRef) -> Body | None:
        key = key_of(ref)
        body = self.fresh(key)
        if body is not None:
            return body
        body = await super().get(ref)
        if body is not None and key in self._followed:
            self._written.pop(key, None)  # a read is as new as any write before it
            self._bodies[key] = body
        return body

    async def apply_containers(self, ref: WorkloadRef, pod_spec_path: tuple[str, ...], containers: list[Body]) -> Body:
        applied = await super().apply_containers(ref, pod_spec_path, containers)
        self._wrote(ref, applied)
        return applied

    async def scale(self, ref: WorkloadRef, replicas: int) -> None:
        await super().scale(ref, replicas)
        self._wrote(ref, None)

    async def annotate(self, ref: WorkloadRef, annotations: dict[str, str]) -> None:
        await super().annotate(ref, annotations)
        self._wrote(ref, None)

    async def create(self, ref: WorkloadRef, body: Body) -> Body:
        created = await super().create(ref, body)
        self._wrote(ref, created)
        return created

    async def delete(self, ref: WorkloadRef) -> None:
        await super().delete(ref)
        self._wrote(ref, None)

    async def autoscalers(self, namespace: str) -> list[Body]:
        """The namespace's HPAs, from a listing at most ``autoscalers_shared_s`` old (or under way)."""
        now = asyncio.get_running_loop().time()
        held = self._autoscalers.get(namespace)
        if held is None or now - held[0] >= self._autoscalers_shared_s or _failed(held[1]):
            self._autoscalers = {
                ns: v for ns, v in self._autoscalers.items() if now - v[0] < self._autoscalers_shared_s
            }
            held = now, asyncio.ensure_future(super().autoscalers(namespace))
            self._autoscalers[namespace] = held
        # Shielded: one caller cancelled does not cancel the listing the others wait for.
        return list(await asyncio.shield(held[1]))


def _failed(listing: asyncio.Future[list[Body]]) -> bool:
    return listing.done() and (listing.cancelled() or listing.exception() is not None)
