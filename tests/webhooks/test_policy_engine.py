"""The policy engine: matching and specificity, maintenance windows, constraints, auto-approval."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kcost.api import matching
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.webhooks.policy import approval, changes, windows

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def policy(name: str, **spec: Any) -> OptimizationPolicy:
    return OptimizationPolicy.model_validate({"metadata": {"name": name}, "spec": spec})


def rec(
    *, cpu: str = "500m", memory: str = "512Mi", to_cpu: str = "250m", to_memory: str = "384Mi", **spec: Any
) -> OptimizationRecommendation:
    def shape(c: str, m: str) -> dict[str, Any]:
        return {"containers": [{"name": "app", "requests": {"cpu": c, "memory": m}, "limits": {"memory": m}}]}

    body = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "type": "right-sizing",
        "changes": shape(to_cpu, to_memory),
        "current": shape(cpu, memory),
        "estimatedMonthlySavings": 10.0,
        "confidence": 0.95,
        "riskLevel": "low",
        "evidence": {"method": "kcost"},
        **spec,
    }
    return OptimizationRecommendation.model_validate({"metadata": {"name": "r", "namespace": "shop"}, "spec": body})


WEB = matching.Workload(
    kind="Deployment", namespace="shop", name="web", labels={"app": "web"}, namespace_labels={"team": "a"}
)


def test_the_most_specific_policy_governs() -> None:
    everywhere = policy("everywhere")
    by_team = policy("by-team", namespaceSelector={"matchLabels": {"team": "a"}})
    by_name = policy("by-name", namespaces=["shop"])
    by_app = policy("by-app", namespaces=["shop"], workloadSelector={"matchLabels": {"app": "web"}})
    assert matching.governing([everywhere, by_team], WEB).policy == by_team
    assert matching.governing([everywhere, by_team, by_name], WEB).policy == by_name
    assert matching.governing([by_app, everywhere, by_team, by_name], WEB).policy == by_app


def test_equally_specific_policies_conflict_and_neither_governs() -> None:
    first = policy("first", namespaces=["shop"])
    second = policy("second", namespaces=["shop", "data"])
    result = matching.governing([second, first], WEB)
    assert result.policy is None
    assert result.conflict
    assert "first, second" in result.describe_conflict()


def test_a_policy_that_does_not_cover_the_workload_is_ignored() -> None:
    elsewhere = policy("elsewhere", namespaces=["data"])
    other_app = policy("other", workloadSelector={"matchLabels": {"app": "api"}})
    assert matching.governing([elsewhere, other_app], WEB) == matching.Governing()
    system = matching.Workload(kind="Deployment", namespace="kube-system", name="dns")
    assert not matching.covers(policy("all"), system)


def window(schedule: str, duration: str, zone: str = "UTC") -> Any:
    return policy("w", maintenanceWindows=[{"schedule": schedule, "duration": duration, "timeZone": zone}])


def test_maintenance_windows_in_their_time_zone() -> None:
    nightly_berlin = window("0 2 * * *", "2h", "Europe/Berlin").spec.maintenance_windows
    # 02:30 in Berlin (UTC+1 in December) is 01:30 UTC.
    assert windows.is_open(nightly_berlin, datetime.datetime(2026, 12, 1, 1, 30, tzinfo=datetime.UTC))
    assert not windows.is_open(nightly_berlin, NOW)
    assert windows.next_opening(nightly_berlin, NOW) == datetime.datetime(2026, 12, 2, 1, 0, tzinfo=datetime.UTC)
    assert windows.is_open([], NOW)
    assert windows.next_opening([], NOW) is None


def test_a_window_opening_exactly_now_is_open() -> None:
    noon = window("0 12 * * *", "30m").spec.maintenance_windows
    assert windows.is_open(noon, NOW)
    assert not windows.is_open(noon, NOW + datetime.timedelta(minutes=30))


def test_an_unknown_time_zone_is_named() -> None:
    mars = window("0 2 * * *", "1h", "Mars/Olympus").spec.maintenance_windows
    with pytest.raises(ValueError, match="Mars/Olympus"):
        windows.is_open(mars, NOW)


def test_change_percent_is_the_largest_request_change() -> None:
    proposal = rec(cpu="1", to_cpu="250m", memory="1Gi", to_memory="768Mi")
    assert changes.change_percent(proposal.spec.current, proposal.spec.changes) == pytest.approx(75)


def test_constraints_raise_floors_and_cap_one_cut() -> None:
    proposal = rec(cpu="1", to_cpu="100m", memory="1Gi", to_memory="128Mi")
    rules = policy("p", constraints={"minCpu": "200m", "maxReductionPercent": 50}).spec.constraints
    shaped, notes = changes.constrained(proposal.spec.current, proposal.spec.changes, rules)
    requests = shaped.containers[0].requests
    assert requests is not None
    assert requests.cpu == "500m"  # the 50% cap (500m) is above the 200m floor
    assert requests.memory == "512Mi"
    assert shaped.containers[0].limits is not None
    assert shaped.containers[0].limits.memory == "512Mi"  # a limit follows its raised request
    assert len(notes) == 2
    assert all("maxReductionPercent" in note for note in notes)


def test_a_change_within_constraints_is_kept_as_proposed() -> None:
    proposal = rec()
    shaped, notes = changes.constrained(proposal.spec.current, proposal.spec.changes, policy("p").spec.constraints)
    assert shaped == proposal.spec.changes
    assert notes == []


AUTO = {"mode": "auto-apply", "autoApprove": {"minConfidence": 0.9, "maxRiskLevel": "low", "maxChangePercent": 60}}


def test_auto_approval_allows_what_every_rule_allows() -> None:
    verdict = approval.auto_approval(policy("auto", **AUTO), rec(), NOW)
    assert verdict.allowed, verdict.message()


@pytest.mark.parametrize(
    ("proposal", "spec", "expected"),
    [
        (rec(confidence=0.5), AUTO, "confidence 0.50 is below minConfidence 0.90"),
        (rec(riskLevel="high"), AUTO, "risk high is above maxRiskLevel low"),
        (rec(type="idle-workload"), AUTO, "type idle-workload is not among the allowed types"),
        (rec(to_cpu="100m"), AUTO, "the change is 80%, above maxChangePercent 60%"),
        (rec(), {**AUTO, "mode": "recommend"}, "mode is recommend, not auto-apply"),
        (rec(), {"mode": "auto-apply"}, "no autoApprove rules"),
        (
            rec(),
            {
                **AUTO,
                "constraints": {"excludedWorkloads": [{"kind": "Deployment", "name": "web", "namespace": "shop"}]},
            },
            "Deployment shop/web is excluded",
        ),
        (
            rec(),
            {**AUTO, "maintenanceWindows": [{"schedule": "0 2 * * *", "duration": "1h"}]},
            "outside its maintenance windows (next opens 2026-12-02T02:00:00Z)",
        ),
    ],
)
def test_auto_approval_refuses_with_the_rule_named(
    proposal: OptimizationRecommendation, spec: dict[str, Any], expected: str
) -> None:
    verdict = approval.auto_approval(policy("auto", **spec), proposal, NOW)
    assert not verdict.allowed
    assert expected in verdict.message()
    assert verdict.message().startswith("policy auto: ")


def test_cooldown_holds_a_recently_changed_workload_until_it_ends() -> None:
    changed = NOW - datetime.timedelta(hours=2)
    verdict = approval.auto_approval(policy("auto", **AUTO, cooldown="6h"), rec(), NOW, last_change_at=changed)
    assert "cooldown until 2026-12-01T16:00:00Z" in verdict.message()
    assert verdict.retry_at == changed + datetime.timedelta(hours=6)
    later = approval.auto_approval(
        policy("auto", **AUTO, cooldown="6h"), rec(), NOW + datetime.timedelta(hours=5), last_change_at=changed
    )
    assert later.allowed


def test_approval_rules_bind_a_person_too() -> None:
    strict = policy("strict", constraints={"minMemory": "512Mi"})
    reasons = approval.approval_rules(strict, rec())
    assert reasons == ["below constraints: app memory request 384Mi → 512Mi (floor)"]


def test_auto_approval_holds_a_workload_whose_usage_is_anomalous_now() -> None:
    anomaly = {"method": "robust-z", "anomalousHours": 3, "firstAt": "2026-12-01T09:00:00Z", "ongoing": True}
    held = approval.auto_approval(policy("auto", **AUTO), rec(evidence={"method": "kcost", "anomaly": anomaly}), NOW)
    assert not held.allowed
    assert "its usage is anomalous since 2026-12-01T09:00:00Z (3 hours flagged by robust-z)" in held.message()
    past = {**anomaly, "ongoing": False}
    assert approval.auto_approval(
        policy("auto", **AUTO), rec(evidence={"method": "kcost", "anomaly": past}), NOW
    ).allowed
