"""Flags several commands share, spelled as kubectl spells them (krew's plugin guide)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from kcost.cli.kubectl_cost import outputs

F = TypeVar("F", bound=Callable[..., Any])


def output_option(function: F) -> F:
    """``-o``/``--output``: one of the registered formats."""
    choice = click.Choice(list(outputs.FORMATTERS))
    return click.option("-o", "--output", type=choice, default="table", show_default=True)(function)


def namespace_options(function: F) -> F:
    """``-n``/``--namespace`` and ``-A``/``--all-namespaces``."""
    function = click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")(function)
    return namespace_option(function)


def namespace_option(function: F) -> F:
    """``-n``/``--namespace`` alone, for commands about one object."""
    return click.option("-n", "--namespace", default=None, help="Namespace [default: default].")(function)


def chosen_namespace(namespace: str | None, all_namespaces: bool = False) -> str | None:
    """The namespace to read (None: all of them), from ``-n`` and ``-A``."""
    return None if all_namespaces else namespace or "default"
