"""Writing the operator's part of a status, and mirroring errors into conditions.

The operator applies its fields with the field manager ``kcost-operator`` and the
``resourceVersion`` it computed them from: if an analyzer (or another replica)
wrote in between, the API server answers 409 (``Conflict``) and the reconcile runs
again on fresh data. Server-side apply drops the fields a manager stops sending, so every write
carries the operator's whole part: ``operator_part`` builds it from the model.
"""

from __future__ import annotations

from typing import Any, TypeVar

import kopf
from pydantic import ValidationError

from kcost.api.v1alpha1 import KINDS, common
from kcost.api.v1alpha1.common import Condition, Conditions, ConditionStatus, Resource
from kcost.kube.client import KubeClient

FIELD_MANAGER = "kcost-operator"
# Its own manager: an apply of only the Ready condition must not drop the operator's other fields.
ERROR_FIELD_MANAGER = "kcost-operator-errors"
READY = common.READY
# Reasons of a Ready condition that mirrors a handler error.
INVALID_SPEC = "InvalidSpec"
RECONCILE_ERROR = "ReconcileError"


async def apply_status(
    kube: KubeClient, resource: Resource, status: dict[str, Any], *, check_version: bool = True
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": resource.name}
    if resource.namespace:
        metadata["namespace"] = resource.namespace
    if check_version:
        metadata["resourceVersion"] = resource.resource_version
    # A Conflict propagates: the caller reconciles again on fresh data (see ``retry``).
    return await kube.apply(
        type(resource), {"metadata": metadata, "status": status}, field_manager=FIELD_MANAGER, status=True
    )


def owned_conditions(conditions: list[Condition], types: set[str]) -> list[dict[str, Any]]:
    return [c.to_api() for c in conditions if c.type in types]


def ready(conditions: list[Condition], ok: bool, reason: str, message: str, generation: int) -> list[Condition]:
    return Conditions.set(
        conditions, READY, ConditionStatus.TRUE if ok else ConditionStatus.FALSE, reason, message, generation=generation
    )


ResourceT = TypeVar("ResourceT", bound=Resource)


def parse(kind: type[ResourceT], body: dict[str, Any]) -> ResourceT:
    """Parse at the edge: an invalid object is a PermanentError naming the object and each field."""
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        metadata = body.get("metadata", {})
        name = "/".join(str(part) for part in (metadata.get("namespace"), metadata.get("name", "?")) if part)
        raise kopf.PermanentError(describe_validation_error(kind.crd.kind, name, error)) from None


def describe_validation_error(kind: str, name: str, error: ValidationError) -> str:
    """``Analysis nightly: spec.window: String should match pattern …`` — object, field, expectation."""
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item["loc"])
        parts.append(f"{location}: {item['msg']}")
    return f"{kind} {name}: " + "; ".join(parts)


async def mirror_error(
    kube: KubeClient, body: dict[str, Any], error: kopf.TemporaryError | kopf.PermanentError, reason: str
) -> None:
    """Record a handler error as the Ready condition, so `kubectl get` shows it, not only the logs."""
    metadata = body.get("metadata", {})
    conditions = [
        Condition.model_validate(c) for c in (body.get("status") or {}).get("conditions", []) if c.get("type") == READY
    ]
    generation = int(metadata.get("generation", 0))
    updated = ready(conditions, False, reason, str(error), generation)
    patch_metadata = {k: metadata[k] for k in ("name", "namespace") if metadata.get(k)}
    kind = kind_of(body)
    if kind is None:
        return
    try:
        await kube.apply(
            kind,
            {"metadata": patch_metadata, "status": {"conditions": owned_conditions(updated, {READY})}},
            field_manager=ERROR_FIELD_MANAGER,
            status=True,
        )
    except Exception:  # noqa: BLE001 - reporting must never hide the original error
        return


def kind_of(body: dict[str, Any]) -> type[Resource] | None:
    """The kcost kind of a raw object, by its ``kind`` field."""
    return next((kind for kind in KINDS if kind.crd.kind == body.get("kind")), None)
