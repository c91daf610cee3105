"""An OptimizationPolicy's status: the workloads it governs and their outcomes, conflicts, its next window."""

from __future__ import annotations

import builtins
import datetime
from typing import Any

from kcost.api.v1alpha1.policy import MaintenanceWindow, OptimizationPolicy, PolicyCounts
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.kube.client import NotFound
from kcost.operator import policy as policy_status

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
NAMESPACES: list[dict[str, Any]] = [
    {"metadata": {"name": "shop", "labels": {"tier": "web"}}},
    {"metadata": {"name": "data", "labels": {"tier": "db"}}},
    {"metadata": {"name": "kube-system"}},
]


def policy(name: str, **spec: Any) -> OptimizationPolicy:
    return OptimizationPolicy.model_validate(
        {"metadata": {"name": name, "generation": 1, "resourceVersion": "7"}, "spec": spec}
    )


def rec(
    target: str,
    namespace: str = "shop",
    phase: str | None = None,
    *,
    approved_by: str | None = None,
    auto_approval: str | None = None,
    kind: str = "Deployment",
) -> OptimizationRecommendation:
    shape = {"containers": [{"name": "app", "requests": {"cpu": "500m"}}]}
    conditions = [
        {
            "type": "AutoApproval",
            "status": auto_approval,
            "reason": "Held",
            "lastTransitionTime": "2026-12-01T00:00:00Z",
        }
    ]
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": f"{target}-{phase}", "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
                "type": "right-sizing",
                "changes": shape,
                "current": shape,
                "estimatedMonthlySavings": 1.0,
                "confidence": 0.9,
                "riskLevel": "low",
                "evidence": {"method": "test"},
                "approval": {"approved": approved_by is not None, "approvedBy": approved_by},
            },
            "status": {"phase": phase, "conditions": conditions if auto_approval else []},
        }
    )


def test_counts_cover_only_the_workloads_it_governs() -> None:
    mine = policy("mine", namespaces=["shop"])
    # More specific for the workloads labelled app=api: those are not mine.
    api_only = policy(
        "api", namespaceSelector={"matchLabels": {"tier": "web"}}, workloadSelector={"matchLabels": {"app": "api"}}
    )
    recommendations = [
        rec("web", phase="Applied", approved_by="policy/mine"),
        rec("web", phase="RolledBack", approved_by="alice"),
        rec("cart", phase="Applying"),
        rec("cart", phase="Approved"),
        rec("search", phase="Failed"),
        rec("queue", phase="Proposed", auto_approval="False"),
        rec("idle", phase="Proposed"),
        rec("api", phase="Applied"),
        rec("db", "data", phase="Applied"),
    ]
    labels = {("Deployment", "shop", "api"): {"app": "api"}}
    found = policy_status.assess(mine, [mine, api_only], NAMESPACES, recommendations, labels)
    assert found.counts == PolicyCounts(pending=2, applied=1, rolled_back=1, failed=1, held=1, auto_approved=1)
    assert found.governed_workloads == 5, "web, cart, search, queue, idle; not api (more specific), not data"
    assert found.rivals == {}
    theirs = policy_status.assess(api_only, [mine, api_only], NAMESPACES, recommendations, labels)
    assert (theirs.governed_workloads, theirs.counts.applied) == (1, 1)


def test_equally_specific_policies_name_each_other_for_a_shared_workload() -> None:
    first, second = policy("first", namespaces=["shop"]), policy("second", namespaces=["shop", "data"])
    recommendations = [rec("web", phase="Applied"), rec("db", "data", phase="Applied")]
    a = policy_status.assess(first, [first, second], NAMESPACES, recommendations, {})
    b = policy_status.assess(second, [first, second], NAMESPACES, recommendations, {})
    assert a.rivals == {"second": "Deployment shop/web"}
    assert b.rivals == {"first": "Deployment shop/web"}
    assert (a.governed_workloads, b.governed_workloads) == (0, 1), "a conflict governs nothing; data is second's alone"
    assert b.counts.applied == 1


def test_without_recommendations_the_same_selection_of_a_namespace_conflicts() -> None:
    by_label = policy("by-label", namespaceSelector={"matchLabels": {"tier": "web"}})
    also_by_label = policy(
        "also-by-label", namespaceSelector={"matchExpressions": [{"key": "tier", "operator": "Exists"}]}
    )
    everywhere = policy("everywhere")
    policies = [by_label, also_by_label, everywhere]
    assert policy_status.assess(by_label, policies, NAMESPACES, [], {}).rivals == {"also-by-label": "namespace shop"}
    assert policy_status.assess(also_by_label, policies, NAMESPACES, [], {}).rivals == {"by-label": "namespace shop"}
    assert policy_status.assess(everywhere, policies, NAMESPACES, [], {}).rivals == {}, "less specific: no conflict"


def test_without_recommendations_workload_selectors_conflict_only_when_equal() -> None:
    web = {"matchLabels": {"app": "web"}}
    a = policy("a", namespaces=["shop"], workloadSelector=web)
    same = policy("same", namespaces=["shop"], workloadSelector=web)
    other = policy("other", namespaces=["shop"], workloadSelector={"matchLabels": {"app": "api"}})
    plain = policy("plain", namespaces=["shop"])
    policies = [a, same, other, plain]
    assert policy_status.assess(a, policies, NAMESPACES, [], {}).rivals == {"same": "namespace shop"}
    assert policy_status.assess(other, policies, NAMESPACES, [], {}).rivals == {}
    assert policy_status.assess(plain, policies, NAMESPACES, [], {}).rivals == {}, "it governs what they do not select"


def test_a_more_specific_policy_settles_a_namespace_without_recommendations() -> None:
    by_label = policy("by-label", namespaceSelector={"matchLabels": {"tier": "web"}})
    also = policy("also", namespaceSelector={"matchLabels": {"tier": "web"}})
    named = policy("named", namespaces=["shop"])
    assert policy_status.assess(by_label, [by_label, also, named], NAMESPACES, [], {}).rivals == {}


def window(schedule: str, duration: str = "1h", zone: str = "UTC") -> MaintenanceWindow:
    return MaintenanceWindow(schedule=schedule, duration=duration, time_zone=zone)


def test_next_window() -> None:
    nothing = policy_status.window_outlook([], NOW)
    assert (nothing.next_window, nothing.problem) == (None, None)
    assert "any time" in nothing.message
    closed = policy_status.window_outlook([window("0 2 * * *", zone="Europe/Berlin"), window("0 20 * * *")], NOW)
    assert closed.next_window == datetime.datetime(2026, 12, 1, 20, 0, tzinfo=datetime.UTC)
    assert closed.message == "changes start in the next maintenance window, at 2026-12-01T20:00:00Z"
    # Open now: the next opening, not "now" (which would change the status on every reconcile).
    open_now = policy_status.window_outlook([window("30 11 * * *")], NOW)
    assert open_now.next_window == datetime.datetime(2026, 12, 2, 11, 30, tzinfo=datetime.UTC)
    assert open_now.message.startswith("a maintenance window is open now")


def test_an_unknown_time_zone_names_the_window_and_what_is_expected() -> None:
    outlook = policy_status.window_outlook([window("0 2 * * *"), window("0 2 * * *", zone="Mars/Olympus")], NOW)
    assert outlook.problem == (
        "spec.maintenanceWindows[1].timeZone: 'Mars/Olympus' is not an IANA time zone; "
        "expected one such as Europe/Berlin"
    )
    assert outlook.next_window is None
    bad_cron = policy_status.window_outlook([window("99 2 * * *")], NOW)
    assert bad_cron.problem is not None
    assert bad_cron.problem.startswith("spec.maintenanceWindows[0].schedule: '99 2 * * *' is not a cron schedule")


def _condition(status: Any, condition_type: str) -> tuple[str, str, str]:
    found = next(c for c in status.conditions if c.type == condition_type)
    return found.status.value, found.reason, found.message


def test_ready_and_conflict_conditions() -> None:
    pol = policy("mine", namespaces=["shop"])
    fine = policy_status.Assessment(governed_workloads=3, counts=PolicyCounts(applied=2), rivals={})
    outlook = policy_status.window_outlook([window("0 20 * * *")], NOW)
    status = policy_status.desired_status(pol, ["shop"], fine, outlook)
    assert _condition(status, "Ready") == (
        "True",
        "Resolved",
        "recommend in 1 namespaces, governing 3 workloads; changes start in the next maintenance window, at "
        "2026-12-01T20:00:00Z",
    )
    assert _condition(status, "Conflict")[:2] == ("False", "NoConflict")
    assert status.to_api()["nextWindow"] == "2026-12-01T20:00:00Z"
    assert status.to_api()["counts"]["applied"] == 2
    clash = policy_status.Assessment(governed_workloads=0, counts=PolicyCounts(), rivals={"theirs": "namespace shop"})
    status = policy_status.desired_status(pol, ["shop"], clash, outlook)
    ready, conflict = _condition(status, "Ready"), _condition(status, "Conflict")
    assert ready[:2] == ("False", "Conflict")
    assert conflict[:2] == ("True", "EqualSpecificity")
    assert conflict[2].startswith("as specific as theirs (both cover namespace shop)")
    assert ready[2] == conflict[2]
    invalid = policy_status.window_outlook([window("0 2 * * *", zone="Mars/Olympus")], NOW)
    status = policy_status.desired_status(pol, ["shop"], clash, invalid)
    assert _condition(status, "Ready")[:2] == ("False", "InvalidSpec")
    assert "nextWindow" not in status.to_api()


class FakeKube:
    """The reads a policy reconcile makes, from fixed objects; records writes and workload listings."""

    def __init__(
        self,
        policies: list[OptimizationPolicy],
        recommendations: list[OptimizationRecommendation],
        workloads: list[dict[str, Any]],
    ) -> None:
        self.policies = policies
        self.recommendations = recommendations
        self.workloads = workloads
        self.applied: list[dict[str, Any]] = []
        self.workload_listings: list[tuple[str, str]] = []

    async def namespaces(self) -> list[dict[str, Any]]:
        return NAMESPACES

    async def list(self, kind: type, namespace: str | None = None, **_: Any) -> list[Any]:
        if kind is OptimizationPolicy:
            return self.policies
        return [r for r in self.recommendations if namespace is None or r.namespace == namespace]

    async def list_workloads(self, api_version: str, plural: str, namespace: str) -> builtins.list[dict[str, Any]]:
        self.workload_listings.append((plural, namespace))
        if plural != "deployments":
            raise NotFound(plural)
        return [w for w in self.workloads if w["metadata"]["namespace"] == namespace]

    async def apply(self, kind: type, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.applied.append(body)
        return body


def _body(pol: OptimizationPolicy) -> dict[str, Any]:
    return {"apiVersion": "optimizer.kcost.dev/v1alpha1", "kind": "OptimizationPolicy", **pol.to_api()}


async def test_reconcile_writes_the_status_once_and_reads_labels_only_when_selected() -> None:
    first, second = policy("first", namespaces=["shop"]), policy("second", namespaces=["shop"])
    recommendations = [rec("web", phase="Applied"), rec("db", "data", phase="Applied")]
    kube: Any = FakeKube([first, second], recommendations, [])
    updated = await policy_status.reconcile(kube, _body(first))
    assert kube.workload_listings == [], "no workload selector anywhere: no workload is read"
    status = kube.applied[0]["status"]
    assert kube.applied[0]["metadata"]["resourceVersion"] == "7"
    assert status["matchedNamespaces"] == ["shop"]
    conflict = next(c for c in status["conditions"] if c["type"] == "Conflict")
    assert conflict["status"] == "True"
    assert "second (both cover Deployment shop/web)" in conflict["message"]
    again = await policy_status.reconcile(kube, {**_body(first), "status": status})
    assert len(kube.applied) == 1, "nothing changed, nothing written"
    assert again.status == updated.status

    web_team = policy("web-team", namespaces=["shop"], workloadSelector={"matchLabels": {"team": "web"}})
    workloads = [{"metadata": {"name": "web", "namespace": "shop", "labels": {"team": "web"}}}]
    kube = FakeKube([first, web_team], [*recommendations, rec("roll", kind="Rollout")], workloads)
    await policy_status.reconcile(kube, _body(web_team))
    assert sorted(kube.workload_listings) == [("deployments", "shop"), ("rollouts", "shop")]
    status = kube.applied[0]["status"]
    assert (status["governedWorkloads"], status["counts"]["applied"]) == (1, 1)
    assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"
