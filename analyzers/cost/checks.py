"""Is the profile's pricing usable? (currency supported, catalog readable, custom rates complete)."""

from __future__ import annotations

import asyncio
import csv
import gzip
from pathlib import Path

from kubernetes_asyncio.client.exceptions import ApiException

from kcost.analyzers.pricing import currency
from kcost.api.v1alpha1.common import ConditionStatus, ConfigMapKeyRef
from kcost.api.v1alpha1.profile import ClusterCostProfile, PricingSource
from kcost.config import Config
from kcost.kube.client import KubeClient

CATALOG_COLUMNS = ("provider", "region", "instance_type", "capacity_type", "usd_per_hour")


def _catalog_header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return next(csv.reader(handle), [])


PricingCheck = tuple[ConditionStatus, str, str]


async def check_pricing(kube: KubeClient, profile: ClusterCostProfile) -> PricingCheck:
    """PricingReady as far as the spec says: a supported currency and a usable source."""
    refused = currency.unsupported_currency(profile)
    if refused is not None:
        return ConditionStatus.FALSE, currency.UNSUPPORTED_CURRENCY, refused
    return await _check_source(kube, profile)


async def _check_source(kube: KubeClient, profile: ClusterCostProfile) -> PricingCheck:
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
    namespace = ref.namespace or Config.from_env().namespace
    where = f"spec.pricing.catalog.configMapRef {namespace}/{ref.name}"
    try:
        data = await kube.config_map_data(ref.name, namespace)
    except ApiException as error:
        return ConditionStatus.FALSE, "CatalogUnreadable", f"{where}: {error.reason}"
    if ref.key not in data:
        return ConditionStatus.FALSE, "CatalogUnreadable", f"{where}: no key {ref.key!r}"
    return ConditionStatus.TRUE, "CatalogFound", f"priced from ConfigMap {namespace}/{ref.name}"
