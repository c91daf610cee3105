"""The admission handlers on their own: approvals, stamping, overlap; and random payloads never crash them.

The cluster is a fixed picture (``Picture``), so every rule is tried without an API server;
the e2e tests (e2e/test_webhook.py) cover the same rules with the real one calling over TLS.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcost.analyzers import registry
from kcost.api.v1alpha1.policy import OptimizationPolicy
from kcost.webhooks import approvals, review, server
from kcost.webhooks.admission import AdmissionRequest, UserInfo
from kcost.webhooks.validation import Context

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


class Picture:
    """A cluster as the handlers see it: who may do what, the policies, namespaces and workloads."""

    def __init__(self, grants: set[tuple[str, str]] | None = None, policies: list[dict[str, Any]] | None = None):
        self.grants = grants or set()
        self._policies = [OptimizationPolicy.model_validate(body) for body in policies or []]
        self.reviews: list[tuple[str, str, list[str]]] = []

    async def allowed(self, user: UserInfo, verb: str, name: str, namespace: str) -> bool:
        self.reviews.append((user.username, verb, user.groups))
        return (user.username, verb) in self.grants

    async def policies(self) -> list[OptimizationPolicy]:
        return self._policies

    async def namespace_labels(self) -> dict[str, dict[str, str]]:
        return {"shop": {"env": "production"}, "lab": {}}

    async def labels_of_namespace(self, name: str) -> dict[str, str]:
        return (await self.namespace_labels()).get(name, {})

    async def workload_labels(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, str] | None:
        return {"app": name} if name != "gone" else None

    async def profile_exists(self, name: str) -> bool:
        return name == "default"


def _context(picture: Picture) -> Context:
    return Context(view=picture, settings_models=registry.settings_model)


def _rec(approval: dict[str, Any] | None = None, cpu: str = "250m", target: str = "web") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "type": "right-sizing",
        "current": {"containers": [{"name": "app", "requests": {"cpu": "500m"}}]},
        "changes": {"containers": [{"name": "app", "requests": {"cpu": cpu}}]},
        "estimatedMonthlySavings": 5,
        "confidence": 0.9,
        "riskLevel": "low",
        "evidence": {"method": "test"},
    }
    if approval is not None:
        spec["approval"] = approval
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop"},
        "spec": spec,
    }


def _update(
    new: dict[str, Any], old: dict[str, Any], user: str = "alice", operation: str = "UPDATE"
) -> AdmissionRequest:
    return AdmissionRequest.model_validate(
        {
            "uid": "u-1",
            "kind": {"group": "optimizer.kcost.dev", "version": "v1alpha1", "kind": new["kind"]},
            "name": new["metadata"]["name"],
            "namespace": new["metadata"].get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": user, "uid": "42", "groups": ["team-a", "system:authenticated"]},
            "object": new,
            "oldObject": old if operation == "UPDATE" else None,
        }
    )


async def test_approval_needs_the_verb_and_asks_for_the_requesting_user() -> None:
    picture = Picture()
    request = _update(_rec({"approved": True, "approvedBy": "mallory"}), _rec())
    verdict = await review.validate(request, _context(picture))
    assert verdict.code == 403
    assert "user 'alice' may not approve this recommendation" in verdict.refusals[0]
    assert picture.reviews == [("alice", "approve", ["team-a", "system:authenticated"])]

    granted = Picture(grants={("alice", "approve")})
    assert (await review.validate(request, _context(granted))).allowed


async def test_rejecting_asks_for_reject_and_other_edits_ask_nothing() -> None:
    picture = Picture()
    verdict = await review.validate(_update(_rec({"rejected": True}), _rec()), _context(picture))
    assert picture.reviews[0][1] == "reject"
    assert "may not reject" in verdict.refusals[0]
    unrelated = _update(_rec({"approved": False}), _rec())
    assert (await review.validate(unrelated, _context(Picture()))).allowed


async def test_changes_are_immutable_once_approved() -> None:
    approved = _rec({"approved": True, "approvedBy": "alice"})
    changed = _rec({"approved": True, "approvedBy": "alice"}, cpu="100m")
    verdict = await review.validate(_update(changed, approved), _context(Picture()))
    assert verdict.refusals == (
        "spec.changes: immutable once approved; reject this recommendation and let the next run propose anew",
    )


@pytest.mark.parametrize(
    ("constraints", "target", "expected"),
    [
        ({"minCpu": "400m"}, "web", "OptimizationPolicy 'guard': below constraints: app cpu request 250m → 400m"),
        (
            {"excludedWorkloads": [{"kind": "Deployment", "name": "web", "namespace": "shop"}]},
            "web",
            "OptimizationPolicy 'guard': Deployment shop/web is excluded",
        ),
    ],
)
async def test_an_approval_breaking_the_policy_is_refused(constraints: Any, target: str, expected: str) -> None:
    picture = Picture(
        grants={("alice", "approve")},
        policies=[{"metadata": {"name": "guard"}, "spec": {"namespaces": ["shop"], "constraints": constraints}}],
    )
    verdict = await review.validate(_update(_rec({"approved": True}, target=target), _rec()), _context(picture))
    assert any(expected in refusal for refusal in verdict.refusals), verdict.refusals


async def test_a_missing_workload_is_a_warning() -> None:
    picture = Picture(grants={("alice", "approve")}, policies=[{"metadata": {"name": "p"}, "spec": {}}])
    verdict = await review.validate(_update(_rec({"approved": True}, target="gone"), _rec()), _context(picture))
    assert verdict.allowed
    assert verdict.warnings == ("spec.targetRef: Deployment shop/gone does not exist",)


@pytest.mark.parametrize(
    ("new", "old", "patch"),
    [
        (
            {"approved": True, "approvedBy": "mallory"},
            {},
            [
                {"op": "add", "path": "/spec/approval/approvedBy", "value": "alice"},
                {"op": "add", "path": "/spec/approval/approvedAt", "value": "2026-12-01T12:00:00Z"},
            ],
        ),
        (
            {"approved": True, "approvedBy": "mallory"},
            {"approved": True, "approvedBy": "bob", "approvedAt": "2026-11-30T08:00:00Z"},
            [
                {"op": "add", "path": "/spec/approval/approvedBy", "value": "bob"},
                {"op": "add", "path": "/spec/approval/approvedAt", "value": "2026-11-30T08:00:00Z"},
            ],
        ),
        ({"approved": False, "approvedBy": "mallory"}, {}, [{"op": "remove", "path": "/spec/approval/approvedBy"}]),
        ({"approved": False}, {}, []),
    ],
)
def test_stamping_trusts_only_the_request_user(new: Any, old: Any, patch: Any) -> None:
    verdict = approvals.stamp(_update(_rec(new), _rec(old)), NOW)
    assert list(verdict.patch) == patch


def test_stamping_an_approval_created_approved() -> None:
    verdict = approvals.stamp(_update(_rec({"approved": True}), {}, user="bob", operation="CREATE"), NOW)
    assert verdict.patch[0] == {"op": "add", "path": "/spec/approval/approvedBy", "value": "bob"}


async def test_policies_of_equal_specificity_overlap_by_namespace_label() -> None:
    existing = {"metadata": {"name": "prod"}, "spec": {"namespaceSelector": {"matchLabels": {"env": "production"}}}}
    picture = Picture(policies=[existing])
    rival = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": "rival"},
        "spec": {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}},
    }
    verdict = await review.validate(_update(rival, {}, operation="CREATE"), _context(picture))
    assert "OptimizationPolicy 'prod' covers namespace 'shop'" in verdict.refusals[0]
    by_name = {**rival, "spec": {"namespaces": ["shop"]}}
    assert (await review.validate(_update(by_name, {}, operation="CREATE"), _context(picture))).allowed


async def test_an_unchanged_spec_is_never_refused() -> None:
    stored = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": "old", "labels": {"new": "label"}},
        "spec": {"profileRef": {"name": "default"}, "schedule": "61 25 * * *"},
    }
    assert (await review.validate(_update(stored, stored), _context(Picture()))).allowed


# -- random payloads ---------------------------------------------------------------------------

KINDS = ["Analysis", "OptimizationPolicy", "ClusterCostProfile", "OptimizationRecommendation", "Pod", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=12,
)
spec_keys = st.sampled_from(
    ["profileRef", "window", "resolution", "schedule", "analyzers", "maintenanceWindows", "namespaces",
     "namespaceSelector", "pricing", "approval", "changes", "current", "targetRef", "rolloutStrategy"]
)  # fmt: skip
specs = st.dictionaries(spec_keys, json_values, max_size=6)
objects = st.builds(
    lambda kind, name, spec: {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": kind,
        "metadata": name,
        "spec": spec,
    },
    st.sampled_from(KINDS),
    st.fixed_dictionaries({"name": st.text(min_size=1, max_size=8), "namespace": st.sampled_from(["shop", ""])}),
    specs,
)
requests = st.fixed_dictionaries(
    {
        "uid": st.text(max_size=8),
        "kind": st.fixed_dictionaries({"kind": st.sampled_from(KINDS)}),
        "operation": st.sampled_from(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
        "userInfo": st.fixed_dictionaries({"username": st.text(max_size=8)}) | json_values,
        "object": objects | json_values,
        "oldObject": objects | st.none(),
        "dryRun": st.booleans(),
    }
)
bodies = st.fixed_dictionaries({"apiVersion": st.just("admission.k8s.io/v1"), "request": requests}) | json_values


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def client(loop: asyncio.AbstractEventLoop) -> Iterator[TestClient[Any, Any]]:
    picture = Picture(
        grants={("alice", "approve")}, policies=[{"metadata": {"name": "everything"}, "spec": {"mode": "recommend"}}]
    )

    async def start() -> TestClient[Any, Any]:
        started: TestClient[Any, Any] = TestClient(TestServer(server.app(_context(picture))))
        await started.start_server()
        return started

    test_client = loop.run_until_complete(start())
    yield test_client
    loop.run_until_complete(test_client.close())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from(["/validate", "/mutate"]))
def test_random_admission_reviews_never_make_a_500(
    client: TestClient[Any, Any], loop: asyncio.AbstractEventLoop, body: Any, path: str
) -> None:
    async def post() -> tuple[int, Any]:
        response = await client.post(path, data=json.dumps(body), headers={"Content-Type": "application/json"})
        return response.status, await response.text()

    status, text = loop.run_until_complete(post())
    assert status in (200, 400), text
    if status == 200:
        answer = json.loads(text)["response"]
        assert isinstance(answer["allowed"], bool)
        assert answer.get("status", {}).get("code") != 503, answer  # a handler crash would be reported as 503
        if not answer["allowed"]:
            assert answer["status"]["message"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(new=objects, old=objects)
def test_random_specs_are_judged_not_crashed_on(loop: asyncio.AbstractEventLoop, new: Any, old: Any) -> None:
    request = _update(new, {**old, "kind": new["kind"], "metadata": new["metadata"]})
    context = _context(Picture(grants={("alice", "approve")}))
    verdict = loop.run_until_complete(review.validate(request, context))
    assert verdict.allowed or all(refusal.strip() for refusal in verdict.refusals)
    approvals.stamp(request, NOW)
