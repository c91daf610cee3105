"""The cost analyzer's ``Pricer`` for a profile, built on the pricing chain.

``custom`` prices each node from the profile's unit rates (per node pool);
``catalog`` and ``api`` go through ``PriceChain`` (live → last known → catalog). A
type no tier prices comes back as None: the cost model then prices the node's
capacity at the default unit rates and the status says "default". Every chain
price is self-checked against the catalog list price and for a monthly-vs-hourly mix-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kcost.analyzers.cost import model
from kcost.analyzers.cost.analyzer import PriceQuote
from kcost.analyzers.pricing import catalog as catalog_source
from kcost.analyzers.pricing.aws import AwsPriceSource
from kcost.analyzers.pricing.azure import AzureRetailPriceSource
from kcost.analyzers.pricing.chain import LiveSource, PriceChain, Tier
from kcost.analyzers.pricing.custom import CustomPricing
from kcost.analyzers.pricing.gcp import GcpPriceSource
from kcost.analyzers.pricing.model import PriceKey, PriceSheet
from kcost.analyzers.pricing.selfcheck import self_check
from kcost.analyzers.pricing.shapes import Shape
from kcost.analyzers.pricing.store import InMemoryPriceStore, PriceStore
from kcost.api.v1alpha1.profile import ClusterCostProfile, PricingSource
from kcost.config import Config
from kcost.kube.client import KubeClient

CHAIN_SOURCES = {Tier.LIVE: "live", Tier.LAST_KNOWN: "last-known", Tier.CATALOG: "catalog"}


@dataclass
class ChainPricer:
    chain: PriceChain
    custom: CustomPricing | None = None
    catalog: PriceSheet | None = None

    async def price(
        self, identity: model.NodeIdentity, labels: Mapping[str, str], cpu_cores: float, memory_gib: float, gpus: float
    ) -> PriceQuote | None:
        if self.custom is not None:
            shape = Shape(vcpu=cpu_cores, memory_gib=memory_gib, gpus=int(gpus))
            node_price = self.custom.price_node(
                labels=labels,
                shape=shape,
                capacity_type=identity.capacity_type,
                provider=identity.provider,
                region=identity.region,
                instance_type=identity.instance_type,
            )
            return PriceQuote(node_price.usd_per_hour, node_price.source, node_price.fetched_at)
        key = PriceKey(identity.provider, identity.region, identity.instance_type, identity.capacity_type)
        resolved = await self.chain.price(key)
        source = CHAIN_SOURCES.get(resolved.tier)
        if resolved.usd_per_hour is None or source is None:
            return None
        findings = self_check([resolved], self.catalog)
        problem = findings[0].message if findings else None
        return PriceQuote(resolved.usd_per_hour, source, resolved.fetched_at, problem)


def _live_source(provider: str) -> LiveSource | None:
    if provider == "aws":
        return AwsPriceSource()
    if provider == "gcp":
        return GcpPriceSource()
    if provider == "azure":
        return AzureRetailPriceSource()
    return None


@dataclass
class PricerFactory:
    """One pricer per profile; catalogs are read once per file and the last known prices are kept."""

    kube: KubeClient
    store: PriceStore = field(default_factory=InMemoryPriceStore)
    _catalogs: dict[str, PriceSheet] = field(default_factory=dict)

    async def _catalog(self, profile: ClusterCostProfile) -> PriceSheet | None:
        source = profile.spec.pricing.catalog
        if source is None:
            return None
        if source.path is not None:
            if source.path not in self._catalogs:
                self._catalogs[source.path] = await catalog_source.load_catalog(Path(source.path))
            return self._catalogs[source.path]
        ref = source.config_map_ref
        assert ref is not None  # the model requires one of the two
        namespace = ref.namespace or Config.from_env().namespace
        data = await self.kube.config_map_data(ref.name, namespace)
        return catalog_source.parse_catalog(data.get(ref.key, ""), f"configmap {namespace}/{ref.name}")

    async def __call__(self, profile: ClusterCostProfile) -> ChainPricer:
        pricing = profile.spec.pricing
        try:
            catalog = await self._catalog(profile)
        except Exception:  # noqa: BLE001 - an unreadable catalog is reported by the PricingReady check
            catalog = None
        if pricing.source is PricingSource.CUSTOM:
            custom = CustomPricing(rates=pricing.custom_rates, node_pools=pricing.node_pools)
            return ChainPricer(PriceChain(store=self.store, catalog=catalog), custom=custom, catalog=catalog)
        live = _live_source(profile.spec.provider.value) if pricing.source is PricingSource.API else None
        chain = PriceChain(live=[live] if live else [], store=self.store, catalog=catalog)
        return ChainPricer(chain, catalog=catalog)
