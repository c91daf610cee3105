"""Where analyzers come from: the built-in ones, the ``kcost.analyzers`` entry points, or ``module:Class``."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from kcost.analyzers.contract import Analyzer

ENTRY_POINT_GROUP = "kcost.analyzers"


class UnknownAnalyzerError(LookupError):
    """No analyzer of that name; the message lists the known ones."""


def load_plugin(reference: str) -> Analyzer[Any]:
    """``package.module:ClassName`` → an instance."""
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise UnknownAnalyzerError(f"--plugin {reference!r}: expected module:Class")
    factory = getattr(importlib.import_module(module_name), attribute)
    analyzer = factory()
    if not isinstance(analyzer, Analyzer):
        raise UnknownAnalyzerError(f"--plugin {reference!r} is not a kcost Analyzer")
    return analyzer


def available() -> dict[str, str]:
    """Analyzer name → ``module:Class`` for everything installed."""
    return {entry.name: entry.value for entry in entry_points(group=ENTRY_POINT_GROUP)}


def load(name: str) -> Analyzer[Any]:
    known = available()
    if name not in known:
        listing = ", ".join(sorted(known)) or "none installed"
        raise UnknownAnalyzerError(f"no analyzer named {name!r} (known: {listing}); or give --plugin module:Class")
    return load_plugin(known[name])
