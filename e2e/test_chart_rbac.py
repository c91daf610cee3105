"""kcost's real processes run as the chart's ServiceAccount, with only the chart's roles, and do their work.

The chart is installed into a dev cluster of its own; kwok "runs" its Pod without the image, so
the operator, the analyzers and the webhook run here as processes authenticated by a token of
the release's ServiceAccount. An Analysis of the smoke scenario (created by an admin, through
the webhook) must succeed and no process may be refused anything. Then the uninstall hook's
command, as the hook's ServiceAccount, deletes kcost's objects while the operator runs (kopf's
finalizers come off), and `helm uninstall` leaves nothing.

Along the way every role is exercised: the status API (its token and access reviews, and an
approval it writes as the approving user) approves the run's recommendations, and the operator
rolls them out. The API server's audit log then says what each account asked; every grant of the
chart's roles must be needed by one of those requests (allowed with the roles, denied without that
grant, both answered by the API server), or be listed in ``UNREACHED`` with the reason it stays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from e2e import rbac_audit
from e2e.conftest import KcostProcess, custom_profile
from e2e.rollout_support import FAST_STEPS, cronjob, deployment, recommendation, statefulset
from e2e.webhook_support import poll
from kcost.devcluster import binaries
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.processes import free_port
from kcost.devcluster.scenario import library, loader

CHART = Path(__file__).resolve().parents[1] / "helm" / "kcost"
RUN_DEADLINE_S = 180
ROLLOUT_DEADLINE_S = 300
SMOKE_NAMESPACES = ("shop", "jobs", "sandbox", "platform")
# The smoke scenario's workloads whose recommendations are approved: one per rollout path (a canary
# Deployment, one under an HPA, a StatefulSet's partitions, a CronJob, a DaemonSet, an idle one).
ROLLED_OUT = frozenset({"web", "api", "search", "nightly-report", "log-agent", "old-prototype"})
TERMINAL_PHASES = ("Applied", "RolledBack", "Failed")
# Seconds between two pricing passes of the cost analyzer (each lists the volume claims): the run's profile
# is priced within the test.
COST_PASS_S = 10
# Grants a run may not need, and why they stay: each reason names the path that needs it.
UNREACHED: dict[str, str] = {
    "kcost-api[1] impersonate core/users": "the status API's calls as a caller that is a user (OIDC, client "
    "certificates): the dev cluster's bearer tokens are ServiceAccounts'",
    "kcost-api[2] impersonate authentication.k8s.io/userextras/scopes": "the status API's calls as a caller with "
    "OAuth scopes, which only OpenShift's authenticator sets",
    "kcost-operator[0] get optimizer.kcost.dev/optimizationpolicies": "operator/retry.py reads a policy again by "
    "name when its status write meets a newer resourceVersion (HTTP 409): a race the run does not force",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    own = DevCluster(tmp_path_factory.mktemp("chart-rbac") / "cluster", Console(stderr=True))
    try:
        own.up(default_nodes())
        loader.load(own, library.smoke())
        yield own
    finally:
        own.down()


def _helm(cluster: DevCluster, *args: str) -> str:
    command = [binaries.helm(), f"--kubeconfig={cluster.require_state().admin_kubeconfig}", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _apply(cluster: DevCluster, document: dict[str, Any]) -> None:
    result = cluster.kubectl("apply", "-f", "-", input_text=json.dumps(document), check=False)
    assert result.returncode == 0, result.stderr


def _phase(cluster: DevCluster, name: str) -> str:
    """The Analysis's phase; "gone" once deleted."""
    got = cluster.kubectl("get", "analysis", name, "-o", "json", check=False)
    if got.returncode != 0 and "NotFound" in got.stderr:
        return "gone"
    body = json.loads(got.stdout)
    return str((body.get("status") or {}).get("phase", ""))


def _profile_with_a_token(cluster: DevCluster, name: str, namespace: str) -> dict[str, Any]:
    """A profile whose Prometheus takes a bearer token from a Secret in kcost's namespace (the dev one ignores it)."""
    cluster.kubectl("create", "secret", "generic", "prometheus-token", "-n", namespace, "--from-literal=token=dev")
    profile = custom_profile(name, cluster.require_state().prometheus_url)
    profile["spec"]["prometheus"]["bearerTokenSecretRef"] = {"name": "prometheus-token", "key": "token"}
    return profile


def _short_lived_analysis_of_a_catalog(cluster: DevCluster, name: str, namespace: str) -> str:
    """An Analysis deleted right after it ends, under a profile pricing nodes from a ConfigMap's price file."""
    header = "provider,region,instance_type,capacity_type,usd_per_hour,as_of"
    prices = f"{header}\naws,us-east-1,m5.large,on-demand,0.096,2026-01-01\n"
    cluster.kubectl("create", "configmap", "prices", "-n", namespace, f"--from-literal=prices.csv={prices}")
    profile = custom_profile(name, cluster.require_state().prometheus_url)
    profile["spec"]["pricing"] |= {
        "source": "catalog",
        "catalog": {"configMapRef": {"name": "prices", "key": "prices.csv"}},
    }
    _apply(cluster, profile)
    _apply(cluster, {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {
            "profileRef": {"name": name}, "namespaces": ["sandbox"], "window": "2d", "resolution": "1m",
            "timeout": "3m", "ttlAfterFinished": "1s", "analyzers": [{"name": "idle", "settings": {"minDays": 1}}],
        },
    })  # fmt: skip
    return name


def _policy(name: str, namespaces: list[str], *, in_place: bool = False) -> dict[str, Any]:
    """A policy where people approve (no auto-apply), and short steps let the rollouts end within the test; without
    it, the default strategy watches each rollout for many minutes. ``in_place``: pods resized, not replaced."""
    strategy = {"type": "in-place" if in_place else "canary", "steps": FAST_STEPS}
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": name},
        "spec": {
            "namespaces": namespaces,
            "mode": "recommend",
            # The idle workload's change scales it to zero: a 100% cut, over the default limit of 50%.
            "constraints": {"maxReductionPercent": 100},
            "rolloutStrategy": strategy,
        },
    }


def _workloads_of_every_path(cluster: DevCluster, kinds: str, resizing: str) -> list[tuple[str, str]]:
    """Workloads, and recommendations made by hand, for the rollout paths the smoke scenario's data may not take.

    In ``kinds``: a CronJob (its next run made here), a StatefulSet whose canary is OOM-killed (rolled back: the
    operator deletes the canary pod), a Job and an Argo Rollout (missing: the dev cluster has no Argo), kinds kcost
    reads but does not roll out. In ``resizing``, under the in-place policy: a Deployment whose pods are resized.
    """
    for namespace in (kinds, resizing):
        cluster.kubectl("create", "namespace", namespace)
    job = {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": kinds},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "once:1"}]}}},
    }  # fmt: skip
    for workload in (cronjob(kinds), statefulset(kinds, fault="oom-kill"), job, deployment(resizing)):
        _apply(cluster, workload)
    for kind, namespace, name in (("statefulset", kinds, "db"), ("deployment", resizing, "web")):
        ready = cluster.kubectl("rollout", "status", f"{kind}/{name}", "-n", namespace, "--timeout=120s", check=False)
        assert ready.returncode == 0, ready.stderr
    made = [
        recommendation(kinds, "nightly", kind="CronJob", approved=False),
        recommendation(kinds, "db", kind="StatefulSet", approved=False),
        recommendation(kinds, "once", kind="Job", approved=False),
        recommendation(kinds, "canary", kind="Rollout", approved=False),
        recommendation(resizing, "web", approved=False),
    ]
    for rec, api_version in zip(made[2:4], ("batch/v1", "argoproj.io/v1alpha1"), strict=True):
        rec["spec"]["targetRef"]["apiVersion"] = api_version
    for rec in made:
        _apply(cluster, rec)
    return [(rec["metadata"]["namespace"], rec["metadata"]["name"]) for rec in made]


# Rollouts of six workloads and the access reviews after them: over ten minutes on a busy machine.
@pytest.mark.timeout(1800)
def test_kcost_works_with_only_the_charts_roles(cluster: DevCluster, tmp_path: Path) -> None:
    release, namespace, suffix = "kcost", f"kcost-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    _helm(cluster, "install", release, str(CHART), "--namespace", namespace, "--create-namespace",
          "--set", "history.sqlite.persistence=false", "--set", "api.enabled=true",
          "--wait", "--timeout", "3m")  # fmt: skip
    accounts = [rbac_audit.bound_account(cluster, namespace, name) for name in ("kcost", "kcost-uninstall")]
    identity = cluster.mint_service_account_kubeconfig(namespace, "kcost")
    port, api_port = free_port(), free_port()
    environment = {
        "KUBECONFIG": str(identity),
        "KCOST_NAMESPACE": namespace,
        "KCOST_PEERING_NAME": "kcost",
        "KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/history.db",
        "KCOST_WEBHOOK_TRUSTED_USERS": f"system:serviceaccount:{namespace}:kcost",
        "KCOST_WEBHOOK_PORT": str(port),
        "KCOST_WEBHOOK_URL": f"https://127.0.0.1:{port}",
        "KCOST_WEBHOOK_CERT_DIR": str(tmp_path / "certs"),
        "KCOST_API_PORT": str(api_port),
        "KCOST_COST_INTERVAL_SECONDS": str(COST_PASS_S),
    }
    commands = {
        "operator": ["operator"],
        "rightsizing": ["analyzer", "rightsizing"],
        "idle": ["analyzer", "idle"],
        "cost": ["analyzer", "cost"],
        "webhook": ["webhook"],
        "api": ["api"],
    }
    processes = [KcostProcess(cluster, name, args, tmp_path, environment) for name, args in commands.items()]
    profile, analysis = f"chart-{suffix}", f"chart-{suffix}"
    kinds, resizing = f"kinds-{suffix}", f"resize-{suffix}"
    try:
        # The webhook publishes its CA in the chart's configurations (its role allows only that update); six
        # processes importing scikit-learn at once take a while on a busy machine.
        poll("the webhook's caBundle published", lambda: cluster.kubectl(
            "get", "validatingwebhookconfiguration", "kcost", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"
        ).stdout, timeout_s=RUN_DEADLINE_S)  # fmt: skip
        _apply(cluster, _profile_with_a_token(cluster, profile, namespace))
        short_lived = _short_lived_analysis_of_a_catalog(cluster, f"ttl-{suffix}", namespace)
        _apply(cluster, _policy(f"chart-{suffix}", [*SMOKE_NAMESPACES, kinds]))
        _apply(cluster, _policy(f"resize-{suffix}", [resizing], in_place=True))
        made_here = _workloads_of_every_path(cluster, kinds, resizing)
        _apply(cluster, {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": analysis},
            "spec": {
                "profileRef": {"name": profile},
                "namespaces": list(SMOKE_NAMESPACES),
                "window": "2d",
                "resolution": "1m",
                "timeout": "3m",
                "analyzers": [{"name": "rightsizing"}, {"name": "idle", "settings": {"minDays": 1}}],
            },
        })  # fmt: skip
        phase = poll("the Analysis finished", lambda: _phase(cluster, analysis) in ("Succeeded", "Failed") and _phase(
            cluster, analysis), timeout_s=RUN_DEADLINE_S)  # fmt: skip
        status = cluster.kubectl("get", "analysis", analysis, "-o", "jsonpath={.status}").stdout
        assert phase == "Succeeded", status
        recommendations = cluster.kubectl("get", "rec", "-A", "-l", f"kcost.dev/analysis={analysis}", "-o", "name")
        assert recommendations.stdout.strip(), "the run proposed nothing"
        listed = cluster.kubectl("get", "rec", "-A", "-l", f"kcost.dev/analysis={analysis}", "-o", "json").stdout
        proposed = [
            (item["metadata"]["namespace"], item["metadata"]["name"])
            for item in json.loads(listed)["items"]
            if item["spec"]["targetRef"]["name"] in ROLLED_OUT
        ]
        assert proposed, f"no recommendation for {sorted(ROLLED_OUT)}"
        _approve_through_the_status_api(cluster, f"http://127.0.0.1:{api_port}", [*proposed, *made_here])
        # Each pricing pass lists the volume claims; PricingReady is the cost analyzer's condition.
        poll(f"the profile {profile} priced", lambda: "PricingReady" in cluster.kubectl(
            "get", "clustercostprofile", profile, "-o", "jsonpath={.status.conditions[*].type}").stdout)  # fmt: skip
        for rec_namespace, rec_name in made_here:  # no Analysis owns them
            cluster.kubectl("delete", "rec", rec_name, "-n", rec_namespace)
        # The operator deletes a finished Analysis once its ttlAfterFinished is over.
        poll(
            f"the Analysis {short_lived} deleted",
            lambda: _phase(cluster, short_lived) == "gone",
            timeout_s=RUN_DEADLINE_S,
        )
        # What the chart's pre-delete hook runs, as its ServiceAccount, while the operator still runs
        # (kwok only plays the hook's Pod).
        hook = cluster.mint_service_account_kubeconfig(namespace, "kcost-uninstall")
        cleanup = subprocess.run(
            [sys.executable, "-m", "kcost.cli.uninstall", "--timeout", "60"],
            env={**os.environ, "KUBECONFIG": str(hook), "PYTHONSAFEPATH": "1"},
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
        # The Analysis, the two profiles and the two policies.
        assert "deleted 5 kcost objects; none left" in cleanup.stdout
        # While the release is installed: the proof asks the authorizer about the chart's own roles.
        _every_grant_is_needed(cluster, accounts)
    finally:
        for process in processes:
            process.stop()
        _helm(cluster, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m")
    # An ApiException says "(403) Reason: Forbidden"; kopf says "Not enough permissions" for a watch.
    refused = {
        process.name: line
        for process in processes
        for line in process.output().splitlines()
        if "forbidden" in line.lower() or "permissions" in line.lower()
    }
    assert not refused, f"refused with the chart's roles: {refused}"
    # The recommendations go with their Analysis (owner references, the garbage collector).
    poll("no kcost object left", lambda: cluster.kubectl("get", "kcost", "-A", "-o", "name").stdout.strip() == "")
    assert cluster.kubectl("get", "clusterkopfpeering", "kcost", check=False).returncode != 0, "the peering is left"
    for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
        assert cluster.kubectl("get", kind, "kcost", check=False).returncode != 0, f"{kind} kcost left behind"
    for created in (namespace, kinds, resizing):
        cluster.kubectl("delete", "namespace", created, "--wait=false")


def _approve_through_the_status_api(cluster: DevCluster, api_url: str, recommendations: list[tuple[str, str]]) -> None:
    """A team member approves each recommendation through the status API; the operator rolls each out (a CronJob's
    change is judged by its next run, made here as `kubectl create job --from` does)."""
    poll("the status API ready", lambda: _http_status(f"{api_url}/readyz") == 200)
    tokens = {namespace: _approver_token(cluster, namespace) for namespace in sorted({ns for ns, _ in recommendations})}
    for namespace, name in recommendations:
        url = f"{api_url}/api/v1/recommendations/{namespace}/{name}/approve"
        # Until the aggregated edit role and the new binding reach the status API's access cache.
        poll(f"{namespace}/{name} approved", partial(_post_ok, url, tokens[namespace]))
    for namespace, name in recommendations:
        if name.startswith("cronjob-"):
            _make_the_next_run(cluster, namespace, name)
        rolled_out = partial(_phase_in, cluster, namespace, name, TERMINAL_PHASES)
        try:
            poll(f"{namespace}/{name} rolled out", rolled_out, timeout_s=ROLLOUT_DEADLINE_S)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{_rollout_story(cluster, namespace, name)}") from None


def _make_the_next_run(cluster: DevCluster, namespace: str, name: str) -> None:
    """Once the CronJob's rollout waits for its next run, that run, made now rather than at the schedule."""
    cronjob_name = name.removeprefix("cronjob-").removesuffix("-right-sizing")
    ready = ("get", "rec", name, "-n", namespace, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].message}")
    poll(
        f"{namespace}/{name} waiting for the next run",
        lambda: "waiting for the next run" in cluster.kubectl(*ready).stdout,
        timeout_s=ROLLOUT_DEADLINE_S,
    )
    cluster.kubectl("create", "job", f"{cronjob_name}-run", f"--from=cronjob/{cronjob_name}", "-n", namespace)


def _rollout_story(cluster: DevCluster, namespace: str, name: str) -> str:
    """What a stuck rollout's recommendation, its workload and their pods show, for the failure message."""
    rec = json.loads(cluster.kubectl("get", "rec", name, "-n", namespace, "-o", "json").stdout)
    target = rec["spec"]["targetRef"]
    workload = cluster.kubectl("get", target["kind"].lower(), target["name"], "-n", namespace, "-o", "json").stdout
    pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout
    return f"recommendation status: {json.dumps(rec.get('status'))}\nworkload: {workload[-3000:]}\npods:\n{pods}"


def _approver_token(cluster: DevCluster, namespace: str) -> str:
    """A token of a new ServiceAccount with the edit role in ``namespace``, bound to one of its pods."""
    approver = f"approver-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "serviceaccount", approver, "-n", namespace)
    cluster.kubectl("create", "rolebinding", approver, "-n", namespace, "--clusterrole=edit",
                    f"--serviceaccount={namespace}:{approver}")  # fmt: skip
    # Bound to a pod of its own, the token carries the pod's and its node's names as extras, impersonated along.
    node = cluster.kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout
    _apply(cluster, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": approver, "namespace": namespace},
        "spec": {"serviceAccountName": approver, "nodeName": node, "containers": [{"name": "sh", "image": "sh:1"}]},
    })  # fmt: skip
    uid = cluster.kubectl("get", "pod", approver, "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    bound = ("--bound-object-kind=Pod", f"--bound-object-name={approver}", f"--bound-object-uid={uid}")
    return cluster.kubectl("create", "token", approver, "-n", namespace, *bound).stdout.strip()


def _phase_in(cluster: DevCluster, namespace: str, name: str, phases: tuple[str, ...]) -> bool:
    query = ("get", "rec", name, "-n", namespace, "-o", "jsonpath={.status.phase}")
    return cluster.kubectl(*query).stdout in phases


def _post_ok(url: str, token: str) -> bool:
    request = urllib.request.Request(url, method="POST", data=b"{}")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status) == 200
    except OSError:  # HTTPError included: refused while the access cache still says no
        return False


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def _every_grant_is_needed(cluster: DevCluster, accounts: list[rbac_audit.Account]) -> None:
    unneeded: set[str] = set()
    for account in accounts:
        requests = rbac_audit.requests_of(cluster.audit_log, account)
        proofs = rbac_audit.prove(cluster, account, requests)
        print(f"--- {account.user}: each grant and a request that needs it ---\n{rbac_audit.table(proofs)}")
        unneeded |= {str(proof.grant) for proof in proofs if proof.needed_by is None}
    unexplained = sorted(unneeded - set(UNREACHED))
    # Not an error: which paths a run reaches depends on what it proposes; the table shows what this one proved.
    print(f"listed in UNREACHED and proved needed by this run: {sorted(set(UNREACHED) - unneeded)}")
    assert not unexplained, f"grants no request needed (drop them, or say in UNREACHED why they stay): {unexplained}"
