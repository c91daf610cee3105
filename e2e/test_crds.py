"""The generated CRDs on the real API server: samples apply, invalid manifests are refused by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import REPO_ROOT
from kcost.devcluster.cluster import DevCluster

SAMPLES = REPO_ROOT / "config" / "samples"

INVALID = {
    "wrong enum": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: ClusterCostProfile\nmetadata: {name: bad-enum}\n"
        "spec: {provider: ibm, prometheus: {url: 'http://p:9090'}}\n",
        ['spec.provider: Unsupported value: "ibm"'],
    ),
    "negative savings and confidence over 1": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: OptimizationRecommendation\n"
        "metadata: {name: bad-numbers, namespace: shop}\n"
        "spec: {targetRef: {apiVersion: apps/v1, kind: Deployment, name: x}, type: right-sizing,"
        " changes: {}, current: {},"
        " estimatedMonthlySavings: -5, confidence: 1.5, riskLevel: low, evidence: {method: m}}\n",
        ["spec.estimatedMonthlySavings", "greater than or equal to 0", "spec.confidence", "less than or equal to 1"],
    ),
    "canary steps not ending at 100": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: OptimizationPolicy\nmetadata: {name: bad-steps}\n"
        "spec: {rolloutStrategy: {steps: [{replicas: 20%}, {replicas: 50%}]}}\n",
        ["spec.rolloutStrategy.steps", "canary steps must increase and end at 100%"],
    ),
    "canary steps going down": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: OptimizationPolicy\nmetadata: {name: bad-order}\n"
        "spec: {rolloutStrategy: {steps: [{replicas: 50%}, {replicas: 20%}, {replicas: 100%}]}}\n",
        ["spec.rolloutStrategy.steps", "must increase"],
    ),
    "unknown field": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: Analysis\nmetadata: {name: bad-field}\n"
        "spec: {profileRef: {name: default}, windowz: 14d}\n",
        ['unknown field "spec.windowz"'],
    ),
    "onprem with a price API": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: ClusterCostProfile\nmetadata: {name: bad-onprem}\n"
        "spec: {provider: onprem, pricing: {source: api}, prometheus: {url: 'http://p:9090'}}\n",
        ["spec.pricing.source", "onprem cluster has no price API"],
    ),
    "bad duration": (
        "apiVersion: optimizer.kcost.dev/v1alpha1\nkind: Analysis\nmetadata: {name: bad-window}\n"
        "spec: {profileRef: {name: default}, window: two-weeks}\n",
        ["spec.window", "should match"],
    ),
}


@pytest.fixture(scope="module")
def samples_namespace(kubectl: Any, kcost_crds: DevCluster) -> str:
    # The sample recommendation lives in the namespace of its workload, "shop".
    kubectl("create", "namespace", "shop")
    return "shop"


def test_every_sample_applies_with_server_dry_run_and_for_real(kubectl: Any, samples_namespace: str) -> None:
    for sample in sorted(SAMPLES.glob("*.yaml")):
        args = ["-f", str(sample)]
        dry = kubectl("apply", "--dry-run=server", *args)
        assert dry.returncode == 0, f"{sample.name}: {dry.stderr}"
        real = kubectl("apply", *args)
        assert real.returncode == 0, f"{sample.name}: {real.stderr}"


def test_get_kcost_lists_every_kind_with_printer_columns(kubectl: Any, samples_namespace: str) -> None:
    test_every_sample_applies_with_server_dry_run_and_for_real(kubectl, samples_namespace)
    listing = kubectl("get", "kcost", "-A")
    assert listing.returncode == 0, listing.stderr
    for header in (
        "PROVIDER",
        "REGION",
        "PRICING",
        "MONTHLY",
        "WINDOW",
        "RECS",
        "SAVINGS",
        "TARGET",
        "TYPE",
        "CONFIDENCE",
        "RISK",
        "MODE",
        "ROLLOUT",
    ):
        assert header in listing.stdout, header
    assert "deployment-checkout-right-sizing" in listing.stdout
    rec = kubectl("get", "rec", "-n", samples_namespace, "deployment-checkout-right-sizing", "--no-headers")
    assert rec.stdout.split()[:6] == [
        "deployment-checkout-right-sizing",
        "checkout",
        "right-sizing",
        "21.84",
        "0.86",
        "low",
    ]
    for short in ("ccp", "kca", "rec", "kpol"):
        assert kubectl("get", short, "-A").returncode == 0, short


@pytest.mark.parametrize("case", list(INVALID), ids=list(INVALID))
def test_invalid_manifests_are_rejected_naming_the_field(kubectl: Any, samples_namespace: str, case: str) -> None:
    manifest, expected = INVALID[case]
    result = kubectl("apply", "-f", "-", input_text=manifest)
    assert result.returncode != 0, f"{case}: accepted"
    for fragment in expected:
        assert fragment in result.stderr, f"{case}: {fragment!r} not in {result.stderr!r}"


def test_status_is_a_subresource(kubectl: Any, samples_namespace: str, tmp_path: Path) -> None:
    test_every_sample_applies_with_server_dry_run_and_for_real(kubectl, samples_namespace)
    patch = json.dumps({"status": {"phase": "Running"}})
    kubectl("patch", "kca", "nightly-production", "--type=merge", "-p", patch)
    got = json.loads(kubectl("get", "kca", "nightly-production", "-o", "json").stdout)
    assert got.get("status", {}).get("phase") != "Running", "status must not change through the main resource"


@pytest.fixture(scope="module", autouse=True)
def _remove_samples(kubectl: Any, kcost_crds: DevCluster) -> Any:
    yield
    # No operator runs here, so nothing holds a finalizer; later modules start clean.
    kubectl("delete", "-f", str(SAMPLES), "--ignore-not-found", "--wait=false")
