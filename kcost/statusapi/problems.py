"""Errors as RFC 9457 problem details (``application/problem+json``), naming the field at fault."""

from __future__ import annotations

import json
import math

from aiohttp import web

from kcost.statusapi import schemas

CONTENT_TYPE = "application/problem+json"


class Problem(Exception):  # noqa: N818 - the RFC's name for it
    """An answer other than success: raised by a handler, turned into problem+json by the middleware."""

    def __init__(
        self, status: int, title: str, detail: str, *, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.field = status, title, detail, field
        self.headers = headers or {}

    def response(self, instance: str) -> web.Response:
        """The problem+json answer for the request to ``instance``."""
        body = schemas.ProblemDetails(
            type="about:blank", title=self.title, status=self.status, detail=self.detail, instance=instance
        )
        if self.field is not None:
            body.field = self.field
        return web.Response(
            status=self.status,
            text=json.dumps(body.model_dump(mode="json", by_alias=True, exclude_none=True)),
            content_type=CONTENT_TYPE,
            headers=self.headers,
        )


def bad_parameter(field: str, detail: str) -> Problem:
    """422: the query parameter or body field ``field`` is not what is expected."""
    return Problem(422, "Invalid parameter", f"{field}: {detail}", field=field)


def unauthenticated(detail: str) -> Problem:
    """401: no valid bearer token."""
    return Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="kcost"'})


def rate_limited(user: str, wait_s: float) -> Problem:
    """429 saying when to try again."""
    retry_after_s = max(1, math.ceil(wait_s))
    detail = f"user {user!r} is over the rate limit; retry in {retry_after_s} s"
    return Problem(429, "Too Many Requests", detail, headers={"Retry-After": str(retry_after_s)})


def forbidden(user: str, verb: str, resource: str, namespace: str | None) -> Problem:
    """403 naming who may not do what, where: the same facts RBAC decided on."""
    where = f" in namespace {namespace}" if namespace else " at the cluster scope"
    return Problem(403, "Forbidden", f"user {user!r} may not {verb} {resource}{where} (RBAC)")


def not_found(what: str) -> Problem:
    """404 naming the missing object."""
    return Problem(404, "Not Found", f"{what} does not exist")
