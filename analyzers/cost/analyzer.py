"""The cost analyzer: prices the cluster on a timer and reports in each ClusterCostProfile.

For every profile it prices every node (through a ``Pricer``: live API, last known,
catalog or default rates — whichever answers first), allocates node cost to the
running containers (max(request, usage), OpenCost-style), and writes the profile's
status with its own field manager: node inventory by type and capacity type with
where each price came from and when, hourly and monthly cost by resource and idle,
the top namespaces, ``pricesAsOf``, ``PricingReady`` and ``WithinBudget``. Daily
cost rows, per namespace and per workload, go to the history store when one is configured.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kcost.analyzers.cost import checks, model, passes
from kcost.analyzers.metrics import prometheus
from kcost.analyzers.metrics.prometheus import PrometheusClient, PrometheusError
from kcost.analyzers.pricing import currency
from kcost.api.v1alpha1.common import Condition, Conditions, ConditionStatus, parse_quantity
from kcost.api.v1alpha1.profile import (
    ClusterCostProfile,
    CostBreakdown,
    NamespaceCost,
    NodeTypePrice,
)
from kcost.config import Config
from kcost.history.grouping import IDLE
from kcost.kube.client import KubeClient

if TYPE_CHECKING:
    from kcost.history.models import DailyCost, HistoryTable, WorkloadDailyCost

log = logging.getLogger("kcost.analyzers.cost")
FIELD_MANAGER = "kcost-analyzer-cost"
PRICING_READY = "PricingReady"
WITHIN_BUDGET = "WithinBudget"
TOP_NAMESPACES = 10


@dataclass(frozen=True)
class PriceQuote:
    usd_per_hour: float
    source: str
    fetched_at: datetime.datetime | None
    problem: str | None = None  # a self-check finding worth a warning
    net_of_discount: bool = False  # already discounted, e.g. read back from a profile's status


class Pricer(Protocol):
    """Prices one node; None when no source knows its type (the default rates apply)."""

    async def price(
        self, identity: model.NodeIdentity, labels: Mapping[str, str], cpu_cores: float, memory_gib: float, gpus: float
    ) -> PriceQuote | None: ...


PricerFactory = Callable[[ClusterCostProfile], Awaitable[Pricer]]


@dataclass
class ProfileReport:
    """What one pass computed for one profile (also what tests look at)."""

    status: dict[str, Any]
    allocation: model.Allocation
    problems: list[str]
    events: list[tuple[str, str, str]]


def _node_capacity(node: dict[str, Any]) -> tuple[float, float, float]:
    capacity = (node.get("status") or {}).get("capacity") or {}
    cpu = parse_quantity(capacity.get("cpu", "0"))
    memory_gib = parse_quantity(capacity.get("memory", "0")) / model.GIB
    gpus = parse_quantity(capacity.get("nvidia.com/gpu", "0"))
    return cpu, memory_gib, gpus


def containers_of(pods: list[dict[str, Any]]) -> list[model.ContainerUse]:
    """Requests of every container of every scheduled, non-finished pod."""
    uses = []
    for pod in pods:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            continue
        owner: dict[str, Any] = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), {})
        for container in spec.get("containers", []):
            requests = (container.get("resources") or {}).get("requests") or {}
            uses.append(
                model.ContainerUse(
                    namespace=meta["namespace"],
                    pod=meta["name"],
                    container=container["name"],
                    node=spec["nodeName"],
                    workload_kind=owner.get("kind", ""),
                    workload_name=owner.get("name", ""),
                    labels=meta.get("labels") or {},
                    cpu_request_cores=parse_quantity(requests.get("cpu", "0")),
                    memory_request_bytes=parse_quantity(requests.get("memory", "0")),
                    gpu_request=parse_quantity(requests.get("nvidia.com/gpu", "0")),
                )
            )
    return uses


async def price_nodes(
    profile: ClusterCostProfile, nodes: list[dict[str, Any]], pricer: Pricer
) -> tuple[list[model.PricedNode], list[NodeTypePrice], list[str]]:
    """Every node priced, the inventory by type, and the price problems found."""
    priced: list[model.PricedNode] = []
    problems: list[str] = []
    notes: list[str] = []
    inventory: dict[tuple[str, str, str], NodeTypePrice] = {}
    discount = 1 - profile.spec.pricing.discount_percent / 100
    for node in nodes:
        labels = node["metadata"].get("labels") or {}
        identity = model.node_identity(labels, profile.spec.provider.value, profile.spec.region or "")
        cpu, memory_gib, gpus = _node_capacity(node)
        quote = await pricer.price(identity, labels, cpu, memory_gib, gpus)
        region = identity.region or "unknown region"
        what = f"{identity.instance_type or 'unknown type'} ({identity.capacity_type}, {region})"
        if cpu <= 0 or memory_gib <= 0:
            problems.append(f"node {node['metadata']['name']} reports no CPU or memory capacity: cannot price it")
            continue
        if quote is None:
            note = f"no price for {what}: default unit rates used"
            if note not in notes:
                notes.append(note)
        elif quote.problem:
            problems.append(quote.problem)
        hourly = None if quote is None else quote.usd_per_hour * (1.0 if quote.net_of_discount else discount)
        node_priced = model.price_node(
            node["metadata"]["name"],
            identity,
            cpu,
            memory_gib,
            gpus,
            hourly_price=hourly,
            price_source=quote.source if quote else "default",
        )
        priced.append(node_priced)
        key = (identity.instance_type or "unknown", identity.region, identity.capacity_type)
        entry = inventory.get(key)
        if entry is None:
            inventory[key] = NodeTypePrice(
                instance_type=key[0],
                region=key[1],
                capacity_type=key[2],
                count=1,
                hourly_price=round(node_priced.hourly_price, 6),
                price_source=node_priced.price_source,
                priced_at=quote.fetched_at if quote else None,
            )
        else:
            entry.count += 1
    return priced, sorted(inventory.values(), key=lambda n: (n.instance_type, n.capacity_type)), problems + notes


def breakdown(allocation: model.Allocation, scale: float = 1.0, storage_hourly_total: float = 0.0) -> CostBreakdown:
    cpu = sum(c.cpu for c in allocation.containers) * scale
    memory = sum(c.memory for c in allocation.containers) * scale
    gpu = sum(c.gpu for c in allocation.containers) * scale
    idle = allocation.idle * scale
    storage = storage_hourly_total * scale
    return CostBreakdown(
        cpu=round(cpu, 4),
        memory=round(memory, 4),
        gpu=round(gpu, 4),
        storage=round(storage, 4),
        idle=round(idle, 4),
        total=round(allocation.total * scale + storage, 4),
    )


def budget_condition(
    profile: ClusterCostProfile, month_to_date: float, projected: float
) -> tuple[ConditionStatus, str, str] | None:
    budget = profile.spec.budget
    if budget is None:
        return None
    share = projected / budget.monthly * 100
    crossed = [t for t in sorted(budget.alert_thresholds_percent) if share >= t]
    currency = profile.spec.pricing.currency
    detail = (
        f"projected {projected:,.2f} {currency} this month ({month_to_date:,.2f} so far) "
        f"is {share:.0f}% of the {budget.monthly:,.2f} budget"
    )
    if crossed:
        return ConditionStatus.FALSE, f"Above{crossed[-1]}Percent", f"{detail} (threshold {crossed[-1]}%)"
    return ConditionStatus.TRUE, "WithinBudget", detail


def storage_hourly(claims: list[dict[str, Any]], usd_per_gib_month: float) -> dict[str, float]:
    """Bound persistent volume claims by namespace, priced per GiB-month of capacity."""
    by_namespace: dict[str, float] = defaultdict(float)
    for claim in claims:
        status = claim.get("status") or {}
        if status.get("phase") != "Bound":
            continue
        size = parse_quantity((status.get("capacity") or {}).get("storage", "0"))
        by_namespace[claim["metadata"]["namespace"]] += size / model.GIB * usd_per_gib_month / model.HOURS_PER_MONTH
    return dict(by_namespace)


Usage = dict[tuple[str, str, str], tuple[float, float]]


def with_usage(use: model.ContainerUse, usage: Usage) -> model.ContainerUse:
    cpu, memory = usage.get((use.namespace, use.pod, use.container), (0.0, 0.0))
    return dataclasses.replace(use, cpu_usage_cores=cpu, memory_usage_bytes=memory)


async def recent_usage(prometheus: PrometheusClient, at_s: float) -> Usage:
    """Average CPU cores and memory bytes of every container over the last hour."""
    rate = 'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))'
    cpu = await prometheus.query(f"avg_over_time({rate}[1h:5m])", at_s)
    memory = await prometheus.query(
        'avg_over_time(max by (namespace, pod, container) (container_memory_working_set_bytes{container!=""})[1h:5m])',
        at_s,
    )
    usage: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for column, result in ((0, cpu), (1, memory)):
        for item in result:
            labels = item["metric"]
            value = float(item["value"][1])
            if math.isfinite(value):  # NaN is no measurement
                usage[(labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))][column] = value
    return {key: (values[0], values[1]) for key, values in usage.items()}


async def analyze_profile(
    kube: KubeClient,
    profile: ClusterCostProfile,
    pricer: Pricer,
    now: datetime.datetime,
    usage: Usage | None = None,
) -> ProfileReport:
    nodes = await kube.nodes()
    pods = await kube.pods()
    claims = await kube.persistent_volume_claims()
    priced, inventory, findings = await price_nodes(profile, nodes, pricer)
    problems = [f for f in findings if not f.startswith("no price for ")]
    notes = [f for f in findings if f.startswith("no price for ")]
    containers = containers_of(pods)
    if usage is not None:
        containers = [with_usage(use, usage) for use in containers]
    allocation = model.allocate(priced, containers, hours=1.0)
    storage_rate = profile.spec.pricing.custom_rates.storage_gib_month if profile.spec.pricing.custom_rates else None
    storage_by_namespace = storage_hourly(claims, storage_rate if storage_rate is not None else model.STORAGE_GIB_MONTH)
    hourly = breakdown(allocation, storage_hourly_total=sum(storage_by_namespace.values()))
    monthly = breakdown(allocation, model.HOURS_PER_MONTH, sum(storage_by_namespace.values()))
    by_namespace = allocation.by("namespace")
    for namespace, storage in storage_by_namespace.items():
        by_namespace[namespace] = by_namespace.get(namespace, 0.0) + storage
    top = sorted(by_namespace.items(), key=lambda item: -item[1])[:TOP_NAMESPACES]
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start + datetime.timedelta(days=32)).replace(day=1)
    hours_so_far = (now - month_start).total_seconds() / 3600
    hours_left = (next_month - now).total_seconds() / 3600
    month_to_date = hourly.total * hours_so_far
    projected = month_to_date + hourly.total * hours_left

    conditions: list[Condition] = profile.status.conditions
    sources = Counter(node.price_source for node in priced)
    summary = ", ".join(f"{count} from {source}" for source, count in sorted(sources.items()))
    events: list[tuple[str, str, str]] = []
    pricing: tuple[ConditionStatus, str, str]
    source_status, source_reason, source_message = await checks.check_pricing(kube, profile)
    if source_status is ConditionStatus.FALSE:
        pricing = (source_status, source_reason, f"{source_message}; nodes priced meanwhile: {summary}")
    elif problems:
        pricing = (
            ConditionStatus.FALSE,
            "PriceSuspicious" if any("730" in p or "list price" in p for p in problems) else "Unpriced",
            "; ".join(problems)[:1024],
        )
    else:
        pricing = (ConditionStatus.TRUE, "Priced", "; ".join([f"{len(priced)} nodes priced: {summary}", *notes])[:1024])
    before = Conditions.find(conditions, PRICING_READY)
    conditions = Conditions.set(conditions, PRICING_READY, *pricing, generation=profile.generation, now=now)
    if pricing[0] is ConditionStatus.FALSE and (before is None or before.message != pricing[2]):
        events.append(("Warning", pricing[1], pricing[2]))
    # A budget in another currency cannot be compared with costs in US dollars.
    refused = currency.unsupported_currency(profile)
    budget = budget_condition(profile, month_to_date, projected) if refused is None else None
    if budget is not None:
        previous = Conditions.find(conditions, WITHIN_BUDGET)
        conditions = Conditions.set(conditions, WITHIN_BUDGET, *budget, generation=profile.generation, now=now)
        if budget[0] is ConditionStatus.FALSE and (previous is None or previous.reason != budget[1]):
            events.append(("Warning", "BudgetThresholdCrossed", budget[2]))
    dated = [n.priced_at for n in inventory if n.priced_at is not None]
    status = {
        "nodes": [n.to_api() for n in inventory],
        "hourlyCost": hourly.to_api(),
        "monthlyCost": monthly.to_api(),
        "topNamespaces": [
            NamespaceCost(namespace=ns, monthly_cost=round(cost * model.HOURS_PER_MONTH, 2)).to_api()
            for ns, cost in top
        ],
        "currency": currency.SUPPORTED_CURRENCY,  # what every figure here is in, whatever the spec asks
        "monthToDateCost": round(month_to_date, 2),
        "projectedMonthlyCost": round(projected, 2),
        "conditions": [c.to_api() for c in conditions if c.type in (PRICING_READY, WITHIN_BUDGET)],
    }
    if dated:
        status["pricesAsOf"] = min(dated).isoformat().replace("+00:00", "Z")
    return ProfileReport(status, allocation, problems, events)


async def run_once(
    kube: KubeClient,
    pricer_for: PricerFactory,
    now: datetime.datetime | None = None,
    on_report: Callable[[ClusterCostProfile, ProfileReport], Awaitable[None]] | None = None,
) -> int:
    """Price and report every profile once; returns how many were updated."""
    now = now or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    namespace = Config.from_env().namespace
    updated = 0
    for body, profile in await passes.valid_profiles(kube):
        usage: Usage | None = None
        try:
            client = await prometheus.client_for_profile(kube, profile, namespace=namespace, attempts=1)
            usage = await recent_usage(client, now.timestamp())
        except PrometheusError as error:
            # Requests alone still price the cluster; MetricsReady tells the user what is wrong.
            log.info("Prometheus unavailable for %s, allocating by requests only: %s", profile.display_name, error)
        report = await analyze_profile(kube, profile, await pricer_for(profile), now, usage)
        await kube.apply(
            ClusterCostProfile,
            {"metadata": {"name": profile.name}, "status": report.status},
            field_manager=FIELD_MANAGER,
            status=True,
        )
        for event_type, reason, message in report.events:
            try:
                await kube.event(body, reason=reason, message=message, event_type=event_type, component=FIELD_MANAGER)
            except Exception:
                log.warning("could not record event %s on %s", reason, profile.display_name, exc_info=True)
        if on_report is not None:
            await on_report(profile, report)
        updated += 1
    return updated


async def serve(
    kube: KubeClient,
    pricer_for: PricerFactory,
    interval: datetime.timedelta,
    on_report: Callable[[ClusterCostProfile, ProfileReport], Awaitable[None]] | None = None,
) -> None:
    """Price the cluster every ``interval`` until cancelled."""
    await passes.every(interval, lambda: run_once(kube, pricer_for, on_report=on_report), "cost pass")


# Pod labels that differ from pod to pod of one workload: they would split its cost, not group it.
POD_ONLY_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "batch.kubernetes.io/job-completion-index",
    }
)
Key = TypeVar("Key", bound=Hashable)
WorkloadKey = tuple[str, str, str]  # namespace, kind, name


def history_rows(cluster: str, day: datetime.date, allocation: model.Allocation) -> list[HistoryTable]:
    """Today's history rows from one allocation: per namespace and per workload, so the two agree."""
    return [*daily_cost_rows(cluster, day, allocation), *workload_cost_rows(cluster, day, allocation)]


def daily_cost_rows(cluster: str, day: datetime.date, allocation: model.Allocation) -> list[DailyCost]:
    """Today's cost per namespace at the current rate (idle under ``__idle__``), as history rows."""
    # The rows' models bring SQLAlchemy (~21 MiB): imported by the cost analyzer as it writes, not by every
    # analyzer that prices nodes through this module.
    from kcost.history.models import DailyCost  # noqa: PLC0415

    return [
        DailyCost(cluster=cluster, namespace=namespace, day=day, **_amounts(row))
        for namespace, row in daily_rows(allocation).items()
    ]


def workload_cost_rows(cluster: str, day: datetime.date, allocation: model.Allocation) -> list[WorkloadDailyCost]:
    """Today's cost per workload at the current rate, with the labels all its pods share; idle as one
    row whose namespace, kind and name are ``__idle__``."""
    from kcost.history.models import WorkloadDailyCost  # noqa: PLC0415 - as in ``daily_cost_rows``

    sums = _day_sums(allocation, _workload_key)
    shared: dict[WorkloadKey, dict[str, str]] = {}
    for cost in allocation.containers:
        labels = {key: value for key, value in cost.use.labels.items() if key not in POD_ONLY_LABELS}
        key = _workload_key(cost.use)
        known = shared.get(key)
        shared[key] = labels if known is None else {k: v for k, v in known.items() if labels.get(k) == v}
    rows = [
        WorkloadDailyCost(
            cluster=cluster, namespace=namespace, kind=kind, name=name, day=day, labels=labels, **_amounts(sums[key])
        )
        for key, labels in shared.items()
        for namespace, kind, name in (key,)
    ]
    idle = allocation.idle * 24
    rows.append(
        WorkloadDailyCost(cluster=cluster, namespace=IDLE, kind=IDLE, name=IDLE, day=day, idle_usd=idle, total_usd=idle)
    )
    return rows


def daily_rows(allocation: model.Allocation) -> dict[str, dict[str, float]]:
    """Cost per namespace for a full day at the current rate, by resource (for the history store)."""
    rows = _day_sums(allocation, lambda use: use.namespace)
    rows[IDLE] = {"idle": allocation.idle * 24, "total": allocation.idle * 24}
    return rows


def _workload_key(use: model.ContainerUse) -> WorkloadKey:
    return (use.namespace, *model.workload_of(use))


def _day_sums(allocation: model.Allocation, key_of: Callable[[model.ContainerUse], Key]) -> dict[Key, dict[str, float]]:
    """Each group's cost for a full day at the current rate, by resource."""
    rows: dict[Key, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for cost in allocation.containers:
        row = rows[key_of(cost.use)]
        row["cpu"] += cost.cpu * 24
        row["memory"] += cost.memory * 24
        row["gpu"] += cost.gpu * 24
        row["total"] += cost.total * 24
    return {key: dict(values) for key, values in rows.items()}


def _amounts(row: Mapping[str, float]) -> dict[str, float]:
    return {f"{resource}_usd": row.get(resource, 0.0) for resource in ("cpu", "memory", "gpu", "idle", "total")}
