"""The JSON the status API answers and accepts: pydantic models built on the CRD models, so
``/openapi.json`` and the CRDs come from one source."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from kcost.api.v1alpha1.analysis import Analysis, AnalysisSpec
from kcost.api.v1alpha1.common import ApiModel, DnsLabel
from kcost.api.v1alpha1.profile import ClusterCostProfile, ClusterCostProfileStatus, ForecastMethod
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.history.grouping import GROUP_BY_PATTERN


class ProblemDetails(ApiModel):
    """An error (RFC 9457); ``field`` names the parameter or body field at fault, when one is."""

    type: str = Field("about:blank", description="a URI naming the kind of problem")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(ge=400, le=599, description="the HTTP status")
    detail: str = Field(description="what went wrong and what was expected")
    instance: str | None = Field(None, description="the request path")
    field: str | None = Field(None, description="the parameter or body field at fault")


class Health(ApiModel):
    """Liveness or readiness."""

    status: Literal["ok", "starting"] = Field(description="ok, or starting while the caches fill")


class ClusterList(ApiModel):
    """Every ClusterCostProfile (one per priced cluster)."""

    items: list[ClusterCostProfile]


class AnalysisList(ApiModel):
    """Analyses, by name."""

    items: list[Analysis]


class AnalysisCreate(ApiModel):
    """A new Analysis: its spec, and a name (default: generated, ``api-…``)."""

    name: DnsLabel | None = Field(None, description="the Analysis's name; omitted: the server generates one")
    spec: AnalysisSpec


class RecommendationSort(StrEnum):
    """Orders of the recommendation list; a leading ``-`` means descending."""

    SAVINGS_DESC = "-savings"
    SAVINGS = "savings"
    CONFIDENCE_DESC = "-confidence"
    CONFIDENCE = "confidence"
    NAME = "name"


class RecommendationPage(ApiModel):
    """One page of recommendations; pass ``nextCursor`` as ``cursor`` for the next (absent: the last page)."""

    items: list[OptimizationRecommendation]
    next_cursor: str | None = Field(None, description="opaque; the same filters and sort must be sent with it")


class Decision(ApiModel):
    """Why a recommendation is approved, rejected or rolled back (recorded in spec.approval.reason)."""

    reason: str | None = Field(None, max_length=1024, description="why, recorded with the decision")


class Permissions(ApiModel):
    """What the caller may decide on recommendations in one namespace, as RBAC says (the dashboard shows
    only the buttons that can work; an approval policy may still refuse a decision)."""

    namespace: str = Field(description="the namespace asked about")
    approve: bool = Field(description="`patch` and `approve` on optimizationrecommendations")
    reject: bool = Field(description="`patch` and `reject` on optimizationrecommendations")
    rollback: bool = Field(description="`patch` and `approve` (undoing is approving another change)")


class CurrentCost(ApiModel):
    """One profile's current cost, as the cost analyzer last wrote it in the profile's status."""

    profile: str = Field(description="the ClusterCostProfile")
    currency: str = Field(description="ISO 4217 currency of the amounts")
    status: ClusterCostProfileStatus


class CurrentCosts(ApiModel):
    """The current cost of every profile."""

    items: list[CurrentCost]


class CostStep(StrEnum):
    """The length of one point of cost history; weeks start on Monday, months on the 1st."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class CostAmounts(ApiModel):
    """Costs by resource, in USD."""

    cpu_usd: float = 0.0
    memory_usd: float = 0.0
    gpu_usd: float = 0.0
    storage_usd: float = 0.0
    network_usd: float = 0.0
    idle_usd: float = 0.0
    total_usd: float = 0.0


class CostPoint(CostAmounts):
    """The cost of one group over one step."""

    period_start: datetime.date = Field(description="first day of the step")
    group: str = Field(
        description="the namespace; the cluster (groupBy=cluster); namespace/Kind/name (groupBy=workload); the "
        "label's value, or __unallocated__ for workloads without the label (groupBy=label:KEY); idle cost is "
        "__idle__ in every grouping but cluster"
    )


class CostHistory(ApiModel):
    """Daily costs from the history store, summed per step and group, for the namespaces the caller may see."""

    cluster: str = Field(description="the cluster (ClusterCostProfile) the history is of")
    start_day: datetime.date = Field(description="first day included")
    end_day: datetime.date = Field(description="last day included")
    group_by: str = Field(description="namespace, cluster, workload or label:KEY", pattern=GROUP_BY_PATTERN)
    step: CostStep
    points: list[CostPoint]
    totals: CostAmounts = Field(description="the sum of every point")


class InstancePriceItem(ApiModel):
    """The latest known price of one instance type."""

    provider: str
    region: str
    instance_type: str
    capacity_type: str
    usd_per_hour: float
    usd_per_month: float
    source: str
    fetched_at: datetime.datetime


class PriceComparison(ApiModel):
    """Instance prices from the history store, cheapest first."""

    items: list[InstancePriceItem]


class ChangeEvent(ApiModel):
    """One change to a kcost object, as sent on the event stream (``data:`` of an SSE message)."""

    type: Literal["ADDED", "MODIFIED", "DELETED"]
    kind: Literal["ClusterCostProfile", "Analysis", "OptimizationRecommendation", "OptimizationPolicy"]
    object: dict[str, Any] = Field(description="the object after the change (before it, for DELETED)")


class ForecastPoint(ApiModel):
    """The forecast cost of one day, in USD, and its interval."""

    day: datetime.date
    cost_usd: float = Field(ge=0, description="the expected cost")
    lower_usd: float = Field(ge=0, description="lower end of the interval")
    upper_usd: float = Field(ge=0, description="upper end of the interval")


class CostForecast(ApiModel):
    """Daily costs ahead of a cluster, or of one namespace, learned from the history store's daily costs."""

    cluster: str = Field(description="the cluster (ClusterCostProfile) forecast")
    namespace: str | None = Field(None, description="the namespace forecast; absent: the namespaces the caller may see")
    method: ForecastMethod = Field(description="prophet, or a simpler model when history is short (see reason)")
    reason: str = Field(description="why this method")
    history_days: int = Field(ge=1, description="days of history learned from")
    interval_percent: float = Field(description="the share of outcomes each day's interval is meant to hold")
    points: list[ForecastPoint] = Field(description="one per day, from the day after the last day of history")
    total_usd: float = Field(ge=0, description="the sum of the points' costs")
    total_lower_usd: float = Field(ge=0, description="the sum of their lower ends")
    total_upper_usd: float = Field(ge=0, description="the sum of their upper ends")
