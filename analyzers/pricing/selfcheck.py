"""A sanity check of resolved prices before they are used: the mistakes a price pipeline actually makes.

- ``LooksMonthly``: ~730× the reference — a monthly price read as hourly.
- ``FarFromListPrice``: more than ``far_factor``× above or below the catalog list price
  of the same type and capacity type (a wrong unit, currency or SKU).
- ``Unpriced``: no source could price the type.

The reference is the catalog's price of the same key; where the catalog has none (or
the price came from the catalog itself) the monthly check compares with the type's
shape at the default rates, which is only good to an order of magnitude — enough to
spot a factor of 730, not to judge 3×.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kcost.analyzers.pricing.chain import ResolvedPrice, Tier
from kcost.analyzers.pricing.model import PriceKey, PriceSheet
from kcost.analyzers.pricing.rates import DEFAULT_RATES
from kcost.analyzers.pricing.shapes import Shape, shape_of
from kcost.api.units import HOURS_PER_MONTH

LOOKS_MONTHLY = "LooksMonthly"
FAR_FROM_LIST = "FarFromListPrice"
UNPRICED = "Unpriced"
# How close to 730× counts as "monthly": default-rate estimates can be a few times off.
_MONTHLY_SLACK = 4.0


@dataclass(frozen=True)
class PriceFinding:
    key: PriceKey
    reason: str
    message: str


def _reference(
    resolved: ResolvedPrice, catalog: PriceSheet | None, shape: Shape | None
) -> tuple[float, str, bool] | None:
    """(reference USD/h, what it is, whether it is a list price) for one resolved price."""
    listed = catalog.get(resolved.key) if catalog is not None and resolved.tier is not Tier.CATALOG else None
    if listed is not None:
        return listed.usd_per_hour, f"catalog list price ({listed.source})", True
    shape = shape or shape_of(resolved.key.provider, resolved.key.instance_type)
    if shape is None:
        return None
    estimate = DEFAULT_RATES[resolved.key.capacity_type].usd_per_hour(shape)
    return estimate, "default-rate estimate for its shape", False


def self_check(
    resolved: Iterable[ResolvedPrice],
    catalog: PriceSheet | None = None,
    *,
    shapes: Mapping[PriceKey, Shape] | None = None,
    far_factor: float = 3.0,
) -> list[PriceFinding]:
    """Findings for the prices that look wrong and the types nothing priced."""
    findings: list[PriceFinding] = []
    for price in resolved:
        key = price.key
        if price.usd_per_hour is None:
            why = "; ".join(price.notes) or "no source knows it"
            findings.append(PriceFinding(key, UNPRICED, f"{key}: no source could price it ({why})"))
            continue
        reference = _reference(price, catalog, (shapes or {}).get(key))
        if reference is None or reference[0] <= 0:
            continue
        reference_usd_per_hour, what, is_list_price = reference
        ratio = price.usd_per_hour / reference_usd_per_hour
        said = f"{key}: {price.usd_per_hour:.6g} USD/h from {price.source} is {ratio:.3g}× the {what}"
        if HOURS_PER_MONTH / _MONTHLY_SLACK <= ratio <= HOURS_PER_MONTH * _MONTHLY_SLACK:
            hourly = price.usd_per_hour / HOURS_PER_MONTH
            message = f"{said} ({reference_usd_per_hour:.6g}): a monthly price? ÷730 = {hourly:.6g} USD/h"
            findings.append(PriceFinding(key, LOOKS_MONTHLY, message))
        elif is_list_price and not 1 / far_factor <= ratio <= far_factor:
            message = f"{said} ({reference_usd_per_hour:.6g}), beyond the {far_factor:g}× tolerance"
            findings.append(PriceFinding(key, FAR_FROM_LIST, message))
    return findings
