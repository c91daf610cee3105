"""The handlers of the resource endpoints: clusters, analyses, recommendations and decisions on them.

Reads answer from the watch caches; every read and write is first authorized for the caller
with a (cached) SubjectAccessReview of the resource, verb and namespace it touches; writes
go to the API server as the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

from kcost.api import decisions
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import Resource
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase, RecommendationType
from kcost.statusapi import params
from kcost.statusapi.auth import Attributes
from kcost.statusapi.cache import Entry
from kcost.statusapi.pagination import Filters
from kcost.statusapi.problems import Problem, bad_parameter, forbidden, not_found, rate_limited, unauthenticated
from kcost.statusapi.schemas import AnalysisCreate, Decision, Permissions, RecommendationSort
from kcost.statusapi.state import IDENTITY, identity_of, state_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PAGE_LIMIT, MAX_PAGE_LIMIT = 100, 500
Body = TypeVar("Body", AnalysisCreate, Decision)


def guarded(handler: Handler) -> Handler:
    """``handler`` for authenticated callers only, within their rate limit."""

    async def guard(request: web.Request) -> web.StreamResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("send a Kubernetes bearer token: Authorization: Bearer <token>")
        state = state_of(request)
        identity = await state.access.identify(token.strip())
        if identity is None:
            raise unauthenticated("the API server does not accept this bearer token (TokenReview)")
        wait_s = state.limiter.wait_s(identity.user)
        if wait_s > 0:
            raise rate_limited(identity.user, wait_s)
        request[IDENTITY] = identity
        return await handler(request)

    return guard


async def authorize(request: web.Request, verb: str, kind: type[Resource], namespace: str = "", name: str = "") -> None:
    """403 unless the caller may ``verb`` ``kind`` (in ``namespace``)."""
    identity = identity_of(request)
    if not await state_of(request).access.allows(identity, Attributes(verb, kind.crd.plural, namespace, name)):
        raise forbidden(identity.user, verb, kind.crd.plural, namespace or None)


def json_response(payload: Any, status: int = 200) -> web.Response:
    """``payload`` as JSON."""
    return encoded_response(json.dumps(payload).encode(), status)


def encoded_response(body: bytes, status: int = 200) -> web.Response:
    """JSON already encoded (the caches keep each object's)."""
    return web.Response(body=body, status=status, content_type="application/json")


def items_body(entries: Iterable[Entry], next_cursor: str | None = None) -> bytes:
    """``{"items": [...], "nextCursor": …}`` from the entries' own encoded JSON: nothing is encoded again."""
    tail = b"]" + (b',"nextCursor":' + json.dumps(next_cursor).encode() if next_cursor else b"") + b"}"
    return b'{"items":[' + b",".join(entry.encoded for entry in entries) + tail


def items_response(entries: Iterable[Entry]) -> web.Response:
    """``{"items": [...]}``, encoded as ``items_body``."""
    return encoded_response(items_body(entries))


def _by_name(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: e.model.name)


async def list_clusters(request: web.Request) -> web.StreamResponse:
    await authorize(request, "list", ClusterCostProfile)
    return items_response(_by_name(state_of(request).caches.of(ClusterCostProfile).entries()))


async def list_analyses(request: web.Request) -> web.StreamResponse:
    await authorize(request, "list", Analysis)
    return items_response(_by_name(state_of(request).caches.of(Analysis).entries()))


async def get_analysis(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    await authorize(request, "get", Analysis, name=name)
    entry = state_of(request).caches.of(Analysis).get(name)
    if entry is None:
        raise not_found(f"Analysis {name}")
    return encoded_response(entry.encoded)


async def create_analysis(request: web.Request) -> web.StreamResponse:
    await authorize(request, "create", Analysis)
    wanted = await _body(request, AnalysisCreate)
    metadata = {"name": wanted.name} if wanted.name else {"generateName": "api-"}
    body = {"metadata": metadata, "spec": wanted.spec.to_api()}
    created = await state_of(request).writes.create(identity_of(request), Analysis, body)
    return json_response(Analysis.model_validate(created).to_api(), status=201)


async def list_recommendations(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    namespace = params.text(request, "namespace")
    sort = params.choice(request, "sort", RecommendationSort, RecommendationSort.SAVINGS_DESC)
    limit = params.integer(request, "limit", PAGE_LIMIT, minimum=1, maximum=MAX_PAGE_LIMIT)
    if namespace is not None:
        await authorize(request, "list", OptimizationRecommendation, namespace)
        visible = None
    else:
        visible = await state.access.visible_namespaces(
            identity_of(request), "list", OptimizationRecommendation.crd.plural, state.recommendations.namespaces()
        )
    filters = Filters(
        namespace=namespace,
        type=params.optional_choice(request, "type", RecommendationType),
        phase=params.optional_choice(request, "phase", RecommendationPhase),
        min_savings=params.number(request, "minSavings", 0.0),
        visible=visible,
    )
    cursor = params.text(request, "cursor")
    key = (filters, sort, limit, cursor)
    index = state.recommendations
    rendered = index.rendered.get(key)
    if rendered is None:
        found, next_cursor = index.page(filters, sort, limit, cursor)
        rendered = index.rendered[key] = items_body(found, next_cursor)
    return encoded_response(rendered)


async def get_recommendation(request: web.Request) -> web.StreamResponse:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    await authorize(request, "get", OptimizationRecommendation, namespace, name)
    entry = state_of(request).caches.of(OptimizationRecommendation).get(name, namespace)
    if entry is None:
        raise not_found(f"OptimizationRecommendation {namespace}/{name}")
    return encoded_response(entry.encoded)


def decide(verb: str) -> Handler:
    """The handler of ``POST …/{namespace}/{name}/{verb}`` (approve, reject, rollback)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        # The API server and kcost's webhook decide again on the impersonated write (the `approve` verb too).
        await authorize(request, "patch", OptimizationRecommendation, namespace, name)
        decision = await _body(request, Decision, empty_ok=True)
        entry = state_of(request).caches.of(OptimizationRecommendation).get(name, namespace)
        if entry is None:
            raise not_found(f"OptimizationRecommendation {namespace}/{name}")
        rec = entry.model
        assert isinstance(rec, OptimizationRecommendation)
        allowed, _ = decisions.DECISIONS[verb]
        if rec.status.phase not in allowed:
            raise Problem(
                409,
                "Conflict",
                f"OptimizationRecommendation {namespace}/{name} status.phase is {rec.status.phase}; "
                f"{verb} needs it {decisions.expected_phases(verb)}",
                field="status.phase",
            )
        patch = decisions.approval_patch(verb, decision.reason)
        answer = await state_of(request).writes.merge_patch(
            identity_of(request), OptimizationRecommendation, name, namespace, patch
        )
        return json_response(OptimizationRecommendation.model_validate(answer).to_api())

    return handler


async def permissions(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/permissions/{namespace}``: the caller's decisions RBAC allows there. Anyone may ask about
    themselves, as with a SelfSubjectAccessReview."""
    namespace = request.match_info["namespace"]
    identity, access = identity_of(request), state_of(request).access
    plural = OptimizationRecommendation.crd.plural
    patch, approve, reject = await asyncio.gather(
        *(access.allows(identity, Attributes(verb, plural, namespace)) for verb in ("patch", "approve", "reject"))
    )
    answer = Permissions(
        namespace=namespace, approve=patch and approve, reject=patch and reject, rollback=patch and approve
    )
    return json_response(answer.to_api())


async def _body(request: web.Request, model: type[Body], *, empty_ok: bool = False) -> Body:
    """The JSON body as ``model``; a 422 naming the first field that does not fit."""
    raw = await request.read()
    if not raw.strip() and empty_ok:
        return model()
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "(body)"
        raise bad_parameter(where, problem["msg"]) from None
