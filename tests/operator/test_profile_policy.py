"""Profile pricing checks and policy namespace resolution, against a fake API client."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import kopf
import pytest

from kcost.analyzers.cost import checks
from kcost.api.v1alpha1.common import ConditionStatus
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.operator import policy, profile


class FakeKube:
    """Just what the policy and pricing checks call; records status writes."""

    def __init__(self, namespaces: list[str]) -> None:
        self._namespaces = namespaces
        self.applied: list[dict[str, Any]] = []

    async def namespaces(self) -> list[dict[str, Any]]:
        return [{"metadata": {"name": name, "labels": {"team": name}}} for name in self._namespaces]

    async def list(self, kind: type, namespace: str | None = None, **_: Any) -> list[Any]:
        return []  # no other policies, no recommendations

    async def apply(self, kind: type, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.applied.append(body)
        return body


def _profile(pricing: dict[str, Any]) -> ClusterCostProfile:
    return ClusterCostProfile.model_validate(
        {
            "metadata": {"name": "p", "generation": 1},
            "spec": {"provider": "aws", "pricing": pricing, "prometheus": {"url": "http://p"}},
        }
    )


async def test_pricing_checks(tmp_path: Path) -> None:
    kube: Any = FakeKube([])
    good = tmp_path / "prices.csv.gz"
    with gzip.open(good, "wt") as handle:
        handle.write("provider,region,instance_type,capacity_type,usd_per_hour,as_of\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("provider,price\n")
    cases: list[tuple[dict[str, Any], ConditionStatus, str]] = [
        (
            {"source": "custom", "customRates": {"cpuCoreHour": 0.03}},
            ConditionStatus.FALSE,
            "cpuCoreHour and memoryGiBHour",
        ),
        (
            {"source": "custom", "customRates": {"cpuCoreHour": 0.03, "memoryGiBHour": 0.004}},
            ConditionStatus.TRUE,
            "customRates",
        ),
        ({"source": "catalog", "catalog": {"path": str(good)}}, ConditionStatus.TRUE, str(good)),
        ({"source": "catalog", "catalog": {"path": str(bad)}}, ConditionStatus.FALSE, "missing columns region"),
        ({"source": "catalog", "catalog": {"path": str(tmp_path / "nope.csv")}}, ConditionStatus.FALSE, "No such file"),
        ({"source": "api"}, ConditionStatus.UNKNOWN, "checked by the cost analyzer"),
    ]
    for pricing, status, fragment in cases:
        got, _, message = await checks.check_pricing(kube, _profile(pricing))
        assert got is status, pricing
        assert fragment in message, (pricing, message)


async def test_unreachable_prometheus_is_a_clear_condition() -> None:
    kube: Any = FakeKube([])
    ok, reason, message = await profile.check_metrics(
        kube,
        _profile({"source": "api"}).model_copy(
            update={
                "spec": _profile({"source": "api"}).spec.model_copy(
                    update={
                        "prometheus": _profile({"source": "api"}).spec.prometheus.model_copy(
                            update={"url": "http://127.0.0.1:1"}
                        )
                    }
                )
            }
        ),
        timeout_s=2,
    )
    assert (ok, reason) == (False, "PrometheusUnreachable")
    assert message.startswith("spec.prometheus.url: http://127.0.0.1:1/api/v1/query")


@pytest.mark.parametrize(("selector", "expected"), [(None, ["a", "b"]), ({"matchLabels": {"team": "b"}}, ["b"])])
async def test_policy_reports_matched_namespaces(selector: dict[str, str] | None, expected: list[str]) -> None:
    kube: Any = FakeKube(["a", "b", "kube-system"])
    body = {
        "metadata": {"name": "pol", "generation": 2, "resourceVersion": "1"},
        "spec": {"namespaceSelector": selector},
    }
    updated = await policy.reconcile(kube, body)
    assert updated.status.matched_namespaces == expected
    assert kube.applied[0]["status"]["matchedNamespaces"] == expected
    assert kube.applied[0]["metadata"]["resourceVersion"] == "1"
    again = await policy.reconcile(kube, {**body, "status": kube.applied[0]["status"]})
    assert again.status.matched_namespaces == expected
    assert len(kube.applied) == 1, "nothing changed, nothing written"


async def test_invalid_policy_is_a_permanent_error_naming_the_field() -> None:
    kube: Any = FakeKube([])
    with pytest.raises(kopf.PermanentError, match=r"OptimizationPolicy pol: spec\.mode"):
        await policy.reconcile(kube, {"metadata": {"name": "pol"}, "spec": {"mode": "yolo"}})


def _condition(condition_type: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "type": condition_type,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


async def test_ready_follows_pricing_without_a_metrics_check() -> None:
    kube: Any = FakeKube([])
    body: dict[str, Any] = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "ClusterCostProfile",
        "metadata": {"name": "p", "generation": 1, "resourceVersion": "5"},
        "spec": {"provider": "aws", "pricing": {"source": "api"}, "prometheus": {"url": "http://127.0.0.1:1"}},
        "status": {
            "conditions": [
                _condition("MetricsReady", "True", "MetricsFound"),
                _condition(
                    "Ready", "False", "PricingNotReady", "nodes not priced yet: is the kcost cost analyzer running?"
                ),
                _condition("PricingReady", "True", "Priced", "every node priced"),
            ]
        },
    }
    updated = await profile.follow_pricing(kube, body)  # Prometheus at 127.0.0.1:1 is never asked
    assert updated is not None
    ready = next(c for c in kube.applied[0]["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Ready")
    assert {c["type"] for c in kube.applied[0]["status"]["conditions"]} == {"MetricsReady", "Ready"}, (
        "PricingReady is not ours"
    )
    assert kube.applied[0]["metadata"]["resourceVersion"] == "5"
    await profile.follow_pricing(
        kube,
        {**body, "status": {"conditions": kube.applied[0]["status"]["conditions"] + [body["status"]["conditions"][2]]}},
    )
    assert len(kube.applied) == 1, "nothing changed, nothing written"
    unchecked = {**body, "status": {"conditions": [body["status"]["conditions"][2]]}}
    assert await profile.follow_pricing(kube, unchecked) is None, "Ready waits for the first metrics check"
    changed = {**body, "metadata": {**body["metadata"], "generation": 2}}
    assert await profile.follow_pricing(kube, changed) is None, "a new spec waits for its own metrics check"
