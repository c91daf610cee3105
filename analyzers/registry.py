"""Where analyzers come from: the built-in ones, the ``kcost.analyzers`` entry points, or ``module:Class``."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from kcost.analyzers import settings_doc
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


def _reference(name: str) -> str:
    known = available()
    if name not in known:
        listing = ", ".join(sorted(known)) or "none installed"
        raise UnknownAnalyzerError(f"no analyzer named {name!r} (known: {listing}); or give --plugin module:Class")
    return known[name]


def load(name: str) -> Analyzer[Any]:
    """The installed analyzer ``name``, ready to serve."""
    return load_plugin(_reference(name))


def settings_model(name: str) -> type[BaseModel]:
    """The model ``spec.analyzers[name].settings`` is validated against (e.g. by an admission webhook)."""
    module_name, _, attribute = _reference(name).partition(":")
    analyzer_class = getattr(importlib.import_module(module_name), attribute)
    if not (isinstance(analyzer_class, type) and issubclass(analyzer_class, Analyzer)):
        raise UnknownAnalyzerError(f"analyzer {name!r} ({module_name}:{attribute}) is not a kcost Analyzer class")
    return analyzer_class.settings_model


def describe_settings(model: type[BaseModel]) -> str:
    """The settings of ``model`` as help text (see ``settings_doc``)."""
    return settings_doc.describe(model)
