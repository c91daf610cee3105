"""The one currency kcost prices in, and how a profile that asks for another is refused.

List prices (AWS, GCP, Azure), the catalog file and the default unit rates are all in
US dollars, and kcost applies no exchange rate: a profile in another currency would
show dollars under its currency's name. It is refused instead, with a reason.
"""

from __future__ import annotations

from kcost.api.v1alpha1.profile import ClusterCostProfile

SUPPORTED_CURRENCY = "USD"
# The reason of PricingReady=False, and what an analyzer's error starts from.
UNSUPPORTED_CURRENCY = "UnsupportedCurrency"


def unsupported_currency(profile: ClusterCostProfile) -> str | None:
    """None when kcost can price in the profile's currency; else why not, naming the field and what is supported."""
    currency = profile.spec.pricing.currency
    if currency == SUPPORTED_CURRENCY:
        return None
    return (
        f"ClusterCostProfile {profile.name}: spec.pricing.currency is {currency!r}, but kcost prices in "
        f"{SUPPORTED_CURRENCY} only (list prices, catalogs and default rates are in US dollars and no exchange "
        f"rate is applied); set spec.pricing.currency to {SUPPORTED_CURRENCY} and give custom rates in US dollars"
    )
