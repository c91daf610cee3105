"""The ``-o`` formats, each a formatter in a small registry.

A command hands its objects and a ``Table`` (the columns a person reads) to ``emit``;
``table`` and ``wide`` print those columns (``wide`` adds the extra ones), ``json`` and
``yaml`` print the objects themselves as a Kubernetes ``List``, so they read back
into the API types.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import click

Item = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """One column: its header and how a cell is written; numbers align right on a terminal."""

    header: str
    cell: Callable[[Item], str]
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    columns: Sequence[Column] = ()
    wide: Sequence[Column] = field(default=())


Formatter = Callable[[Sequence[Item], Table], None]
FORMATTERS: dict[str, Formatter] = {}


def formatter(name: str) -> Callable[[Formatter], Formatter]:
    """Register the decorated function as the ``-o name`` format."""

    def register(function: Formatter) -> Formatter:
        FORMATTERS[name] = function
        return function

    return register


def emit(items: Sequence[Item], output: str, table: Table = Table()) -> None:
    """Print ``items`` in the ``output`` format."""
    FORMATTERS[output](items, table)


def is_machine_readable(output: str) -> bool:
    """True for the formats that print objects rather than columns (no totals or notes after them)."""
    return output in ("json", "yaml")


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool] = ()) -> None:
    """Aligned columns: rich on a terminal (bold headers), plain text like kubectl's when piped."""
    right = [*numeric, *[False] * (len(headers) - len(numeric))]
    if not sys.stdout.isatty():
        # Piped: plain aligned text, fast for thousands of rows and never cut.
        widths = [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)]
        lines = [headers, *rows]
        click.echo(
            "\n".join(
                "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                for line in lines
            )
        )
        return
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(box=None, pad_edge=False, header_style="bold")
    for header, align_right in zip(headers, right, strict=True):
        table.add_column(header, justify="right" if align_right else "left")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False).print(table)


def _columns(items: Sequence[Item], columns: Sequence[Column]) -> None:
    rows = [[column.cell(item) for column in columns] for item in items]
    print_rows([c.header for c in columns], rows, [c.numeric for c in columns])


@formatter("table")
def _table(items: Sequence[Item], table: Table) -> None:
    _columns(items, table.columns)


@formatter("wide")
def _wide(items: Sequence[Item], table: Table) -> None:
    _columns(items, [*table.columns, *table.wide])


def _as_list(items: Sequence[Item]) -> Item:
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


@formatter("json")
def _json(items: Sequence[Item], _: Table) -> None:
    import json

    click.echo(json.dumps(_as_list(items), indent=2))


@formatter("yaml")
def _yaml(items: Sequence[Item], _: Table) -> None:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: much faster
    click.echo(yaml.dump(_as_list(items), Dumper=dumper, sort_keys=False), nl=False)
