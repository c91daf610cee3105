"""The AdmissionReview wire format (``admission.k8s.io/v1``): the request parsed at the edge, the answer built.

Handlers see an ``AdmissionRequest`` and return a ``Verdict``; only this module knows the JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

ADMISSION_API_VERSION = "admission.k8s.io/v1"


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class UserInfo(_Wire):
    """Who sent the request, as the API server authenticated them."""

    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class GroupVersionKind(_Wire):
    group: str = ""
    version: str = ""
    kind: str = ""


class AdmissionRequest(_Wire):
    """One ``AdmissionReview.request``: the object and, on UPDATE, the object it replaces."""

    uid: str
    kind: GroupVersionKind = Field(default_factory=GroupVersionKind)
    sub_resource: str = Field("", alias="subResource")
    name: str = ""
    namespace: str = ""
    operation: str = ""
    user_info: UserInfo = Field(default_factory=UserInfo, alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(None, alias="oldObject")
    dry_run: bool = Field(False, alias="dryRun")

    @property
    def spec(self) -> dict[str, Any]:
        return _spec(self.object)

    @property
    def old_spec(self) -> dict[str, Any]:
        return _spec(self.old_object)

    @property
    def display_name(self) -> str:
        """``Kind ns/name`` as errors name the object."""
        name = self.name or str(((self.object or {}).get("metadata") or {}).get("name", ""))
        where = f"{self.namespace}/{name}" if self.namespace else name
        return f"{self.kind.kind} {where}"


def _spec(body: dict[str, Any] | None) -> dict[str, Any]:
    spec = (body or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the webhook answers: refusals (each naming a field) or allowed, with warnings and a JSON patch."""

    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    patch: tuple[dict[str, Any], ...] = ()
    # 422 for an invalid object, 403 for a permission the user lacks.
    code: int = 422

    @property
    def allowed(self) -> bool:
        return not self.refusals


def response(uid: str, verdict: Verdict, display_name: str = "") -> dict[str, Any]:
    """The ``AdmissionReview`` answering request ``uid``."""
    answer: dict[str, Any] = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        reason = "Forbidden" if verdict.code == 403 else "Invalid"
        prefix = f"{display_name}: " if display_name else ""
        answer["status"] = {"code": verdict.code, "reason": reason, "message": prefix + "; ".join(verdict.refusals)}
    if verdict.warnings:
        answer["warnings"] = list(verdict.warnings)
    if verdict.allowed and verdict.patch:
        answer["patchType"] = "JSONPatch"
        answer["patch"] = base64.b64encode(json.dumps(list(verdict.patch)).encode()).decode()
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": answer}


def field_path(loc: tuple[str | int, ...] | list[str | int], prefix: str = "") -> str:
    """``("spec", "analyzers", 0, "name")`` → ``spec.analyzers[0].name``."""
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
