"""What the admission handlers read from the cluster: permissions, policies, namespaces, workloads.

A ``ClusterView`` is a protocol so that the handlers can be fed by the real API server
(``KubeView``) or by a fixed picture (property tests).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, Protocol

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from kcost.api.v1alpha1.common import GROUP
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube.client import KubeClient
from kcost.webhooks.admission import UserInfo

SAR_API = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


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


class KubeView:
    """The live cluster, read with the webhook's own credentials."""

    def __init__(self, kube: KubeClient) -> None:
        self._kube = kube

    async def allowed(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
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
        return await self._kube.list(OptimizationPolicy)

    async def namespace_labels(self) -> dict[str, dict[str, str]]:
        return {
            str(item["metadata"]["name"]): dict(item["metadata"].get("labels") or {})
            for item in await self._kube.namespaces()
        }

    async def labels_of_namespace(self, name: str) -> dict[str, str]:
        try:
            found = await _raw(client.CoreV1Api(self._kube.api_client).read_namespace(name, _preload_content=False))
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        return dict((found.get("metadata") or {}).get("labels") or {})

    async def workload_labels(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, str] | None:
        body = await self._kube.get_workload(api_version, plural, namespace, name)
        return None if body is None else dict((body.get("metadata") or {}).get("labels") or {})

    async def profile_exists(self, name: str) -> bool:
        return await self._kube.get_raw(ClusterCostProfile, name) is not None
