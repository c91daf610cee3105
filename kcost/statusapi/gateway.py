"""The status API's calls to the API server besides its watches: token and access reviews (as itself),
and writes made as the calling user through impersonation, so admission webhooks and the audit log
see that user.

Requests go through the kube client's own HTTP session (its TLS and credentials); impersonation
needs one ``Impersonate-Group`` header per group, which the generated client cannot send.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from kubernetes_asyncio import client
from multidict import CIMultiDict

from kcost.api.v1alpha1.common import GROUP, VERSION, Resource
from kcost.statusapi.auth import Attributes, Identity
from kcost.statusapi.problems import Problem

Body = dict[str, Any]
MERGE = "application/merge-patch+json"
FIELD_MANAGER = "kcost-api"


class Gateway:
    """``auth.Reviews`` against the real API server, and impersonated writes of kcost's kinds."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api

    async def review_token(self, token: str) -> Identity | None:
        """TokenReview: the token's user, None when the API server does not authenticate it."""
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        status, answer = await self._call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
        _raise_for(status, answer, "TokenReview")
        result = answer.get("status") or {}
        if not result.get("authenticated"):
            return None
        user = result.get("user") or {}
        extra = tuple(sorted((key, tuple(values)) for key, values in (user.get("extra") or {}).items()))
        return Identity(user.get("username", ""), tuple(user.get("groups") or ()), user.get("uid", ""), extra)

    async def review_access(self, identity: Identity, attributes: Attributes) -> bool:
        """SubjectAccessReview of ``attributes`` for ``identity``."""
        resource = {"group": attributes.group, "resource": attributes.resource, "verb": attributes.verb}
        if attributes.namespace:
            resource["namespace"] = attributes.namespace
        if attributes.name:
            resource["name"] = attributes.name
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": identity.user,
                "groups": list(identity.groups),
                "uid": identity.uid,
                "extra": {key: list(values) for key, values in identity.extra},
                "resourceAttributes": resource,
            },
        }
        status, answer = await self._call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        _raise_for(status, answer, "SubjectAccessReview")
        return bool((answer.get("status") or {}).get("allowed"))

    async def create(self, identity: Identity, kind: type[Resource], body: Body) -> Body:
        """Create ``body`` (a ``kind``) as ``identity``."""
        full = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind.crd.kind, **body}
        path = _path(kind, body["metadata"].get("namespace"))
        status, answer = await self._call("POST", f"{path}?fieldManager={FIELD_MANAGER}", full, identity)
        _raise_for(status, answer, f"creating {kind.crd.kind}")
        return answer

    async def merge_patch(
        self, identity: Identity, kind: type[Resource], name: str, namespace: str | None, patch: Body
    ) -> Body:
        """A JSON merge patch of one object, as ``identity``; the object after it."""
        path = f"{_path(kind, namespace)}/{name}?fieldManager={FIELD_MANAGER}"
        status, answer = await self._call("PATCH", path, patch, identity, content_type=MERGE)
        _raise_for(status, answer, f"{kind.crd.kind} {namespace + '/' if namespace else ''}{name}")
        return answer

    async def _call(
        self,
        method: str,
        path: str,
        body: Body,
        identity: Identity | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Body]:
        configuration = self._api.configuration
        headers: CIMultiDict[str] = CIMultiDict({"Content-Type": content_type, "Accept": "application/json"})
        for setting in (await configuration.auth_settings()).values():
            headers[setting["key"]] = setting["value"]
        if identity is not None:
            headers["Impersonate-User"] = identity.user
            for group in identity.groups:
                headers.add("Impersonate-Group", group)
            if identity.uid:
                headers["Impersonate-Uid"] = identity.uid
            for key, values in identity.extra:
                for value in values:
                    headers.add(f"Impersonate-Extra-{urllib.parse.quote(key, safe='')}", value)
        session = self._api.rest_client.pool_manager
        async with session.request(
            method, f"{configuration.host}{path}", data=json.dumps(body), headers=headers
        ) as answer:
            text = await answer.text()
            return answer.status, (json.loads(text) if text else {})


def _path(kind: type[Resource], namespace: str | None) -> str:
    if kind.crd.scope == "Cluster":
        return f"/apis/{GROUP}/{VERSION}/{kind.crd.plural}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{kind.crd.plural}"


def _raise_for(status: int, answer: Body, what: str) -> None:
    """The API server's refusal as a problem the caller can act on (its message names the field)."""
    if 200 <= status <= 299:
        return
    message = str(answer.get("message") or answer)
    if status in {400, 403, 404, 409, 422}:
        raise Problem(status, _TITLES[status], f"{what}: {message}")
    raise Problem(502, "Bad Gateway", f"{what}: the API server answered {status}: {message}")


_TITLES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 422: "Invalid object"}
