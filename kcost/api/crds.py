"""CRD manifests generated from the pydantic models: the single schema source.

pydantic's JSON Schema is turned into a *structural* OpenAPI v3 schema as the API
server wants it: references inlined, ``anyOf [X, null]`` made ``nullable``, JSON Schema
2020 numbers turned into OpenAPI 3.0 ones, and titles and examples dropped. CEL rules,
printer columns and short names come from the models (``x-kubernetes-*`` keys and each
kind's ``crd`` info).
"""

from __future__ import annotations

from typing import Any

from kcost.api.v1alpha1 import KINDS, VERSION
from kcost.api.v1alpha1.common import GROUP, Resource

Schema = dict[str, Any]
DROPPED_KEYS = frozenset({"title", "examples", "$defs", "discriminator"})


def _structural(schema: Schema, defs: dict[str, Schema]) -> Schema:
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return _structural(merged, defs)
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        if len(options) == 1:
            merged = {**_structural(options[0], defs), **_structural(rest, defs), "nullable": True}
            if merged.get("default", 0) is None:
                del merged["default"]
            return merged
    result: Schema = {}
    for key, value in schema.items():
        if key not in DROPPED_KEYS:
            result.update(_convert(key, value, defs))
    if result.get("x-kubernetes-preserve-unknown-fields"):
        result.setdefault("type", "object")
        result.pop("additionalProperties", None)
    if result.get("type") == "object" and result.get("additionalProperties") == {
        "x-kubernetes-preserve-unknown-fields": True
    }:
        # dict[str, Any]: any JSON values below, kept as they are.
        del result["additionalProperties"]
        result["x-kubernetes-preserve-unknown-fields"] = True
    return result


def _convert(key: str, value: Any, defs: dict[str, Schema]) -> Schema:
    """One JSON Schema 2020 keyword as OpenAPI 3.0 (the dialect CRDs speak)."""
    if key == "properties":
        return {key: {name: _structural(sub, defs) for name, sub in value.items()}}
    if key in ("items", "additionalProperties") and isinstance(value, dict):
        return {key: _structural(value, defs) if value else {"x-kubernetes-preserve-unknown-fields": True}}
    if key == "exclusiveMinimum":
        return {"minimum": value, "exclusiveMinimum": True}
    if key == "exclusiveMaximum":
        return {"maximum": value, "exclusiveMaximum": True}
    if key == "const":
        return {"enum": [value]}
    return {key: value}


def openapi_schema(kind: type[Resource]) -> Schema:
    """The structural schema of one kind (spec and status; apiVersion, kind, metadata)."""
    raw = kind.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    properties = raw["properties"]
    return {
        "type": "object",
        "description": (kind.__doc__ or kind.crd.kind).strip().splitlines()[0],
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _structural(properties["spec"], defs),
            "status": _structural(properties["status"], defs),
        },
    }


def crd_manifest(kind: type[Resource]) -> dict[str, Any]:
    info = kind.crd
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "kcost"},
        },
        "spec": {
            "group": GROUP,
            "scope": info.scope,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": info.short_names,
                "categories": ["kcost"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema(kind)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": info.printer_columns,
                }
            ],
        },
    }


def kopf_peering_crd() -> dict[str, Any]:
    """kopf's ClusterKopfPeering: where operator replicas see each other (only one acts)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "clusterkopfpeerings.kopf.dev", "labels": {"app.kubernetes.io/part-of": "kcost"}},
        "spec": {
            "group": "kopf.dev",
            "scope": "Cluster",
            "names": {"kind": "ClusterKopfPeering", "plural": "clusterkopfpeerings", "singular": "clusterkopfpeering"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                        }
                    },
                }
            ],
        },
    }


def all_manifests() -> dict[str, dict[str, Any]]:
    """File name → manifest, for ``crds/`` and the chart's ``crds/``."""
    manifests = {f"{GROUP}_{kind.crd.plural}.yaml": crd_manifest(kind) for kind in KINDS}
    manifests["kopf.dev_clusterkopfpeerings.yaml"] = kopf_peering_crd()
    return manifests
