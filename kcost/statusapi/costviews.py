"""The handlers of the cost endpoints: current cost (profiles' status), history, forecast, price comparison."""

from __future__ import annotations

import datetime
import json

from aiohttp import web

from kcost.api.v1alpha1.profile import ClusterCostProfile, Provider
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.history.models import CapacityType
from kcost.statusapi import costs, forecasts, params
from kcost.statusapi.problems import Problem, bad_parameter
from kcost.statusapi.schemas import CostHistory, CostStep, CurrentCost, CurrentCosts, PriceComparison
from kcost.statusapi.state import identity_of, state_of
from kcost.statusapi.views import authorize, encoded_response, json_response

HISTORY_DAYS = 30
MAX_HISTORY_DAYS = 3 * 366
MAX_PRICES = 500


def _history(request: web.Request) -> costs.HistoryReader:
    history = state_of(request).history
    if history is None:
        raise Problem(503, "Service Unavailable", "no history store: start `kcost api` with KCOST_DATABASE_URL set")
    return history


async def current(request: web.Request) -> web.StreamResponse:
    await authorize(request, "list", ClusterCostProfile)
    profiles = [entry.model for entry in state_of(request).caches.of(ClusterCostProfile).entries()]
    items = [
        CurrentCost(profile=p.name, currency=p.spec.pricing.currency, status=p.status)
        for p in sorted(profiles, key=lambda p: p.name)
        if isinstance(p, ClusterCostProfile)
    ]
    return json_response(CurrentCosts(items=items).to_api())


def _cluster(request: web.Request) -> str:
    """The ``cluster`` parameter, by default the only ClusterCostProfile."""
    given = params.object_name(request, "cluster")
    if given is not None:
        return given
    names = sorted(entry.model.name for entry in state_of(request).caches.of(ClusterCostProfile).entries())
    if len(names) != 1:
        found = ", ".join(names) or "none"
        raise bad_parameter("cluster", f"name the ClusterCostProfile whose history to read (profiles: {found})")
    return names[0]


async def history(request: web.Request) -> web.StreamResponse:
    today = datetime.datetime.now(datetime.UTC).date()
    end_day = params.day(request, "to", today)
    start_day = params.day(request, "from", end_day - datetime.timedelta(days=HISTORY_DAYS - 1))
    if start_day > end_day:
        raise bad_parameter("from", f"{start_day} is after to={end_day}")
    if (end_day - start_day).days >= MAX_HISTORY_DAYS:
        raise bad_parameter("from", f"a range of at most {MAX_HISTORY_DAYS} days; ask for several ranges")
    grouping = params.grouping(request, "groupBy")
    step = params.choice(request, "step", CostStep, CostStep.DAY)
    cluster = _cluster(request)
    reader = _history(request)
    rows = await reader.grouped_rows(cluster, start_day, end_day, grouping)
    # A namespace's history is for those who may read its recommendations.
    visible = await state_of(request).access.visible_namespaces(
        identity_of(request),
        "get",
        OptimizationRecommendation.crd.plural,
        {row.namespace for row in rows if row.namespace},
    )
    key = (cluster, start_day, end_day, grouping, step, visible)
    rendered = reader.rendered.get(key)
    if rendered is None:
        points, totals = costs.rollup(costs.only_namespaces(rows, visible), grouping, step)
        answer = CostHistory(
            cluster=cluster,
            start_day=start_day,
            end_day=end_day,
            group_by=str(grouping),
            step=step,
            points=points,
            totals=totals,
        )
        rendered = reader.rendered[key] = json.dumps(answer.to_api()).encode()
    return encoded_response(rendered)


async def forecast(request: web.Request) -> web.StreamResponse:
    horizon_days = params.integer(
        request, "horizonDays", forecasts.MAX_HORIZON_DAYS // 3, minimum=1, maximum=forecasts.MAX_HORIZON_DAYS
    )
    namespace = params.object_name(request, "namespace")
    cluster = _cluster(request)
    today = datetime.datetime.now(datetime.UTC).date()
    rows = await _history(request).daily_rows(
        cluster, today - datetime.timedelta(days=forecasts.HISTORY_DAYS - 1), today
    )
    # As for the history: a namespace's costs are for those who may read its recommendations.
    visible = await state_of(request).access.visible_namespaces(
        identity_of(request),
        "get",
        OptimizationRecommendation.crd.plural,
        {row.namespace for row in rows if row.namespace},
    )
    series = forecasts.daily_totals(costs.only_namespaces(rows, visible), namespace)
    if not series:
        where = f"namespace {namespace} of cluster {cluster}" if namespace else f"cluster {cluster}"
        raise Problem(
            404,
            "Not Found",
            f"no cost history of {where} in the last {forecasts.HISTORY_DAYS} days that you may read: "
            "nothing to forecast from",
        )
    made = await forecasts.fitted(series, horizon_days)
    return json_response(forecasts.answer(cluster, namespace, made).to_api())


async def compare_prices(request: web.Request) -> web.StreamResponse:
    await authorize(request, "list", ClusterCostProfile)
    items = await costs.cheapest_prices(
        _history(request).store,
        provider=params.optional_choice(request, "provider", Provider),
        region=params.text(request, "region"),
        capacity_type=params.optional_choice(request, "capacityType", CapacityType),
        instance_type=params.text(request, "instanceType"),
        limit=params.integer(request, "limit", 20, minimum=1, maximum=MAX_PRICES),
    )
    return json_response(PriceComparison(items=items).to_api())
