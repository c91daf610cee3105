"""The right-sizing strategies by name, and how to make one from its settings."""

from __future__ import annotations

from typing import Any

from kcost.analyzers.rightsizing.adaptive import AdaptiveStrategy
from kcost.analyzers.rightsizing.base import Strategy, StrategySettings
from kcost.analyzers.rightsizing.krr_simple import KrrSimpleStrategy
from kcost.analyzers.rightsizing.vpa import VpaStrategy

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    strategy.name: strategy for strategy in (AdaptiveStrategy, VpaStrategy, KrrSimpleStrategy)
}


class UnknownStrategyError(LookupError):
    """No strategy of that name; the message lists the known ones."""


def create(name: str, settings: StrategySettings | None = None) -> Strategy[Any]:
    """The strategy ``name`` with ``settings`` (its own settings model; defaults when None)."""
    if name not in STRATEGIES:
        raise UnknownStrategyError(f"no right-sizing strategy named {name!r} (known: {', '.join(sorted(STRATEGIES))})")
    strategy = STRATEGIES[name]
    if settings is not None and not isinstance(settings, strategy.settings_model):
        raise TypeError(f"strategy {name!r} takes {strategy.settings_model.__name__}, not {type(settings).__name__}")
    return strategy(settings if settings is not None else strategy.settings_model())
