"""What the admission handlers read from the cluster: permissions, policies, namespaces, workloads.

A ``ClusterView`` is a protocol so that the handlers can be fed by the real API server
(``KubeView``) or by a fixed picture (property tests).

``KubeView`` answers policies and namespaces from watch-backed mirrors (``kcost.kube.watch``),
so an approval costs the API server two reads (its SubjectAccessReview and the workload's
labels), not four; a policy created a moment ago is seen as soon as its watch event arrives.
Until both mirrors have their first listing, a read waits for them (``SYNC_WAIT_S``) and then
fails, so no decision is ever made on an empty picture.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.common import GROUP
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube import watch
from kcost.kube.client import Body, InvalidObject, KubeClient, parse
from kcost.webhooks.access import AccessReviews
from kcost.webhooks.admission import UserInfo

SAR_API = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
# How long a read waits for the mirrors' first listing before the request fails (closed).
SYNC_WAIT_S = 5.0
log = logging.getLogger(__name__)


class ClusterView(Protocol):
    async def allowed(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
        """May ``user`` do ``verb`` on the named recommendation (a SubjectAccessReview)?"""

    async def policies(self) -> list[OptimizationPolicy]:
        """Every OptimizationPolicy."""

    async def namespace_labels(self) -> dict[str, dict[str, str]]:
        """Namespace name → its labels."""

    async def labels_of_namespace(self, name: str) -> dict[str, str]:
        """One namespace's labels (none when it does not exist)."""

    async def workload_labels(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, str] | None:
        """The workload's labels; None when it does not exist."""

    async def profile_exists(self, name: str) -> bool:
        """Is there a ClusterCostProfile of that name?"""


async def _raw(call: Awaitable[Any]) -> dict[str, Any]:
    """The JSON of an answer read without preloading; errors raised as the generated client would."""
    response = await call
    body = await response.read()
    if not 200 <= response.status <= 299:
        failure = ApiException(status=response.status, reason=response.reason)
        failure.body = body
        raise failure
    answer: dict[str, Any] = json.loads(body)
    return answer


def _policy(body: Body) -> OptimizationPolicy | None:
    try:
        return parse(OptimizationPolicy, body)
    except InvalidObject as error:
        log.warning("not enforced: %s", error)  # the operator reports it in the policy's status
        return None


def _labels(body: Body) -> dict[str, str]:
    return dict((body.get("metadata") or {}).get("labels") or {})


class KubeView:
    """The live cluster, read with the webhook's own credentials; policies and namespaces from mirrors."""

    def __init__(self, kube: KubeClient, *, access_review_ttl_s: float = 0.0) -> None:
        self._kube = kube
        self._access = AccessReviews(self._review, access_review_ttl_s)
        self.policy_mirror = watch.Mirror("OptimizationPolicies", _policy)
        self.namespace_mirror = watch.Mirror("Namespaces", _labels)

    async def mirror(self) -> None:
        """Keep the mirrors current until cancelled."""
        api = self._kube.api_client
        await asyncio.gather(
            watch.reflect(watch.custom_objects(api, OptimizationPolicy), self.policy_mirror),
            watch.reflect(watch.namespaces(api), self.namespace_mirror),
        )

    @property
    def synced(self) -> bool:
        """Have both mirrors had their first listing?"""
        return self.policy_mirror.synced.is_set() and self.namespace_mirror.synced.is_set()

    async def wait_synced(self, timeout_s: float = SYNC_WAIT_S) -> None:
        """Return once both mirrors are synced; TimeoutError after ``timeout_s``."""
        if self.synced:
            return
        async with asyncio.timeout(timeout_s):
            await self.policy_mirror.synced.wait()
            await self.namespace_mirror.synced.wait()

    async def allowed(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
        return await self._access.allowed(user, verb, name, namespace)

    async def _review(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
        review: Any = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user.username,
                "uid": user.uid,
                "groups": user.groups,
                "extra": user.extra,
                "resourceAttributes": {
                    "group": GROUP,
                    "resource": OptimizationRecommendation.crd.plural,
                    "verb": verb,
                    "name": name,
                    "namespace": namespace,
                },
            },
        }
        # Raw JSON: the generated models' parsing (dates and all) costs more than the request.
        answer = await _raw(
            client.AuthorizationV1Api(self._kube.api_client).create_subject_access_review(
                review, _preload_content=False
            )
        )
        return bool((answer.get("status") or {}).get("allowed"))

    async def policies(self) -> list[OptimizationPolicy]:
        await self.wait_synced()
        # By name, as the API server lists them: the same conflicts are reported in the same order.
        return [policy for _, policy in sorted(self.policy_mirror.items.items())]

    async def namespace_labels(self) -> dict[str, dict[str, str]]:
        await self.wait_synced()
        return {name: labels for (_, name), labels in self.namespace_mirror.items.items()}

    async def labels_of_namespace(self, name: str) -> dict[str, str]:
        await self.wait_synced()
        return self.namespace_mirror.items.get(("", name), {})

    async def workload_labels(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, str] | None:
        body = await self._kube.get_workload(api_version, plural, namespace, name)
        return None if body is None else dict((body.get("metadata") or {}).get("labels") or {})

    async def profile_exists(self, name: str) -> bool:
        return await self._kube.get_raw(ClusterCostProfile, name) is not None
