"""The Validating- and MutatingWebhookConfiguration that point the API server at the webhook.

``failurePolicy: Fail`` for users' writes: with the webhook down, nothing unchecked gets in.
``matchConditions`` leave out kcost's own identities and the control plane's components, so
a webhook that is down never blocks the operator, the analyzers or garbage collection.
``sideEffects: None``: the handlers only read, so ``--dry-run=server`` requests are sent too.
A URL naming a Service (``https://NAME.NAMESPACE.svc[:PORT]``, as the Helm chart sets it) is
registered as a ``service`` reference: the API server finds a Service itself, and need not
resolve cluster DNS names (most do not).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.parse
from typing import Any

import aiohttp
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import GROUP, VERSION
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube.client import KubeClient

NAME = "kcost"
VALIDATE_PATH, MUTATE_PATH = "/validate", "/mutate"
# Generous for a loaded API server; the handlers answer in milliseconds (bench/admission.py).
TIMEOUT_S = 10
VALIDATED = [kind.crd.plural for kind in (Analysis, OptimizationPolicy, ClusterCostProfile, OptimizationRecommendation)]
MUTATED = [OptimizationRecommendation.crd.plural]
REGISTER_DEADLINE_S = 120
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SERVICE_HOST = re.compile(rf"^(?P<name>{DNS_LABEL})\.(?P<namespace>{DNS_LABEL})\.svc$")
HTTPS_PORT = 443


def match_conditions(trusted_users: list[str]) -> list[dict[str, str]]:
    """CEL conditions a request must meet to be sent to the webhook at all."""
    username = "request.userInfo.username"
    return [
        {"name": "not-kcost-itself", "expression": f"!({username} in {json.dumps(sorted(trusted_users))})"},
        {
            "name": "not-the-control-plane",
            "expression": f"!({username}.startsWith('system:') && !{username}.startsWith('system:serviceaccount:'))"
            f" && !{username}.startsWith('system:serviceaccount:kube-system:')",
        },
    ]


def client_config(url: str, ca_bundle: bytes) -> dict[str, Any]:
    """How the API server reaches ``url``: through a Service when the host names one, else the URL itself."""
    parts = urllib.parse.urlsplit(url)
    service = SERVICE_HOST.match(parts.hostname or "")
    where: dict[str, Any] = {"url": url}
    if service is not None:
        where = {
            "service": {
                "namespace": service["namespace"],
                "name": service["name"],
                "path": parts.path or "/",
                "port": parts.port or HTTPS_PORT,
            }
        }
    return {**where, "caBundle": base64.b64encode(ca_bundle).decode()}


def _webhook(name: str, url: str, ca_bundle: bytes, resources: list[str], trusted_users: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": client_config(url, ca_bundle),
        "rules": [
            {
                "apiGroups": [GROUP],
                "apiVersions": [VERSION],
                "operations": ["CREATE", "UPDATE"],
                "resources": resources,
                "scope": "*",
            }
        ],
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": TIMEOUT_S,
        "matchConditions": match_conditions(trusted_users),
    }


def configurations(base_url: str, ca_bundle: bytes, trusted_users: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validating and the mutating configuration for a webhook served at ``base_url``."""
    labels = {"app.kubernetes.io/part-of": "kcost"}
    validating = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME, "labels": labels},
        "webhooks": [
            _webhook(f"validate.{GROUP}", base_url + VALIDATE_PATH, ca_bundle, VALIDATED, trusted_users),
        ],
    }
    mutating_hook = _webhook(f"stamp.{GROUP}", base_url + MUTATE_PATH, ca_bundle, MUTATED, trusted_users)
    mutating = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": NAME, "labels": labels},
        "webhooks": [{**mutating_hook, "reinvocationPolicy": "Never"}],
    }
    return validating, mutating


def _transient(error: BaseException) -> bool:
    """Worth trying again: the API server is restarting, overloaded, or another writer got in first."""
    if isinstance(error, ApiException):
        return error.status in (409, 429) or error.status >= 500
    return isinstance(error, OSError | aiohttp.ClientError | asyncio.TimeoutError)


async def register(kube: KubeClient, base_url: str, ca_bundle: bytes, trusted_users: list[str]) -> None:
    """Create or update both configurations (the caBundle changes with every CA rotation).

    Retried for a while: the API server may be restarting while the webhook starts.
    """
    api = client.AdmissionregistrationV1Api(kube.api_client)
    validating, mutating = configurations(base_url, ca_bundle, trusted_users)
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_transient),
        wait=wait_exponential(multiplier=0.5, max=10),
        stop=stop_after_delay(REGISTER_DEADLINE_S),
        reraise=True,
    ):
        with attempt:
            await _create_or_replace(
                validating, api.read_validating_webhook_configuration, api.create_validating_webhook_configuration,
                api.replace_validating_webhook_configuration,
            )  # fmt: skip
            await _create_or_replace(
                mutating, api.read_mutating_webhook_configuration, api.create_mutating_webhook_configuration,
                api.replace_mutating_webhook_configuration,
            )  # fmt: skip


async def unregister(kube: KubeClient) -> None:
    """Remove both configurations (tests, and a local run that ends)."""
    api = client.AdmissionregistrationV1Api(kube.api_client)
    for delete in (api.delete_validating_webhook_configuration, api.delete_mutating_webhook_configuration):
        try:
            await delete(NAME)
        except ApiException as error:
            if error.status != 404:
                raise


async def _create_or_replace(body: dict[str, Any], read: Any, create: Any, replace: Any) -> None:
    name = body["metadata"]["name"]
    try:
        existing = await read(name)
    except ApiException as error:
        if error.status != 404:
            raise
        await create(body)
        return
    body = {**body, "metadata": {**body["metadata"], "resourceVersion": existing.metadata.resource_version}}
    await replace(name, body)
