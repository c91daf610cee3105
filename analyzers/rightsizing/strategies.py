"""The right-sizing strategies by name, and how to make one from its settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kcost.analyzers.rightsizing.adaptive import AdaptiveStrategy
from kcost.analyzers.rightsizing.base import Strategy
from kcost.analyzers.rightsizing.krr_simple import KrrSimpleStrategy
from kcost.analyzers.rightsizing.vpa import VpaStrategy

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    strategy.name: strategy for strategy in (AdaptiveStrategy, VpaStrategy, KrrSimpleStrategy)
}


class UnknownStrategyError(LookupError):
    """No strategy of that name; the message lists the known ones."""


def create(name: str, settings: Mapping[str, Any] | None = None) -> Strategy[Any]:
    """The strategy ``name`` with ``settings`` (validated by its settings model; defaults when None)."""
    if name not in STRATEGIES:
        raise UnknownStrategyError(f"no right-sizing strategy named {name!r} (known: {', '.join(sorted(STRATEGIES))})")
    strategy = STRATEGIES[name]
    return strategy(strategy.settings_model.model_validate(dict(settings or {})))
