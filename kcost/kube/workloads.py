"""Reading and changing the workloads recommendations point at (Deployments and their kin).

The apply engine's whole vocabulary: read a workload, create a canary beside it, scale
either through the ``scale`` subresource (so kcost never takes ownership of
``spec.replicas`` in managedFields), patch container resources with server-side apply
under the field manager ``kcost``, and read the pods, PodDisruptionBudgets and HPAs
that decide how fast it may go.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.kube import wire

Body = wire.Body
APPLY = wire.APPLY
MERGE = wire.MERGE
# Server-side apply of workloads' resources by the apply engine.
WORKLOAD_FIELD_MANAGER = "kcost"
# Server-side apply drops what a manager stops sending: annotations get a manager of their own.
ANNOTATION_FIELD_MANAGER = "kcost-annotations"
# A StatefulSet's rollingUpdate.partition during a canary, likewise its own.
PARTITION_FIELD_MANAGER = "kcost-partition"


class ResizeRefused(Exception):  # noqa: N818 - reads as what happened
    """The API server refused a pod's in-place resize (invalid for that pod, or forbidden); the message says why."""


@dataclasses.dataclass(frozen=True)
class WorkloadRef:
    """One namespaced object of any API group: ``apps/v1`` Deployment ``shop/web``."""

    api_version: str
    kind: str
    plural: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def named(self, name: str) -> WorkloadRef:
        return dataclasses.replace(self, name=name)

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class WorkloadClient:
    """Workloads, their pods, and what guards them (PodDisruptionBudgets, HPAs)."""

    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)
        self._api = api

    async def get(self, ref: WorkloadRef) -> Body | None:
        try:
            found = await self._custom.get_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, ref.name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    async def create(self, ref: WorkloadRef, body: Body) -> Body:
        """Create ``body`` as ``ref``; if it exists already, return it unchanged (idempotent)."""
        try:
            created = await self._custom.create_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, body
            )
        except ApiException as error:
            existing = await self.get(ref) if error.status == 409 else None
            if existing is None:
                raise
            return existing
        return dict(created)

    async def scale(self, ref: WorkloadRef, replicas: int) -> None:
        # The client's stubs leave out `_content_type`, which its methods accept.
        options: dict[str, Any] = {"_content_type": MERGE}
        await self._custom.patch_namespaced_custom_object_scale(
            ref.group, ref.version, ref.namespace, ref.plural, ref.name, {"spec": {"replicas": replicas}}, **options
        )

    async def apply_containers(self, ref: WorkloadRef, pod_spec_path: tuple[str, ...], containers: list[Body]) -> Body:
        """Server-side apply of the named containers' ``resources`` only, as the ``kcost`` manager."""
        patch: Body = {"apiVersion": ref.api_version, "kind": ref.kind}
        patch["metadata"] = {"name": ref.name, "namespace": ref.namespace}
        node = patch
        for key in pod_spec_path:
            node = node.setdefault(key, {})
        node["containers"] = containers
        options: dict[str, Any] = {"field_manager": WORKLOAD_FIELD_MANAGER, "force": True, "_content_type": APPLY}
        applied = await self._custom.patch_namespaced_custom_object(
            ref.group, ref.version, ref.namespace, ref.plural, ref.name, patch, **options
        )
        return dict(applied)

    async def annotate(self, ref: WorkloadRef, annotations: dict[str, str]) -> None:
        """Set annotations with their own field manager (never the one that owns the resources it applied)."""
        patch = {
            "apiVersion": ref.api_version,
            "kind": ref.kind,
            "metadata": {"name": ref.name, "namespace": ref.namespace, "annotations": annotations},
        }
        options: dict[str, Any] = {"field_manager": ANNOTATION_FIELD_MANAGER, "force": True, "_content_type": APPLY}
        await self._custom.patch_namespaced_custom_object(
            ref.group, ref.version, ref.namespace, ref.plural, ref.name, patch, **options
        )

    async def set_partition(self, ref: WorkloadRef, partition: int) -> None:
        """Server-side apply of a StatefulSet's ``spec.updateStrategy.rollingUpdate.partition`` only."""
        patch = {
            "apiVersion": ref.api_version,
            "kind": ref.kind,
            "metadata": {"name": ref.name, "namespace": ref.namespace},
            "spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}},
        }
        options: dict[str, Any] = {"field_manager": PARTITION_FIELD_MANAGER, "force": True, "_content_type": APPLY}
        await self._custom.patch_namespaced_custom_object(
            ref.group, ref.version, ref.namespace, ref.plural, ref.name, patch, **options
        )

    async def label_pod(self, namespace: str, name: str, labels: dict[str, str | None]) -> None:
        """Set (or, with None, remove) labels of one pod; a pod that is gone is left alone."""
        try:
            await self._core.patch_namespaced_pod(name, namespace, {"metadata": {"labels": labels}})
        except ApiException as error:
            if error.status != 404:
                raise

    async def delete_pod(self, namespace: str, name: str) -> None:
        """Delete one pod (its controller recreates it from its current template); a pod that is gone is fine."""
        try:
            await self._core.delete_namespaced_pod(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise

    async def resize_pod(self, namespace: str, name: str, containers: list[Body]) -> None:
        """Resize a running pod's containers in place through the ``pods/resize`` subresource (Kubernetes ≥ 1.35).

        ResizeRefused when the API server will not (HTTP 400, 403 or 422), naming the pod and its reason.
        """
        try:
            await self._core.patch_namespaced_pod_resize(name, namespace, {"spec": {"containers": containers}})
        except ApiException as error:
            if error.status not in (400, 403, 422):
                raise
            try:
                why = json.loads(error.body or "{}").get("message") or error.reason
            except ValueError:
                why = error.reason
            raise ResizeRefused(f"the API server refused to resize pod {namespace}/{name}: {why}") from None

    async def jobs(self, namespace: str) -> list[Body]:
        listed = await self._custom.list_namespaced_custom_object("batch", "v1", namespace, "jobs")
        return list(listed.get("items", []))

    async def delete(self, ref: WorkloadRef) -> None:
        try:
            await self._custom.delete_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, ref.name, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                raise

    async def pods(self, namespace: str, label_selector: str) -> list[Body]:
        # The JSON as sent: building the generated pod models and turning them back into dicts cost more CPU than
        # the request (a rollout lists its pods at each look).
        options: dict[str, Any] = {"label_selector": label_selector, "_preload_content": False}
        response: Any = await self._core.list_namespaced_pod(namespace, **options)
        raw = await response.read()
        if not 200 <= response.status <= 299:
            failure = ApiException(status=response.status, reason=response.reason)
            failure.body = raw
            raise failure
        return list(json.loads(raw).get("items") or [])

    async def disruption_budgets(self, namespace: str) -> list[Body]:
        listed = await self._custom.list_namespaced_custom_object("policy", "v1", namespace, "poddisruptionbudgets")
        return list(listed.get("items", []))

    async def autoscalers(self, namespace: str) -> list[Body]:
        listed = await self._custom.list_namespaced_custom_object(
            "autoscaling", "v2", namespace, "horizontalpodautoscalers"
        )
        return list(listed.get("items", []))
