"""An analyzer's settings as text: name, type, bounds, default and description of each.

Rendered from the settings model's JSON schema, so what ``kcost analyzer NAME --help``
shows is exactly what ``spec.analyzers[].settings`` is validated against. A tagged union
(settings that depend on a choice, like the rightsizing strategy) is shown one variant
after the other, each headed by the value that selects it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]
_BOUNDS = (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"))


def describe(model: type[BaseModel]) -> str:
    """Every setting of ``model``, one per line, nested settings indented under their parent."""
    schema = model.model_json_schema(by_alias=True)
    lines: list[str] = []
    _object(schema, schema.get("$defs", {}), lines, indent="")
    return "\n".join(lines)


def _resolve(node: Schema, defs: Schema) -> Schema:
    while "$ref" in node:
        rest = {key: value for key, value in node.items() if key != "$ref"}
        node = {**defs[node["$ref"].rsplit("/", 1)[-1]], **rest}
    return node


def _object(node: Schema, defs: Schema, lines: list[str], indent: str) -> None:
    node = _resolve(node, defs)
    variants = node.get("oneOf") or node.get("anyOf")
    if variants and "properties" not in node:
        for variant in variants:
            resolved = _resolve(variant, defs)
            chosen = [f"{name}: {prop['const']}" for name, prop in resolved["properties"].items() if "const" in prop]
            lines.append(f"{indent}with {', '.join(chosen)} — {resolved.get('description', '')}".rstrip(" —"))
            _object(resolved, defs, lines, indent + "  ")
        return
    required = set(node.get("required", []))
    for name, given in node.get("properties", {}).items():
        prop = _resolve(given, defs)
        if "const" in prop:
            continue  # the variant's heading already says it
        lines.append(f"{indent}{name}  {_line(prop, required=name in required)}")
        if prop.get("type") == "object" and "properties" in prop:
            _object(prop, defs, lines, indent + "  ")


def _line(prop: Schema, *, required: bool) -> str:
    parts = [_type(prop)]
    parts += [
        f"{sign} {prop[key]:,g}" if prop[key] < 1e5 else f"{sign} {prop[key]:,}" for key, sign in _BOUNDS if key in prop
    ]
    if required:
        parts.append("required")
    elif "default" in prop:
        parts.append(f"default {prop['default']!r}")
    text = ", ".join(parts)
    return f"{text} — {prop['description']}" if prop.get("description") else text


def _type(prop: Schema) -> str:
    if "enum" in prop:
        return " | ".join(str(value) for value in prop["enum"])
    if "anyOf" in prop:
        return " | ".join(_type(option) for option in prop["anyOf"])
    if prop.get("type") == "object":
        return "object" if "properties" in prop else "map"
    if prop.get("type") == "array":
        return f"list of {_type(prop.get('items', {}))}"
    return str(prop.get("type", "any"))
