"""``python -m kcost.cli.chart_docs``: helm/kcost/README.md and the schema's descriptions, from values.yaml.

values.yaml is the one source of what each value means: a ``# -- text`` comment above a key
documents it (and everything under it). This writes that text into values.schema.json (which
holds the types and bounds) and renders the README's table of values; ``--check`` only says
whether both are up to date (`make chart-docs` writes, a test checks).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "kcost"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9_]*):")
_DOC = re.compile(r"^ *# -- (?P<text>.*)$")
_MORE = re.compile(r"^ *# (?P<text>.*)$")
# Helm's own value for subcharts, allowed by the schema but never set by this chart.
_HELM_RESERVED = {("global",)}


class UndocumentedValueError(ValueError):
    """A value in values.yaml has no ``# --`` comment, or no entry in values.schema.json."""


@dataclass(frozen=True)
class Value:
    """One documented value: its dotted path, default and description."""

    path: tuple[str, ...]
    default: Any
    description: str

    @property
    def key(self) -> str:
        return ".".join(self.path)


def documented_values(values_text: str) -> list[Value]:
    """Every value documented by a ``# --`` comment, in file order; raises for an undocumented leaf."""
    defaults = yaml.safe_load(values_text)
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    documented: list[Value] = []
    for line in values_text.splitlines():
        if doc := _DOC.match(line):
            pending = [doc["text"].strip()]
            continue
        if pending and (more := _MORE.match(line)):
            pending.append(more["text"].strip())
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        indent = len(key["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(name for _, name in stack), key["key"])
        stack.append((indent, key["key"]))
        inside_documented = any(value.path == path[: len(value.path)] for value in documented)
        if pending:
            documented.append(Value(path, _at(defaults, path), " ".join(pending)))
        elif not inside_documented and not isinstance(_at(defaults, path), dict):
            raise UndocumentedValueError(f"helm/kcost/values.yaml: {'.'.join(path)} has no `# --` comment above it")
        pending = []
    return documented


def _at(tree: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        tree = tree[name]
    return tree


def _schema_property(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = schema
    for name in path:
        properties = node.get("properties", {})
        if name not in properties:
            raise UndocumentedValueError(f"helm/kcost/values.schema.json has no property {'.'.join(path)}")
        node = properties[name]
    return node


def _schema_leaves(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    leaves: list[tuple[str, ...]] = []
    for name, node in schema.get("properties", {}).items():
        path = (*prefix, name)
        leaves.extend(_schema_leaves(node, path) if "properties" in node else [path])
    return leaves


def _without_descriptions(node: dict[str, Any]) -> None:
    for child in node.get("properties", {}).values():
        child.pop("description", None)
        _without_descriptions(child)


def described_schema(schema: dict[str, Any], values: list[Value]) -> dict[str, Any]:
    """The schema with each documented value's description; raises for a schema value values.yaml lacks."""
    schema = json.loads(json.dumps(schema))
    _without_descriptions(schema)
    for value in values:
        _schema_property(schema, value.path)["description"] = value.description
    documented = {value.path for value in values} | _HELM_RESERVED
    for leaf in _schema_leaves(schema):
        if not any(leaf[:length] in documented for length in range(1, len(leaf) + 1)):
            raise UndocumentedValueError(f"helm/kcost/values.schema.json: {'.'.join(leaf)} is not in values.yaml")
    return schema


def readme(values: list[Value], schema: dict[str, Any]) -> str:
    """The chart's README: what it installs, then one row per value."""
    rows = []
    for value in values:
        kind = _schema_property(schema, value.path).get("type", "object")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        default = json.dumps(value.default, separators=(", ", ": "))
        rows.append(f"| `{value.key}` | {kind} | `{default}` | {value.description} |")
    header = (CHART / "README.header.md").read_text()
    table = ["| value | type | default | description |", "|---|---|---|---|", *rows]
    footer = "\n\n<!-- generated by `make chart-docs` from values.yaml: do not edit by hand -->\n"
    return header.rstrip() + "\n\n" + "\n".join(table) + footer


def render(chart: Path = CHART) -> dict[Path, str]:
    """File → the text it should have."""
    values = documented_values((chart / "values.yaml").read_text())
    schema = described_schema(json.loads((chart / "values.schema.json").read_text()), values)
    return {
        chart / "values.schema.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
        chart / "README.md": readme(values, schema),
    }


@click.command()
@click.option("--check", is_flag=True, help="Only say whether the files are up to date (exit 1 if not).")
def main(check: bool) -> None:
    """Write (or check) helm/kcost/README.md and values.schema.json's descriptions from values.yaml."""
    try:
        wanted = render()
    except UndocumentedValueError as error:
        raise click.ClickException(str(error)) from None
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if check:
        for path in stale:
            click.echo(f"{path} is stale: run `make chart-docs`", err=True)
        sys.exit(1 if stale else 0)
    for path in stale:
        path.write_text(wanted[path])
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
