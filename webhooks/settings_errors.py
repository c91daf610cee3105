"""An analyzer's settings checked against its own model, each problem naming the field and what is allowed.

pydantic says *what* is wrong ("Input should be less than or equal to 100"); the user also
needs to know what would be right, so the field's bounds, or the keys allowed where an
unknown one was given, are read from the model's JSON schema and added.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from kcost.webhooks.admission import field_path

Schema = dict[str, Any]


def problems(model: type[BaseModel], settings: Any, prefix: str) -> list[str]:
    """Every problem of ``settings`` as ``<prefix>.<field>: <what is wrong> (<what is allowed>)``."""
    try:
        model.model_validate(settings)
    except ValidationError as error:
        root = model.model_json_schema(by_alias=True)
        return [_describe(root, problem, prefix) for problem in error.errors()]
    return []


def _describe(root: Schema, problem: Any, prefix: str) -> str:
    loc = tuple(problem["loc"])
    if problem["type"] == "extra_forbidden":
        path, parent = _locate(root, loc[:-1])
        allowed = ", ".join(sorted(parent.get("properties", {}))) or "none"
        return f"{field_path([*path, loc[-1]], prefix)}: unknown setting (allowed here: {allowed})"
    path, schema = _locate(root, loc)
    where = field_path(path, prefix)
    hint = _bounds(schema)
    return f"{where}: {problem['msg']}" + (f" (allowed: {hint})" if hint else "")


def _resolve(schema: Schema, defs: dict[str, Schema]) -> Schema:
    while "$ref" in schema:
        schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _options(schema: Schema, defs: dict[str, Schema]) -> list[Schema]:
    schema = _resolve(schema, defs)
    choices = schema.get("oneOf") or schema.get("anyOf")
    return [_resolve(choice, defs) for choice in choices] if choices else [schema]


def _locate(root: Schema, loc: tuple[Any, ...]) -> tuple[list[str | int], Schema]:
    """The displayed path (union tags left out) and the schema of the field at ``loc``."""
    defs = root.get("$defs", {})
    current = _options(root, defs)
    path: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            items = [option["items"] for option in current if isinstance(option.get("items"), dict)]
            if items:
                current = [o for item in items for o in _options(item, defs)]
            path.append(part)
            continue
        found = [option["properties"][part] for option in current if part in option.get("properties", {})]
        if found:
            current = [o for schema in found for o in _options(schema, defs)]
            path.append(part)
        else:
            # A discriminated union's tag (``kcost`` of ``strategy: kcost``): pick that option, show nothing.
            tagged = [o for o in current if any(_is_tag(p, part) for p in o.get("properties", {}).values())]
            current = tagged or current
    return path, current[0] if current else {}


def _is_tag(schema: Schema, value: str) -> bool:
    return bool(schema.get("const") == value or schema.get("enum") == [value])


def _bounds(schema: Schema) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low_sign = "<" if "exclusiveMinimum" in schema else "≤"
    high_sign = "<" if "exclusiveMaximum" in schema else "≤"
    if low is not None and high is not None:
        return f"{low} {low_sign} value {high_sign} {high}"
    if low is not None:
        return f"value {'>' if low_sign == '<' else '≥'} {low}"
    if high is not None:
        return f"value {high_sign} {high}"
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    return ""
