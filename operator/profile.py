"""Reconcile a ClusterCostProfile: is its Prometheus usable, is its pricing source usable.

``MetricsReady``: Prometheus answers, and has the series kcost needs.
``PricingReady``: the source can be read (catalog, custom rates); the price APIs are
checked by the cost analyzer, which reports here too.
``Ready``: both hold (a pricing check still pending does not block it).
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import logging
import os
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException

from kcost.analyzers.metrics.prometheus import PrometheusClient, PrometheusError, credentials_from_secrets
from kcost.api.v1alpha1.common import Condition, Conditions, ConditionStatus, ConfigMapKeyRef
from kcost.api.v1alpha1.profile import ClusterCostProfile, PricingSource
from kcost.kube.client import KubeClient
from kcost.operator import status as status_io

log = logging.getLogger("kcost.operator.profile")
METRICS_READY = "MetricsReady"
PRICING_READY = "PricingReady"
OWNED = {METRICS_READY, PRICING_READY, status_io.READY}
# What the analyzers read, and where it usually comes from.
REQUIRED_SERIES = {
    "container_cpu_usage_seconds_total": "cAdvisor (the kubelet's /metrics/cadvisor)",
    "container_memory_working_set_bytes": "cAdvisor (the kubelet's /metrics/cadvisor)",
    "kube_pod_container_resource_requests": "kube-state-metrics",
    "kube_pod_owner": "kube-state-metrics",
}
LOOKBACK = "6h"
CATALOG_COLUMNS = ("provider", "region", "instance_type", "capacity_type", "usd_per_hour")


async def check_metrics(kube: KubeClient, profile: ClusterCostProfile, timeout_s: float) -> tuple[bool, str, str]:
    spec = profile.spec.prometheus
    try:
        credentials = await credentials_from_secrets(kube, spec, os.environ.get("KCOST_NAMESPACE", "kcost-system"))
    except Exception as error:  # noqa: BLE001 - any Secret problem is the user's to fix
        return False, "CredentialsUnreadable", f"spec.prometheus: cannot read the credentials Secret: {error}"
    client = PrometheusClient(
        spec.url, timeout_s=min(timeout_s, spec.timeout_seconds), credentials=credentials, attempts=2
    )
    missing = []
    try:
        for series, source in REQUIRED_SERIES.items():
            count = await client.scalar(f"count(last_over_time({series}[{LOOKBACK}]))")
            if not count:
                missing.append(f"{series} (from {source})")
    except PrometheusError as error:
        return False, "PrometheusUnreachable", f"spec.prometheus.url: {error}"
    if missing:
        return False, "MetricsMissing", f"no data in the last {LOOKBACK} for: " + ", ".join(missing)
    return True, "MetricsFound", f"{spec.url} has the series kcost needs"


def _catalog_header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return next(csv.reader(handle), [])


PricingCheck = tuple[ConditionStatus, str, str]


async def check_pricing(kube: KubeClient, profile: ClusterCostProfile) -> PricingCheck:
    pricing = profile.spec.pricing
    if pricing.source is PricingSource.CUSTOM:
        rates = pricing.custom_rates
        if rates is None or rates.cpu_core_hour is None or rates.memory_gib_hour is None:
            return ConditionStatus.FALSE, "MissingRates", "spec.pricing.customRates needs cpuCoreHour and memoryGiBHour"
        return ConditionStatus.TRUE, "CustomRates", "priced from spec.pricing.customRates"
    if pricing.source is PricingSource.CATALOG:
        catalog = pricing.catalog
        if catalog is None:
            return ConditionStatus.FALSE, "MissingCatalog", "spec.pricing.catalog: give path or configMapRef"
        if catalog.path is not None:
            return await _check_catalog_file(Path(catalog.path))
        assert catalog.config_map_ref is not None  # the model requires one of the two
        return await _check_catalog_config_map(kube, catalog.config_map_ref)
    provider = profile.spec.provider.value
    return ConditionStatus.UNKNOWN, "CheckedByCostAnalyzer", f"the {provider} price API is checked by the cost analyzer"


async def _check_catalog_file(path: Path) -> PricingCheck:
    where = f"spec.pricing.catalog.path {path}"
    try:
        header = await asyncio.to_thread(_catalog_header, path)
    except OSError as error:
        return ConditionStatus.FALSE, "CatalogUnreadable", f"{where}: {error.strerror or error}"
    missing = [c for c in CATALOG_COLUMNS if c not in header]
    if missing:
        return ConditionStatus.FALSE, "CatalogMalformed", f"{where}: missing columns {', '.join(missing)}"
    return ConditionStatus.TRUE, "CatalogFound", f"priced from {path}"


async def _check_catalog_config_map(kube: KubeClient, ref: ConfigMapKeyRef) -> PricingCheck:
    namespace = ref.namespace or os.environ.get("KCOST_NAMESPACE", "kcost-system")
    where = f"spec.pricing.catalog.configMapRef {namespace}/{ref.name}"
    try:
        config_map = await kube.core.read_namespaced_config_map(ref.name, namespace)
    except ApiException as error:
        return ConditionStatus.FALSE, "CatalogUnreadable", f"{where}: {error.reason}"
    if ref.key not in (config_map.data or {}):
        return ConditionStatus.FALSE, "CatalogUnreadable", f"{where}: no key {ref.key!r}"
    return ConditionStatus.TRUE, "CatalogFound", f"priced from ConfigMap {namespace}/{ref.name}"


def operator_part(profile: ClusterCostProfile) -> dict[str, Any]:
    return {
        "observedGeneration": profile.generation,
        "conditions": status_io.owned_conditions(profile.status.conditions, OWNED),
    }


async def reconcile(kube: KubeClient, body: dict[str, Any], timeout_s: float = 10.0) -> ClusterCostProfile:
    profile = status_io.parse(ClusterCostProfile, body)
    metrics_ok, metrics_reason, metrics_message = await check_metrics(kube, profile, timeout_s)
    pricing_status, pricing_reason, pricing_message = await check_pricing(kube, profile)
    generation = profile.generation
    conditions: list[Condition] = profile.status.conditions
    conditions = Conditions.set(
        conditions, METRICS_READY, metrics_ok, metrics_reason, metrics_message, generation=generation
    )
    # The cost analyzer owns PricingReady for price APIs; the operator sets it only for what it can check.
    if pricing_status is not ConditionStatus.UNKNOWN or Conditions.find(conditions, PRICING_READY) is None:
        conditions = Conditions.set(
            conditions, PRICING_READY, pricing_status, pricing_reason, pricing_message, generation=generation
        )
    pricing = Conditions.find(conditions, PRICING_READY)
    pricing_ok = pricing is None or pricing.status is not ConditionStatus.FALSE
    ok = metrics_ok and pricing_ok
    problems = [
        m for good, m in ((metrics_ok, metrics_message), (pricing_ok, pricing.message if pricing else "")) if not good
    ]
    conditions = status_io.ready(
        conditions, ok, "Ready" if ok else "NotReady", "; ".join(problems) or "metrics and pricing usable", generation
    )
    updated = profile.model_copy(update={"status": profile.status.model_copy(update={"conditions": conditions})})
    if operator_part(updated) != operator_part(profile):
        await status_io.apply_status(kube, updated, operator_part(updated))
        before = Conditions.find(profile.status.conditions, status_io.READY)
        if before is None or (before.status is ConditionStatus.TRUE) != ok:
            reason = "ProfileReady" if ok else "ProfileNotReady"
            try:
                await kube.event(
                    body,
                    reason=reason,
                    message="; ".join(problems) or "metrics and pricing usable",
                    event_type="Normal" if ok else "Warning",
                )
            except Exception:
                log.warning("could not record an event on %s", profile.display_name, exc_info=True)
    return updated
