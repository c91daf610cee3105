from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kcost.api import crds
from kcost.api.v1alpha1 import KINDS
from kcost.api.v1alpha1.common import Resource
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.cli import manifests

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["crds", "helm/kcost/crds"])
def test_committed_crds_are_what_the_models_generate(folder: str) -> None:
    rendered = manifests.render()
    committed = {path.name: path.read_text() for path in (ROOT / folder).glob("*.yaml")}
    assert committed.keys() == rendered.keys(), "run `make manifests`"
    for name, text in rendered.items():
        assert committed[name] == text, f"{folder}/{name} is stale: run `make manifests`"


def test_check_mode_fails_on_a_stale_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(manifests.manifests, ["--out", str(tmp_path), "--check"])
    assert result.exit_code == 1
    assert "out of date" in result.output
    assert runner.invoke(manifests.manifests, ["--out", str(tmp_path)]).exit_code == 0
    assert runner.invoke(manifests.manifests, ["--out", str(tmp_path), "--check"]).exit_code == 0
    (tmp_path / "stray.yaml").write_text("x")
    assert runner.invoke(manifests.manifests, ["--out", str(tmp_path), "--check"]).exit_code == 1


def _walk(schema: dict, path: str = ""):  # type: ignore[no-untyped-def, type-arg]
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _walk(schema[key], f"{path}[]")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.crd.kind)
def test_schemas_are_structural(kind: type[Resource]) -> None:
    manifest = crds.crd_manifest(kind)
    version = manifest["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert manifest["spec"]["names"]["categories"] == ["kcost"]
    for path, node in _walk(version["schema"]["openAPIV3Schema"]):
        assert not {"$ref", "anyOf", "title"} & node.keys(), path
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path} has no type"
    conditions = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert {"reason", "status", "type", "lastTransitionTime"} <= set(conditions["items"]["required"])


def test_short_names_and_columns() -> None:
    names = {k.crd.kind: k.crd.short_names for k in KINDS}
    assert names == {
        "ClusterCostProfile": ["ccp"],
        "Analysis": ["kca"],
        "OptimizationRecommendation": ["rec"],
        "OptimizationPolicy": ["kpol"],
    }
    rec = crds.crd_manifest(KINDS[2])["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in rec] == [
        "Target",
        "Kind",
        "Type",
        "Savings",
        "Confidence",
        "Risk",
        "Phase",
        "Realized",
        "Age",
    ]


def test_the_analyzers_parts_of_a_recommendation_are_applied_whole() -> None:
    """Server-side apply tracks each as one field; approval, which users and the webhook write, stays leaf by leaf."""
    version = crds.crd_manifest(OptimizationRecommendation)["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    whole = {name for name, node in spec["properties"].items() if node.get("x-kubernetes-map-type") == "atomic"}
    assert whole == {"targetRef", "changes", "current", "evidence", "analysisRef"}
    assert "x-kubernetes-map-type" not in spec
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert not [path for path, node in _walk(status) if node.get("x-kubernetes-map-type") == "atomic"]
