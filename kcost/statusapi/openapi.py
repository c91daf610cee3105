"""The OpenAPI 3.1 document, built from the operation table and the pydantic models (the CRDs' own)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kcost.statusapi.routes import OPERATIONS, Operation
from kcost.statusapi.schemas import Health, ProblemDetails

REF = "#/components/schemas/{model}"
PROBLEM = "application/problem+json"
HEALTH_PATHS = {"/healthz": "The process is alive", "/readyz": "Every cache has been filled"}


@functools.cache
def document(version: str) -> dict[str, Any]:
    """The OpenAPI document of this API, ``version`` being kcost's."""
    models: list[type[BaseModel]] = [ProblemDetails, Health]
    for operation in OPERATIONS:
        models += [model for model in (operation.response, operation.body) if model is not None]
    unique = list(dict.fromkeys(models))
    refs, top = models_json_schema(
        [(model, "serialization") for model in unique] + [(model, "validation") for model in unique],
        ref_template=REF,
        by_alias=True,
    )
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation, refs)
    for path, summary in HEALTH_PATHS.items():
        paths[path] = {"get": _health(summary, refs)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kcost status API",
            "version": version,
            "description": "kcost's resources and cost history, as the calling user (Kubernetes bearer token; "
            "RBAC decides what each user sees). Errors are application/problem+json naming the field.",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"kubernetes": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"kubernetes": []}],
    }


def _ref(refs: dict[Any, Any], model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
    ref: dict[str, Any] = refs[(model, mode)]
    return ref


def _operation(operation: Operation, refs: dict[Any, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": operation.summary}
    if operation.response is not None:
        success["content"] = {operation.media_type: {"schema": _ref(refs, operation.response)}}
    responses: dict[str, Any] = {} if operation.status >= 500 else {str(operation.status): success}
    for status in operation.errors:
        problem = {"schema": _ref(refs, ProblemDetails)}
        responses[str(status)] = {"description": _ERRORS.get(status, "an error"), "content": {PROBLEM: problem}}
    answer: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": operation.method.lower() + operation.path.replace("/", "_").replace("{", "").replace("}", ""),
        "parameters": [
            {
                "name": param.name,
                "in": param.where,
                "required": param.where == "path",
                "description": param.description,
                "schema": param.schema,
            }
            for param in operation.params
        ],
        "responses": responses,
    }
    if operation.body is not None:
        answer["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": _ref(refs, operation.body, "validation")}},
        }
    return answer


def _health(summary: str, refs: dict[Any, Any]) -> dict[str, Any]:
    health = {"schema": _ref(refs, Health)}
    return {
        "summary": summary,
        "security": [],
        "responses": {
            "200": {"description": summary, "content": {"application/json": health}},
            "503": {"description": "not yet", "content": {"application/json": health}},
        },
    }


_ERRORS = {
    401: "no valid bearer token",
    403: "RBAC does not allow it",
    404: "no such object",
    409: "the object is not in a state that allows it",
    422: "a parameter or body field is not what is expected (named in `field`)",
    429: "over the caller's rate limit",
    501: "not implemented yet",
    503: "a dependency (the history store) is not configured",
}
