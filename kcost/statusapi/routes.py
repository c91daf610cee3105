"""Every operation of the status API, once: the router and the OpenAPI document are both built from this table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.profile import Provider
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, RecommendationPhase, RecommendationType
from kcost.history.grouping import GROUP_BY_PATTERN
from kcost.history.models import CapacityType
from kcost.statusapi import costviews, events, forecasts, views
from kcost.statusapi.schemas import (
    AnalysisCreate,
    AnalysisList,
    ChangeEvent,
    ClusterList,
    CostForecast,
    CostHistory,
    CostStep,
    CurrentCosts,
    Decision,
    Permissions,
    PriceComparison,
    RecommendationPage,
    RecommendationSort,
)
from kcost.statusapi.views import Handler

API = "/api/v1"
# The errors operations may answer, by what they do (every guarded call may also be 401 or 429).
QUERY_ERRORS = (401, 403, 422, 429)
ONE_OBJECT_ERRORS = (401, 403, 404, 429)
CREATE_ERRORS = (401, 403, 409, 422, 429)
DECISION_ERRORS = (401, 403, 404, 409, 422, 429)
HISTORY_STORE_ERRORS = (401, 403, 422, 429, 503)


@dataclass(frozen=True)
class Param:
    """A query or path parameter, with its JSON schema."""

    name: str
    schema: dict[str, Any]
    description: str
    where: str = "query"


@dataclass(frozen=True)
class Operation:
    """One method on one path: what it answers and accepts, and who may call it (``public``: anyone)."""

    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = False
    params: tuple[Param, ...] = ()
    media_type: str = "application/json"
    errors: tuple[int, ...] = QUERY_ERRORS


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [str(value) for value in values]}


NAME = Param("name", {"type": "string", "minLength": 1}, "the object's name", "path")
NAMESPACE = Param("namespace", {"type": "string", "minLength": 1}, "the namespace", "path")


def _decision(verb: str, summary: str) -> Operation:
    return Operation(
        "POST",
        f"{API}/recommendations/{{namespace}}/{{name}}/{verb}",
        views.guarded(views.decide(verb)),
        summary,
        OptimizationRecommendation,
        body=Decision,
        params=(NAMESPACE, NAME),
        errors=DECISION_ERRORS,
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", f"{API}/clusters", views.guarded(views.list_clusters), "Every ClusterCostProfile", ClusterList),
    Operation("GET", f"{API}/analyses", views.guarded(views.list_analyses), "Every Analysis", AnalysisList),
    Operation(
        "POST",
        f"{API}/analyses",
        views.guarded(views.create_analysis),
        "Create an Analysis (as the caller)",
        Analysis,
        status=201,
        body=AnalysisCreate,
        body_required=True,
        errors=CREATE_ERRORS,
    ),
    Operation(
        "GET",
        f"{API}/analyses/{{name}}",
        views.guarded(views.get_analysis),
        "One Analysis",
        Analysis,
        params=(NAME,),
        errors=ONE_OBJECT_ERRORS,
    ),
    Operation(
        "GET",
        f"{API}/recommendations",
        views.guarded(views.list_recommendations),
        "Recommendations in the namespaces the caller may list, a page at a time",
        RecommendationPage,
        params=(
            Param("namespace", {"type": "string"}, "only this namespace"),
            Param("type", _enum(RecommendationType), "only this type"),
            Param("phase", _enum(RecommendationPhase), "only this phase"),
            Param("minSavings", {"type": "number", "minimum": 0}, "only those saving at least this much a month"),
            Param("sort", _enum(RecommendationSort), "the order (default -savings: largest savings first)"),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": views.MAX_PAGE_LIMIT}, "page size"),
            Param("cursor", {"type": "string"}, "nextCursor of the previous page"),
        ),
    ),
    Operation(
        "GET",
        f"{API}/recommendations/{{namespace}}/{{name}}",
        views.guarded(views.get_recommendation),
        "One recommendation",
        OptimizationRecommendation,
        params=(NAMESPACE, NAME),
        errors=ONE_OBJECT_ERRORS,
    ),
    _decision("approve", "Approve a proposed recommendation (as the caller: the webhook stamps approvedBy)"),
    _decision("reject", "Dismiss a recommendation"),
    _decision("rollback", "Undo an applied recommendation"),
    Operation(
        "GET",
        f"{API}/permissions/{{namespace}}",
        views.guarded(views.permissions),
        "The caller's own decisions RBAC allows on recommendations in a namespace (for the dashboard's buttons)",
        Permissions,
        params=(NAMESPACE,),
        errors=(401, 429),
    ),
    Operation(
        "GET", f"{API}/costs/current", views.guarded(costviews.current), "Each profile's current cost", CurrentCosts
    ),
    Operation(
        "GET",
        f"{API}/costs/history",
        views.guarded(costviews.history),
        "Daily costs from the history store, summed per step and group, for namespaces whose recommendations "
        "the caller may get",
        CostHistory,
        params=(
            Param("from", {"type": "string", "format": "date"}, "first day (default: 30 days before `to`)"),
            Param("to", {"type": "string", "format": "date"}, "last day (default: today, UTC)"),
            Param("cluster", {"type": "string"}, "the ClusterCostProfile (default: the only one)"),
            Param(
                "groupBy",
                {"type": "string", "pattern": GROUP_BY_PATTERN},
                "namespace (default), cluster, workload (namespace/Kind/name), or label:KEY (the label's value; "
                "__unallocated__ for workloads without it); idle cost is __idle__",
            ),
            Param("step", _enum(CostStep), "day (default), week or month"),
        ),
        errors=HISTORY_STORE_ERRORS,
    ),
    Operation(
        "GET",
        f"{API}/costs/forecast",
        views.guarded(costviews.forecast),
        "Daily costs ahead with intervals, of the namespaces whose recommendations the caller may get "
        "(or of one of them), learned from the history store",
        CostForecast,
        params=(
            Param("cluster", {"type": "string"}, "the ClusterCostProfile (default: the only one)"),
            Param("namespace", {"type": "string"}, "only this namespace"),
            Param(
                "horizonDays",
                {"type": "integer", "minimum": 1, "maximum": forecasts.MAX_HORIZON_DAYS},
                "days ahead (default: 30)",
            ),
        ),
        errors=(401, 403, 404, 422, 429, 503),
    ),
    Operation(
        "GET",
        f"{API}/pricing/compare",
        views.guarded(costviews.compare_prices),
        "The latest instance prices in the history store, cheapest first",
        PriceComparison,
        params=(
            Param("provider", _enum(Provider), "only this provider"),
            Param("region", {"type": "string"}, "only this region"),
            Param("capacityType", _enum(CapacityType), "on-demand or spot"),
            Param("instanceType", {"type": "string"}, "only this instance type"),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": costviews.MAX_PRICES}, "at most this many"),
        ),
        errors=HISTORY_STORE_ERRORS,
    ),
    Operation(
        "GET",
        f"{API}/events",
        views.guarded(events.stream),
        "Changes to the four kinds as Server-Sent Events (event: change, data: a ChangeEvent)",
        ChangeEvent,
        params=(Param("timeoutSeconds", {"type": "number", "minimum": 0}, "end the stream after this long"),),
        media_type="text/event-stream",
    ),
)
