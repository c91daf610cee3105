"""Unit rates at the cluster's real node prices, for pricing savings.

Right-sizing and idle savings are worth what the freed CPU and memory cost on the
nodes the workloads actually run on, not what they would cost at GCP us-central1
list prices. This module prices every node the way the cost analyzer does
(``price_nodes``: live API → last known → catalog → default rates, with the
profile's discount), splits each node's hourly price into CPU and memory unit
prices by OpenCost's default ratio (``model.split_node_price``), and keeps:

- per node, its unit rates;
- for the cluster, the capacity-weighted blend (Σ node CPU cost / Σ cores, Σ memory
  cost / Σ GiB), for workloads whose nodes are unknown;
- a short ``source`` saying where the prices came from, for a recommendation's evidence.

Nothing here fails because prices are unavailable: without nodes, or when the
pricer cannot be built, the default unit rates apply and ``source`` says why.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kcost.analyzers.contract import AnalyzerError
from kcost.analyzers.cost import model
from kcost.analyzers.cost.analyzer import PriceQuote, Pricer, PricerFactory, price_nodes
from kcost.analyzers.cost.pricer import PricerFactory as ChainPricerFactory
from kcost.analyzers.pricing import currency
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.kube.client import KubeClient

log = logging.getLogger("kcost.analyzers.cost.unit_rates")

_NO_RATES: Mapping[str, model.UnitRates] = MappingProxyType({})


@dataclass(frozen=True)
class ClusterRates:
    """Unit rates of the cluster's nodes: blended, per node, and where they came from."""

    blended: model.UnitRates = model.DEFAULT_ON_DEMAND
    by_node: Mapping[str, model.UnitRates] = field(default_factory=lambda: _NO_RATES)
    source: str = "default unit rates"

    @classmethod
    def defaults(cls, reason: str) -> ClusterRates:
        """The default on-demand unit rates, saying why they apply."""
        return cls(model.DEFAULT_ON_DEMAND, _NO_RATES, f"default unit rates: {reason}")

    def rates_for(self, nodes: Sequence[str] = ()) -> model.UnitRates:
        """The mean rates of the known ``nodes`` (one entry per pod weights by placement); else the blend."""
        known = [self.by_node[name] for name in nodes if name in self.by_node]
        if not known:
            return self.blended
        return model.UnitRates(
            cpu_core_hour=sum(r.cpu_core_hour for r in known) / len(known),
            memory_gib_hour=sum(r.memory_gib_hour for r in known) / len(known),
            gpu_hour=sum(r.gpu_hour for r in known) / len(known),
        )

    def monthly_request_cost(
        self, cpu_cores: float, memory_bytes: float, replicas: int, nodes: Sequence[str] = ()
    ) -> float:
        """What requests of ``cpu_cores`` and ``memory_bytes`` per replica cost per month on ``nodes``.

        ``nodes`` are the nodes the replicas run on; unknown ones are ignored, and with
        none known the cluster's blended rates apply.
        """
        return model.monthly_request_cost(cpu_cores, memory_bytes, replicas, self.rates_for(nodes))


def _blend(priced: Sequence[model.PricedNode]) -> model.UnitRates:
    cores = sum(node.cpu_cores for node in priced)
    gib = sum(node.memory_gib for node in priced)
    gpus = sum(node.gpus for node in priced)
    gpu_hour = (
        sum(node.rates.gpu_hour * node.gpus for node in priced) / gpus if gpus > 0 else model.DEFAULT_ON_DEMAND.gpu_hour
    )
    return model.UnitRates(
        cpu_core_hour=sum(node.rates.cpu_core_hour * node.cpu_cores for node in priced) / cores,
        memory_gib_hour=sum(node.rates.memory_gib_hour * node.memory_gib for node in priced) / gib,
        gpu_hour=gpu_hour,
    )


def _describe(priced: Sequence[model.PricedNode], skipped: int, discount_percent: float) -> str:
    sources = Counter(
        node.price_source
        if node.price_source == "default" or not node.identity.provider
        else f"{node.identity.provider} {node.price_source}"
        for node in priced
    )
    parts = ", ".join(f"{source} {count}" for source, count in sorted(sources.items(), key=lambda s: (-s[1], s[0])))
    text = f"node prices: {len(priced)} node{'s' if len(priced) != 1 else ''} ({parts})"
    if discount_percent and any(node.price_source != "default" for node in priced):
        text += f", {discount_percent:g}% discount"
    if skipped:
        text += f"; {skipped} node{'s' if skipped != 1 else ''} without capacity skipped"
    return text


def rates_from_nodes(priced: Sequence[model.PricedNode], skipped: int = 0, discount_percent: float = 0) -> ClusterRates:
    """The cluster's rates from already priced nodes (``price_nodes``' first result)."""
    usable = [node for node in priced if node.cpu_cores > 0 and node.memory_gib > 0]
    skipped += len(priced) - len(usable)
    if not usable:
        reason = f"no priced node ({skipped} without capacity)" if skipped else "no nodes"
        return ClusterRates.defaults(reason)
    return ClusterRates(
        blended=_blend(usable),
        by_node=MappingProxyType({node.name: node.rates for node in usable}),
        source=_describe(usable, skipped, discount_percent),
    )


async def _list_nodes(kube: KubeClient) -> list[dict[str, Any]]:
    return await kube.nodes()


async def cluster_rates(kube: KubeClient, profile: ClusterCostProfile, pricer: Pricer) -> ClusterRates:
    """Every node priced by ``pricer`` (with the profile's discount) and split into unit rates."""
    return await _rates_of(await _list_nodes(kube), profile, pricer)


async def _rates_of(nodes: list[dict[str, Any]], profile: ClusterCostProfile, pricer: Pricer) -> ClusterRates:
    if not nodes:
        return ClusterRates.defaults("no nodes")
    priced, _, _ = await price_nodes(profile, nodes, pricer)
    return rates_from_nodes(priced, len(nodes) - len(priced), profile.spec.pricing.discount_percent)


class _NoPrices:
    """A pricer that knows no price: every node is priced at its capacity type's default rates."""

    async def price(self, *_: object) -> PriceQuote | None:
        return None


async def read_profile(kube: KubeClient, profile_name: str) -> ClusterCostProfile:
    """The named ClusterCostProfile; AnalyzerError names it when it is missing or invalid."""
    body = await kube.get_raw(ClusterCostProfile, profile_name)
    if body is None:
        raise AnalyzerError(f"ClusterCostProfile {profile_name!r} not found: fix spec.profileRef.name")
    try:
        return ClusterCostProfile.model_validate(body)
    except ValueError as error:
        raise AnalyzerError(f"ClusterCostProfile {profile_name!r} is invalid: {error}") from None


async def rates_for_profile(kube: KubeClient, profile_name: str, factory: PricerFactory | None = None) -> ClusterRates:
    """The cluster's rates priced as the named profile says (see ``rates_for``)."""
    return await rates_for(kube, await read_profile(kube, profile_name), factory)


async def rates_for(
    kube: KubeClient, profile: ClusterCostProfile, factory: PricerFactory | None = None
) -> ClusterRates:
    """The cluster's rates priced as ``profile`` says.

    Pass a long-lived ``factory`` (``kcost.analyzers.cost.pricer.PricerFactory``) to
    reuse its catalogs and last known prices across calls; by default a new one is made.
    If the pricer cannot be built or pricing raises, the nodes are priced at the
    default rates of their capacity type and ``source`` says why. A profile in a currency
    kcost does not price in is an ``AnalyzerError`` (savings would be dollars under its name).
    """
    refused = currency.unsupported_currency(profile)
    if refused is not None:
        raise AnalyzerError(refused)
    profile_name = profile.name
    nodes = await _list_nodes(kube)
    if not nodes:
        return ClusterRates.defaults("no nodes")
    build = factory if factory is not None else ChainPricerFactory(kube)
    try:
        return await _rates_of(nodes, profile, await build(profile))
    except Exception as error:  # savings are still worth showing at the default rates
        log.warning("pricing for ClusterCostProfile %s failed; default unit rates used", profile_name, exc_info=True)
        reason = f"pricing failed ({type(error).__name__}: {error})"
        fallback = await _rates_of(nodes, profile, _NoPrices())
        if not fallback.by_node:
            return ClusterRates.defaults(f"{reason}; no priced node")
        return ClusterRates(fallback.blended, fallback.by_node, f"default unit rates, {reason}; {fallback.source}")
