"""ClusterCostProfile: how this cluster is priced and where its metrics are (cluster-scoped, ``ccp``)."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import ClassVar, Self

from pydantic import Field, model_validator

from kcost.api.v1alpha1.common import (
    ApiModel,
    Condition,
    ConfigMapKeyRef,
    CrdInfo,
    Resource,
    SecretKeyRef,
    cel,
    conditions_field,
    validations,
)


class Provider(StrEnum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    ONPREM = "onprem"


class PricingSource(StrEnum):
    API = "api"
    CATALOG = "catalog"
    CUSTOM = "custom"


class UnitRates(ApiModel):
    """Prices per unit of resource, in the profile's currency."""

    cpu_core_hour: float | None = Field(None, ge=0, description="price of one vCPU for one hour")
    memory_gib_hour: float | None = Field(
        None, ge=0, alias="memoryGiBHour", description="price of one GiB of memory for one hour"
    )
    gpu_hour: float | None = Field(None, ge=0, description="price of one GPU for one hour")
    storage_gib_month: float | None = Field(
        None, ge=0, alias="storageGiBMonth", description="price of one GiB of persistent storage per month"
    )
    egress_internet_gb: float | None = Field(
        None, ge=0, alias="egressInternetGB", description="price of one GB sent to the internet"
    )
    egress_zone_gb: float | None = Field(
        None, ge=0, alias="egressZoneGB", description="price of one GB sent across zones or regions"
    )


class NodePoolRates(ApiModel):
    """Unit rates for the nodes whose labels match ``nodeSelector`` (on-prem hardware classes, say)."""

    name: str = Field(description="a name for this pool, shown in status")
    node_selector: dict[str, str] = Field(min_length=1, description="labels a node must carry")
    rates: UnitRates = Field(description="the rates for these nodes; unset ones fall back to the profile's")


class CatalogSource(ApiModel):
    """A CSV price file: provider, region, instance_type, capacity_type, usd_per_hour, as_of."""

    model_config = validations(
        cel("has(self.path) != has(self.configMapRef)", "give exactly one of path or configMapRef")
    )

    path: str | None = Field(None, description="path of the file inside the analyzer container")
    config_map_ref: ConfigMapKeyRef | None = Field(None, description="a ConfigMap key holding the CSV")

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if (self.path is None) == (self.config_map_ref is None):
            raise ValueError("catalog: give exactly one of path or configMapRef")
        return self


class PricingSpec(ApiModel):
    model_config = validations(
        cel(
            "self.source != 'custom' || (has(self.customRates) && has(self.customRates.cpuCoreHour)"
            " && has(self.customRates.memoryGiBHour))",
            "pricing.source custom needs customRates with at least cpuCoreHour and memoryGiBHour",
            ".customRates",
        )
    )

    source: PricingSource = Field(
        PricingSource.API, description="api: the provider's price API; catalog: a price file; custom: the rates below"
    )
    catalog: CatalogSource | None = Field(None, description="where the price file is (source: catalog)")
    custom_rates: UnitRates | None = Field(
        None, description="unit rates (source: custom), also the fallback for unpriced nodes"
    )
    node_pools: list[NodePoolRates] = Field(
        default_factory=list, max_length=64, description="per node pool overrides of the unit rates"
    )
    discount_percent: float = Field(0, ge=0, lt=100, description="negotiated discount applied to list prices")
    currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description=(
            "ISO 4217 currency of every price and cost; kcost prices in USD only and refuses any other "
            "(PricingReady=False, reason UnsupportedCurrency)"
        ),
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        None, description="credentials for the price API when workload identity is not used; never shown"
    )


class PrometheusSpec(ApiModel):
    url: str = Field(
        pattern=r"^https?://[^\s]+$", description="base URL of the Prometheus (or Thanos, Mimir, VictoriaMetrics) API"
    )
    bearer_token_secret_ref: SecretKeyRef | None = Field(None, description="a bearer token for the API")
    basic_auth_secret_ref: SecretKeyRef | None = Field(None, description="'user:password' for basic auth")
    ca_secret_ref: SecretKeyRef | None = Field(None, description="PEM CA bundle to verify the server")
    insecure_skip_verify: bool = Field(False, description="skip TLS verification (never in production)")
    timeout_seconds: int = Field(60, ge=1, le=600, description="per-query timeout")


class BudgetSpec(ApiModel):
    monthly: float = Field(gt=0, description="monthly budget in the profile's currency")
    alert_thresholds_percent: list[int] = Field(
        default_factory=lambda: [50, 80, 100],
        max_length=10,
        description="percentages of the budget (month-to-date plus projection) that raise an alert",
    )


class HistorySpec(ApiModel):
    retention_days: int = Field(400, ge=1, le=3650, description="how long daily cost rows are kept")


class ClusterCostProfileSpec(ApiModel):
    model_config = validations(
        cel(
            "self.provider != 'onprem' || !has(self.pricing) || !has(self.pricing.source)"
            " || self.pricing.source != 'api'",
            "an onprem cluster has no price API: set pricing.source to custom or catalog",
            ".pricing.source",
        )
    )

    provider: Provider = Field(description="aws, gcp, azure or onprem")
    region: str | None = Field(None, max_length=64, description="default region for nodes without a region label")
    pricing: PricingSpec = Field(default_factory=PricingSpec, description="where prices come from")
    prometheus: PrometheusSpec = Field(description="where the cluster's metrics are")
    budget: BudgetSpec | None = Field(None, description="a monthly budget to watch")
    history: HistorySpec = Field(default_factory=HistorySpec, description="retention of the cost history")

    @model_validator(mode="after")
    def _onprem_has_no_price_api(self) -> Self:
        if self.provider is Provider.ONPREM and self.pricing.source is PricingSource.API:
            raise ValueError("an onprem cluster has no price API: set pricing.source to custom or catalog")
        return self


class NodeTypePrice(ApiModel):
    """What one kind of node costs, and where that price came from."""

    instance_type: str = Field(description="node.kubernetes.io/instance-type, or 'unknown'")
    region: str = Field("", description="topology.kubernetes.io/region")
    capacity_type: str = Field(description="on-demand or spot")
    count: int = Field(ge=0, description="nodes of this type")
    hourly_price: float = Field(ge=0, description="price of one node per hour")
    price_source: str = Field(description="live, last-known, catalog, custom or default")
    priced_at: datetime.datetime | None = Field(None, description="when the price was fetched")


class CostBreakdown(ApiModel):
    """Cost by resource, in the profile's currency."""

    cpu: float = Field(0, ge=0, description="CPU allocated to workloads")
    memory: float = Field(0, ge=0, description="memory allocated to workloads")
    gpu: float = Field(0, ge=0, description="GPUs allocated to workloads")
    storage: float = Field(0, ge=0, description="persistent volumes")
    network: float = Field(0, ge=0, description="egress")
    idle: float = Field(0, ge=0, description="node cost not allocated to any workload")
    total: float = Field(0, ge=0, description="everything: allocated plus idle")


class NamespaceCost(ApiModel):
    """One namespace's share of the cost."""

    namespace: str = Field(description="the namespace")
    monthly_cost: float = Field(ge=0, description="its cost per month")


class ForecastMethod(StrEnum):
    """How a cost forecast was made (``kcost bench forecast`` compares them)."""

    PROPHET = "prophet"
    SEASONAL_NAIVE = "seasonal-naive"
    LINEAR_TREND = "linear-trend"


class BudgetCrossing(ApiModel):
    """When the month's running cost is forecast to reach one alert threshold of the budget."""

    threshold_percent: int = Field(ge=0, description="the threshold, a percentage of spec.budget.monthly")
    crosses_on: datetime.date | None = Field(
        None, description="the first day it is (or was, this month) reached; absent: not within the forecast"
    )


class CostForecastSummary(ApiModel):
    """The cluster's daily cost forecast from the history store, summed up (the daily points: the status API)."""

    method: ForecastMethod = Field(description="prophet, or a simpler model when history is short (see reason)")
    reason: str = Field(description="why this method: the history's length and what it allows")
    history_days: int = Field(ge=0, description="days of cost history the forecast learned from")
    horizon_days: int = Field(ge=1, description="days forecast after the last day of history")
    generated_at: datetime.datetime = Field(description="when the forecast was made")
    month_end_cost: float = Field(ge=0, description="this month's cost on record plus the forecast of its days left")
    month_end_cost_lower: float = Field(ge=0, description="lower end of the month-end cost's 80% interval")
    month_end_cost_upper: float = Field(ge=0, description="upper end of the month-end cost's 80% interval")
    budget_crossings: list[BudgetCrossing] = Field(
        default_factory=list, max_length=10, description="per alert threshold of spec.budget, when it is reached"
    )


class ClusterCostProfileStatus(ApiModel):
    observed_generation: int | None = Field(None, ge=0, description="the generation this status was computed from")
    nodes: list[NodeTypePrice] = Field(
        default_factory=list, description="node inventory priced by type and capacity type"
    )
    hourly_cost: CostBreakdown | None = Field(None, description="cluster cost per hour by resource")
    monthly_cost: CostBreakdown | None = Field(None, description="cluster cost per month (730 h) by resource")
    top_namespaces: list[NamespaceCost] = Field(
        default_factory=list, max_length=20, description="the costliest namespaces"
    )
    currency: str | None = Field(None, description="currency of every figure here")
    prices_as_of: datetime.datetime | None = Field(None, description="age of the oldest price in use")
    month_to_date_cost: float | None = Field(None, ge=0, description="cost since the first of the month")
    projected_monthly_cost: float | None = Field(None, ge=0, description="month-to-date plus the projection to its end")
    conditions: list[Condition] = conditions_field("PricingReady, MetricsReady, Ready")
    forecast: CostForecastSummary | None = Field(
        None, description="the forecast of the cost (from the history store) against the budget"
    )


class ClusterCostProfile(Resource):
    crd: ClassVar[CrdInfo] = CrdInfo(
        kind="ClusterCostProfile",
        plural="clustercostprofiles",
        singular="clustercostprofile",
        short_names=["ccp"],
        scope="Cluster",
        printer_columns=[
            {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
            {"name": "Region", "type": "string", "jsonPath": ".spec.region"},
            {"name": "Pricing", "type": "string", "jsonPath": ".spec.pricing.source"},
            {
                "name": "Monthly",
                "type": "number",
                "jsonPath": ".status.monthlyCost.total",
                "description": "cluster cost per month",
            },
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    kind: str = "ClusterCostProfile"
    spec: ClusterCostProfileSpec
    status: ClusterCostProfileStatus = Field(default_factory=ClusterCostProfileStatus)
