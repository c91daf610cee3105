"""The admission webhook on a real kube-apiserver, called over TLS: refusals, approvals, a killed webhook.

Every refused case is tried twice, with ``--dry-run=server`` and for real, and each
refusal must name the field and what was expected, whether the CRD's CEL rules or the
webhook refused it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from e2e.conftest import REPO_ROOT
from e2e.webhook_support import WebhookCluster, poll, webhook_cluster
from kcost.devcluster.scenario import library, loader

GROUP_VERSION = "optimizer.kcost.dev/v1alpha1"
SAMPLES = REPO_ROOT / "config" / "samples"
PROMETHEUS = {"url": "http://127.0.0.1:1"}
CATALOG = {"source": "catalog", "catalog": {"path": "/prices.csv.gz"}}


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookCluster]:
    yield from webhook_cluster(tmp_path_factory.mktemp("webhook"))


def _analysis(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {"profileRef": {"name": "default"}, **spec},
    }


def _rightsizing(settings: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "rightsizing", "settings": settings}]


def _policy(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": GROUP_VERSION, "kind": "OptimizationPolicy", "metadata": {"name": name}, "spec": spec}


def _profile(name: str, pricing: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "ClusterCostProfile",
        "metadata": {"name": name},
        "spec": {"provider": "aws", "prometheus": PROMETHEUS, "pricing": pricing or CATALOG, **spec},
    }


def _recommendation(name: str, namespace: str, target: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "OptimizationRecommendation",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "type": "right-sizing",
            "current": {"containers": [{"name": "app", "requests": {"cpu": "500m", "memory": "512Mi"}}]},
            "changes": {"containers": [{"name": "app", "requests": {"cpu": "250m", "memory": "384Mi"}}]},
            "estimatedMonthlySavings": 10,
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {"method": "e2e"},
            **spec,
        },
    }


def _changes(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"containers": list(containers)}


# name → (manifest, what the refusal must say). The first nine are the cases of the issue.
REFUSED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "window of 0d": (_analysis("zero-window", window="0d"), ["spec.window", "longer than 0"]),
    "resolution longer than window": (
        _analysis("long-step", window="1h", resolution="2h"),
        ["spec.resolution", "must not be longer than window"],
    ),
    "impossible cron": (
        _analysis("bad-cron", schedule="61 25 * * *"),
        ["spec.schedule", "not a valid cron schedule", "0 2 * * *"],
    ),
    "the old sample's settings": (
        _analysis(
            "old-sample",
            analyzers=_rightsizing({"strategy": "kcost", "cpuPercentile": 90, "memoryMarginPercent": 15}),
        ),
        ["spec.analyzers[0].settings.cpuPercentile: unknown setting", "allowed here:", "strategySettings"],
    ),
    "setting out of range": (
        _analysis("pct-190", analyzers=_rightsizing({"strategySettings": {"cpuPercentile": 190}})),
        ["spec.analyzers[0].settings.strategySettings.cpuPercentile", "allowed: 50 ≤ value ≤ 100"],
    ),
    "time zone on Mars": (
        _policy("mars", maintenanceWindows=[{"schedule": "0 1 * * *", "duration": "1h", "timeZone": "Mars/Olympus"}]),
        ["spec.maintenanceWindows[0].timeZone", "not an IANA time zone", "Europe/Berlin"],
    ),
    "canary step of 0%": (
        _policy("zero-step", rolloutStrategy={"steps": [{"replicas": "0%"}, {"replicas": "100%"}]}),
        ["spec.rolloutStrategy.steps[0].replicas", "(0%, 100%]"],
    ),
    "custom pricing without rates": (
        _profile("no-rates", pricing={"source": "custom"}),
        ["spec.pricing.customRates", "cpuCoreHour and memoryGiBHour"],
    ),
    "memory request above its limit": (
        _recommendation(
            "mem-over",
            "default",
            changes=_changes({"name": "app", "requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}),
        ),
        ["spec.changes.containers[0].requests.memory", "memory request must not be above the memory limit"],
    ),
    # -- our own
    "resolution of 0s": (_analysis("zero-step", resolution="0s"), ["spec.resolution", "longer than 0"]),
    "weeks and days window shorter than its step": (
        _analysis("mixed", window="1h30m", resolution="2h"),
        ["spec.resolution", "must not be longer than window"],
    ),
    "setting of the wrong type": (
        _analysis("wrong-type", analyzers=_rightsizing({"minMonthlySavings": "lots"})),
        ["spec.analyzers[0].settings.minMonthlySavings", "valid number"],
    ),
    "negative setting": (
        _analysis("negative", analyzers=_rightsizing({"minMonthlySavings": -1})),
        ["spec.analyzers[0].settings.minMonthlySavings", "allowed: value ≥ 0"],
    ),
    "unknown strategy": (
        _analysis("strategy", analyzers=_rightsizing({"strategy": "magic"})),
        ["spec.analyzers[0].settings", "strategy must be kcost, vpa or krr-simple"],
    ),
    "a vpa setting given to the kcost strategy": (
        _analysis(
            "vpa-key", analyzers=_rightsizing({"strategy": "kcost", "strategySettings": {"targetPercentile": 0.9}})
        ),
        ["spec.analyzers[0].settings.strategySettings.targetPercentile: unknown setting"],
    ),
    "unknown idle setting": (
        _analysis("idle-key", analyzers=[{"name": "idle", "settings": {"idleDays": 3}}]),
        ["spec.analyzers[0].settings.idleDays: unknown setting", "minDays"],
    ),
    "idle history of 0 days": (
        _analysis("idle-zero", analyzers=[{"name": "idle", "settings": {"minDays": 0}}]),
        ["spec.analyzers[0].settings.minDays", "allowed: value > 0"],
    ),
    "second analyzer's settings wrong": (
        _analysis(
            "second", analyzers=[{"name": "idle"}, {"name": "rightsizing", "settings": {"cpuLimits": "sometimes"}}]
        ),
        ["spec.analyzers[1].settings.cpuLimits", "valid boolean"],
    ),
    "cron with six fields": (
        _analysis("six-fields", schedule="0 0 2 * * *"),
        ["spec.schedule"],
    ),
    "cron month 13": (_analysis("month-13", schedule="0 2 1 13 *"), ["spec.schedule", "not a valid cron schedule"]),
    "schedule with a TTL": (
        _analysis("ttl", schedule="0 2 * * *", ttlAfterFinished="1h"),
        ["spec.ttlAfterFinished", "never deleted"],
    ),
    "window that is not a duration": (_analysis("fortnight", window="fortnight"), ["spec.window"]),
    "maintenance window with a bad cron": (
        _policy("bad-window", maintenanceWindows=[{"schedule": "0 9 * * 8", "duration": "1h"}]),
        ["spec.maintenanceWindows[0].schedule", "not a valid cron schedule"],
    ),
    "time zone that does not exist": (
        _policy(
            "atlantis", maintenanceWindows=[{"schedule": "0 1 * * *", "duration": "1h", "timeZone": "Europe/Atlantis"}]
        ),
        ["spec.maintenanceWindows[0].timeZone", "not an IANA time zone"],
    ),
    "canary step above 100%": (
        _policy("over", rolloutStrategy={"steps": [{"replicas": "50%"}, {"replicas": "150%"}]}),
        ["spec.rolloutStrategy.steps[1].replicas", "(0%, 100%]"],
    ),
    "confidence above 1": (_policy("sure", autoApprove={"minConfidence": 2}), ["spec.autoApprove.minConfidence"]),
    "maxChangePercent of 0": (
        _policy("still", autoApprove={"maxChangePercent": 0}),
        ["spec.autoApprove.maxChangePercent", "greater than 0"],
    ),
    "health check without a bound": (
        _policy("unbounded", rolloutStrategy={"healthChecks": {"promql": [{"name": "errors", "query": "up"}]}}),
        ["spec.rolloutStrategy.healthChecks.promql[0]", "give maxValue or minValue"],
    ),
    "custom pricing with a CPU rate only": (
        _profile("cpu-only", pricing={"source": "custom", "customRates": {"cpuCoreHour": 0.03}}),
        ["spec.pricing.customRates", "memoryGiBHour"],
    ),
    "catalog with both a path and a ConfigMap": (
        _profile(
            "both",
            pricing={"source": "catalog", "catalog": {"path": "/p.csv", "configMapRef": {"name": "p", "key": "k"}}},
        ),
        ["spec.pricing.catalog", "exactly one of path or configMapRef"],
    ),
    "discount of 100%": (
        _profile("free", pricing={**CATALOG, "discountPercent": 100}),
        ["spec.pricing.discountPercent"],
    ),
    "Prometheus URL that is not http": (
        _profile("ftp", prometheus={"url": "ftp://prometheus:9090"}),
        ["spec.prometheus.url"],
    ),
    "onprem with a price API": (
        _profile("onprem-api", provider="onprem", pricing={"source": "api"}),
        ["spec.pricing.source", "no price API"],
    ),
    "CPU request above its limit": (
        _recommendation(
            "cpu-over",
            "default",
            changes=_changes({"name": "app", "requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}),
        ),
        ["spec.changes.containers[0].requests.cpu", "cpu request must not be above the cpu limit"],
    ),
    "second container's memory above its limit": (
        _recommendation(
            "mem-second",
            "default",
            changes=_changes(
                {"name": "app", "requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                {"name": "sidecar", "requests": {"memory": "300Mi"}, "limits": {"memory": "200Mi"}},
            ),
        ),
        ["spec.changes.containers[1].requests.memory", "memory request must not be above"],
    ),
    "confidence of 1.5": (_recommendation("too-sure", "default", confidence=1.5), ["spec.confidence"]),
    "workload kind kcost cannot change": (
        _recommendation("pod", "default", targetRef={"apiVersion": "v1", "kind": "Pod", "name": "p"}),
        ["spec.targetRef.kind", "Unsupported value"],
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_refused_with_the_field_named(hooked: WebhookCluster, case: str) -> None:
    manifest, expected = REFUSED[case]
    for flags in (["--dry-run=server"], []):
        result = hooked.apply(manifest, *flags)
        assert result.returncode != 0, f"{case} was accepted ({flags}): {result.stdout}"
        for text in expected:
            assert text in result.stderr, f"{case} ({flags}): {text!r} not in {result.stderr}"
    kind = manifest["kind"].lower()
    namespace = ["-n", manifest["metadata"]["namespace"]] if "namespace" in manifest["metadata"] else []
    assert hooked.kubectl("get", kind, manifest["metadata"]["name"], *namespace).returncode != 0, "it was stored"


def test_overlapping_policies_refused_naming_the_other(hooked: WebhookCluster) -> None:
    suffix = uuid.uuid4().hex[:6]
    first, second = f"team-{suffix}", f"rival-{suffix}"
    namespace = f"overlap-{suffix}"
    assert hooked.kubectl("create", "namespace", namespace).returncode == 0
    assert hooked.apply(_policy(first, namespaces=[namespace])).returncode == 0
    try:
        for flags in (["--dry-run=server"], []):
            refused = hooked.apply(_policy(second, namespaces=[namespace]), *flags)
            assert refused.returncode != 0
            assert f"OptimizationPolicy '{first}' covers namespace '{namespace}'" in refused.stderr
            assert "make one of them more specific" in refused.stderr
        narrower = _policy(second, namespaces=[namespace], workloadSelector={"matchLabels": {"tier": "web"}})
        assert hooked.apply(narrower).returncode == 0, "a more specific policy is no conflict"
    finally:
        hooked.kubectl("delete", "kpol", first, second, "--ignore-not-found")


def test_a_missing_profile_is_a_warning_not_a_refusal(hooked: WebhookCluster) -> None:
    name = f"orphan-{uuid.uuid4().hex[:6]}"
    analysis = _analysis(name, analyzers=[{"name": "idle"}])
    analysis["spec"]["profileRef"] = {"name": "nowhere"}
    created = hooked.apply(analysis)
    try:
        assert created.returncode == 0, created.stderr
        assert "Warning: spec.profileRef.name: no ClusterCostProfile 'nowhere' exists yet" in created.stderr
    finally:
        hooked.kubectl("delete", "kca", name, "--ignore-not-found", "--wait=false")


def test_every_sample_is_accepted(hooked: WebhookCluster) -> None:
    hooked.kubectl("create", "namespace", "shop")
    result = hooked.kubectl("apply", "--dry-run=server", "-f", str(SAMPLES))
    assert result.returncode == 0, result.stderr
    # A dry run creates nothing, so the Analysis cannot see the sample profile beside it.
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning") and "'default'" not in line]
    assert not warnings, result.stderr


# -- approvals ---------------------------------------------------------------------------


def _deployment(namespace: str, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    pod_labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "nodeSelector": {"type": "kwok"},
                    "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}],
                },
            },
        },
    }


def _role(namespace: str, name: str, verbs: list[str]) -> str:
    return json.dumps(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [
                {
                    "apiGroups": ["optimizer.kcost.dev"],
                    "resources": ["optimizationrecommendations"],
                    "verbs": verbs,
                }
            ],
        }
    )


def _bind(hooked: WebhookCluster, namespace: str, role: str, user: str) -> None:
    bound = hooked.kubectl("create", "rolebinding", role, "-n", namespace, f"--role={role}", f"--user={user}")
    assert bound.returncode == 0, bound.stderr


@pytest.fixture
def shop(hooked: WebhookCluster) -> Iterator[str]:
    """A namespace with a Deployment ``web`` and its proposal ``deployment-web-right-sizing``; alice may edit it."""
    namespace = f"shop-{uuid.uuid4().hex[:6]}"
    assert hooked.kubectl("create", "namespace", namespace).returncode == 0
    assert hooked.apply(_deployment(namespace, "web")).returncode == 0
    assert hooked.apply(_recommendation("deployment-web-right-sizing", namespace)).returncode == 0
    assert hooked.apply(_role(namespace, "rec-editor", ["get", "list", "watch", "update", "patch"])).returncode == 0
    _bind(hooked, namespace, "rec-editor", "alice")
    yield namespace
    hooked.kubectl("delete", "namespace", namespace, "--wait=false")


APPROVE_AS_MALLORY = json.dumps({"spec": {"approval": {"approved": True, "approvedBy": "mallory"}}})


def _approval(hooked: WebhookCluster, namespace: str, name: str = "deployment-web-right-sizing") -> dict[str, Any]:
    body = json.loads(hooked.kubectl("get", "rec", name, "-n", namespace, "-o", "json").stdout)
    return dict(body["spec"].get("approval") or {})


def test_approving_needs_the_approve_verb_and_is_stamped_with_the_user(hooked: WebhookCluster, shop: str) -> None:
    alice = hooked.cluster.mint_user_kubeconfig("alice")
    patch = ["patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "-p", APPROVE_AS_MALLORY]
    for flags in (["--dry-run=server"], []):
        refused = hooked.kubectl(*patch, *flags, kubeconfig=alice)
        assert refused.returncode != 0
        assert "user 'alice' may not approve this recommendation" in refused.stderr
        assert "RBAC verb 'approve' on optimizationrecommendations.optimizer.kcost.dev" in refused.stderr
    assert _approval(hooked, shop).get("approved") is not True

    assert hooked.apply(_role(shop, "rec-approver", ["approve"])).returncode == 0
    _bind(hooked, shop, "rec-approver", "alice")
    # RBAC reaches the authorizer's cache within moments: wait for it rather than guess.
    poll("alice's approval accepted", lambda: hooked.kubectl(*patch, kubeconfig=alice).returncode == 0)
    approval = _approval(hooked, shop)
    assert approval["approved"] is True
    assert approval["approvedBy"] == "alice", "stamped from the request's user, not from the body"
    assert approval["approvedAt"].endswith("Z")

    # Once approved, what was approved is what gets applied.
    changed = json.dumps({"spec": {"changes": {"containers": [{"name": "app", "requests": {"cpu": "10m"}}]}}})
    refused = hooked.kubectl("patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "-p", changed)
    assert refused.returncode != 0
    assert "spec.changes: immutable once approved" in refused.stderr
    restamp = json.dumps({"spec": {"approval": {"approvedBy": "mallory"}}})
    assert (
        hooked.kubectl(
            "patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "-p", restamp, kubeconfig=alice
        ).returncode
        == 0
    )
    assert _approval(hooked, shop)["approvedBy"] == "alice", "approvedBy cannot be rewritten afterwards"


def test_rejecting_needs_the_reject_verb(hooked: WebhookCluster, shop: str) -> None:
    alice = hooked.cluster.mint_user_kubeconfig("alice")
    reject = json.dumps({"spec": {"approval": {"rejected": True}}})
    patch = ["patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "-p", reject]
    refused = hooked.kubectl(*patch, kubeconfig=alice)
    assert "user 'alice' may not reject this recommendation" in refused.stderr
    assert hooked.apply(_role(shop, "rec-rejecter", ["reject"])).returncode == 0
    _bind(hooked, shop, "rec-rejecter", "alice")
    poll("alice's rejection accepted", lambda: hooked.kubectl(*patch, kubeconfig=alice).returncode == 0)


def test_kubectl_cost_approve_without_the_verb_names_it(hooked: WebhookCluster, shop: str) -> None:
    alice = hooked.cluster.mint_user_kubeconfig("alice")
    plugin = str(Path(sys.executable).with_name("kubectl-cost"))
    result = subprocess.run(
        [plugin, "approve", "-n", shop, "deployment-web-right-sizing"],
        env={**os.environ, "KUBECONFIG": str(alice)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 4, result.stderr
    assert "forbidden" in result.stderr
    assert "RBAC verb 'approve' on optimizationrecommendations" in result.stderr


def test_an_approval_the_policy_forbids_is_refused_naming_the_policy(hooked: WebhookCluster, shop: str) -> None:
    policy = f"guard-{shop}"
    rules = {
        "namespaces": [shop],
        "constraints": {
            "minCpu": "400m",
            "excludedWorkloads": [{"kind": "Deployment", "name": "ledger", "namespace": shop}],
        },
    }
    assert hooked.apply(_policy(policy, **rules)).returncode == 0
    assert hooked.apply(_deployment(shop, "ledger")).returncode == 0
    assert hooked.apply(_recommendation("deployment-ledger-right-sizing", shop, target="ledger")).returncode == 0
    try:
        approve = json.dumps({"spec": {"approval": {"approved": True}}})
        # The webhook sees the policy through its watch: wait for that before approving for real.
        dry_run = ["patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "--dry-run=server"]
        poll("the policy watched", lambda: hooked.kubectl(*dry_run, "-p", approve).returncode != 0, timeout_s=10)
        for name, rule in (
            ("deployment-ledger-right-sizing", f"Deployment {shop}/ledger is excluded"),
            ("deployment-web-right-sizing", "below constraints: app cpu request 250m → 400m (floor)"),
        ):
            refused = hooked.kubectl("patch", "rec", name, "-n", shop, "--type=merge", "-p", approve)
            assert refused.returncode != 0, name
            assert f"OptimizationPolicy '{policy}': {rule}" in refused.stderr
    finally:
        hooked.kubectl("delete", "kpol", policy)


def test_a_policy_created_after_the_webhook_started_is_enforced_once_watched(hooked: WebhookCluster, shop: str) -> None:
    policy = f"late-{shop}"
    approve = ["patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "--dry-run=server"]
    approve += ["-p", json.dumps({"spec": {"approval": {"approved": True}}})]
    assert hooked.kubectl(*approve).returncode == 0, "no policy governs the workload yet"
    assert hooked.apply(_policy(policy, namespaces=[shop], constraints={"minCpu": "400m"})).returncode == 0
    try:
        # The webhook reads policies from its watch: the new one is enforced as soon as its event arrives.
        refused = poll(
            "the new policy enforced",
            lambda: (answer := hooked.kubectl(*approve)).returncode != 0 and answer,
            timeout_s=10,
        )
        assert f"OptimizationPolicy '{policy}': below constraints" in refused.stderr
    finally:
        hooked.kubectl("delete", "kpol", policy)
    poll("the deleted policy no longer enforced", lambda: hooked.kubectl(*approve).returncode == 0, timeout_s=10)


# -- a webhook that is down ----------------------------------------------------------------


def test_killed_webhook_blocks_users_not_kcost(hooked: WebhookCluster, shop: str) -> None:
    suffix = uuid.uuid4().hex[:6]
    profile = _profile(
        f"down-{suffix}", pricing={"source": "custom", "customRates": {"cpuCoreHour": 0.03, "memoryGiBHour": 0.004}}
    )
    assert hooked.apply(profile).returncode == 0
    env = {"KCOST_TIMER_SECONDS": "1", "KCOST_PEERING_NAME": f"down-{suffix}", "KCOST_ANALYZER_POLL_SECONDS": "0.5"}
    operator = hooked.spawn(f"operator-{suffix}", "operator", env=env)
    analyzer = hooked.spawn(f"analyzer-{suffix}", "analyzer", "--plugin", "fixture_analyzer:FixtureAnalyzer", env=env)
    analysis = _analysis(
        f"down-{suffix}",
        namespaces=[shop],
        timeout="2m",
        analyzers=[{"name": "fixture", "settings": {"delaySeconds": 5}}],
    )
    analysis["spec"]["profileRef"] = {"name": profile["metadata"]["name"]}
    assert hooked.apply(analysis).returncode == 0
    webhook = hooked.process
    assert webhook is not None
    try:
        webhook.kill()
        alice = hooked.cluster.mint_user_kubeconfig("alice")
        refused = hooked.kubectl(
            "patch", "rec", "deployment-web-right-sizing", "-n", shop, "--type=merge", "-p", APPROVE_AS_MALLORY,
            kubeconfig=alice,
        )  # fmt: skip
        assert refused.returncode != 0
        # The API server's own words, naming kcost's webhook and why it is not there.
        assert re.search(r'failed calling webhook "(stamp|validate)\.optimizer\.kcost\.dev"', refused.stderr)
        assert "connection refused" in refused.stderr
        assert hooked.apply(_analysis(f"user-{suffix}")).returncode != 0, "users' writes wait for the webhook"

        def finished() -> str | None:
            body = json.loads(hooked.kubectl("get", "kca", analysis["metadata"]["name"], "-o", "json").stdout)
            return (
                (body.get("status") or {}).get("phase")
                if body.get("status", {}).get("phase") in ("Succeeded", "Failed")
                else None
            )

        assert poll("the analysis finishing with the webhook down", finished) == "Succeeded", operator.output()
        recs = json.loads(
            hooked.kubectl("get", "rec", "-n", shop, "-l", f"kcost.dev/analysis=down-{suffix}", "-o", "json").stdout
        )
        assert recs["items"], f"the analyzer wrote no recommendation: {analyzer.output()}"
    finally:
        hooked.start_webhook()
        for process in (operator, analyzer):
            process.stop()
        hooked.kubectl("delete", "kca", analysis["metadata"]["name"], "--wait=false")
        hooked.kubectl("delete", "ccp", profile["metadata"]["name"], "--wait=false")


# -- certificate rotation ------------------------------------------------------------------


def _served_certificate(port: int) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_certificates_rotate_while_the_api_server_keeps_calling(hooked: WebhookCluster, tmp_path: Path) -> None:
    # Short lives: a serving certificate every ~10 s, a new CA after ~27 s (trusted before it signs).
    webhook = hooked.process
    assert webhook is not None
    webhook.stop()
    hooked.start_webhook(
        {
            "KCOST_WEBHOOK_CERT_DIR": str(tmp_path / "short-lived"),
            "KCOST_WEBHOOK_CERT_VALIDITY_SECONDS": "15",
            "KCOST_WEBHOOK_CA_VALIDITY_SECONDS": "40",
        }
    )
    name = f"rotating-{uuid.uuid4().hex[:6]}"
    valid = _analysis(name, analyzers=[{"name": "idle", "settings": {"minDays": 1}}])
    serials, issuers, failures, calls = set(), set(), [], 0
    deadline = time.monotonic() + 45
    try:
        while time.monotonic() < deadline:
            served = _served_certificate(hooked.port)
            serials.add(served.serial_number)
            issuers.add(served.issuer.rfc4514_string())
            result = hooked.apply(valid, "--dry-run=server")
            calls += 1
            if result.returncode != 0:
                failures.append(result.stderr)
        assert not failures, f"{len(failures)} of {calls} requests failed during rotation: {failures[:3]}"
        assert len(serials) >= 3, f"serving certificates seen: {len(serials)}"
        assert len(issuers) >= 2, f"the CA did not rotate: {issuers}"
    finally:
        assert hooked.process is not None
        hooked.process.stop()
        hooked.start_webhook()


# -- samples run, not only apply -------------------------------------------------------------


def _sample_documents(prometheus_url: str, shared_data: Path) -> list[dict[str, Any]]:
    """Every sample, pointed at this cluster's Prometheus and at the price file beside the project."""
    documents = []
    for path in sorted(SAMPLES.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        if document["kind"] == "ClusterCostProfile":
            document["spec"]["prometheus"]["url"] = prometheus_url
            prices = shared_data / "pricing" / "cloud-instance-prices.csv.gz"
            document["spec"]["pricing"]["catalog"]["path"] = str(prices)
        documents.append(document)
    return documents


def _body(hooked: WebhookCluster, *target: str) -> Any:
    """The object as the API server shows it; ``{}`` while it does not exist."""
    return json.loads(hooked.kubectl("get", *target, "-o", "json").stdout or "{}")


def _ready(hooked: WebhookCluster, *target: str) -> Any:
    body = _body(hooked, *target)
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c["status"] == "True" for c in conditions if c["type"] == "Ready"), False) and body


def _wait_ready(hooked: WebhookCluster, *target: str, timeout_s: float = 180) -> Any:
    try:
        return poll(f"{' '.join(target)} Ready", lambda: _ready(hooked, *target), timeout_s=timeout_s)
    except AssertionError as error:
        body = _body(hooked, *target)
        raise AssertionError(f"{error}; status: {json.dumps(body.get('status'), indent=1)}") from None


def test_every_sample_reaches_a_healthy_state(hooked: WebhookCluster, shared_data: Path) -> None:
    loader.load(hooked.cluster, library.smoke())
    assert hooked.kubectl("label", "namespace", "shop", "env=production", "--overwrite").returncode == 0
    checkout = _deployment("shop", "checkout")
    checkout["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "500m", "memory": "768Mi"},
        "limits": {"memory": "768Mi"},
    }
    assert hooked.apply(checkout).returncode == 0
    env = {"KCOST_TIMER_SECONDS": "1", "KCOST_PEERING_NAME": "samples", "KCOST_ANALYZER_POLL_SECONDS": "0.5"}
    started = [
        hooked.spawn("samples-operator", "operator", env=env),
        hooked.spawn("samples-rightsizing", "analyzer", "rightsizing", env=env),
        hooked.spawn("samples-idle", "analyzer", "idle", env=env),
        # Prices the nodes: a profile is Ready once they are.
        hooked.spawn(
            "samples-cost",
            "analyzer",
            "cost",
            env={
                **env,
                "KCOST_COST_INTERVAL_SECONDS": "5",
                "KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{hooked.work_dir / 'history.db'}",
            },
        ),
    ]
    try:
        for document in _sample_documents(hooked.cluster.require_state().prometheus_url, shared_data):
            applied = hooked.apply(document)
            assert applied.returncode == 0, f"{document['kind']}: {applied.stderr}"
        _wait_ready(hooked, "ccp", "default")
        _wait_ready(hooked, "kpol", "production-auto-optimize")

        def analysis_finished() -> str | None:
            body = json.loads(hooked.kubectl("get", "kca", "nightly-production", "-o", "json").stdout)
            phase = (body.get("status") or {}).get("phase")
            return phase if phase in ("Succeeded", "Failed") else None

        phase = poll("the sample Analysis finished", analysis_finished, timeout_s=300)
        status = json.loads(hooked.kubectl("get", "kca", "nightly-production", "-o", "json").stdout)["status"]
        assert phase == "Succeeded", json.dumps(status, indent=1)
        # A recommendation is born Proposed and has no Ready until it moves: Proposed is its healthy state.
        target = ("rec", "-n", "shop", "deployment-checkout-right-sizing")
        rec = poll("checkout's recommendation", lambda: _body(hooked, *target))
        assert rec["status"]["phase"] == "Proposed", rec["status"]
    finally:
        hooked.kubectl("delete", "kca", "nightly-production", "--wait=false")
        hooked.kubectl("delete", "kpol", "production-auto-optimize", "--wait=false")
        for process in started:
            process.stop()
