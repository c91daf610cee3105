"""``kcost api`` against a real API server with kcost's admission webhook: users with bearer tokens
(ServiceAccount tokens, checked by TokenReview), RBAC by SubjectAccessReview, writes impersonated."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.api_support import USERS, Api, serve_api
from e2e.webhook_support import poll
from kcost.history.models import DailyCost, WorkloadDailyCost
from kcost.history.store import HistoryStore
from tests.statusapi import fakes

HISTORY_START = datetime.date(2026, 3, 1)
FUZZ_SEED = "20261201"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from serve_api(tmp_path_factory.mktemp("api"))


@pytest.fixture
def namespaces(api: Api) -> Iterator[tuple[str, str]]:
    """Two namespaces, each with one proposal ``rec-0`` (saving 5) and ``rec-1`` (saving 10)."""
    pair = (f"shop-{uuid.uuid4().hex[:6]}", f"bank-{uuid.uuid4().hex[:6]}")
    for namespace in pair:
        assert api.hooked.kubectl("create", "namespace", namespace).returncode == 0
        for index, savings in enumerate((5.0, 10.0)):
            body = fakes.recommendation(namespace, f"rec-{index}", savings=savings, phase=None)
            assert api.hooked.apply(body).returncode == 0
    yield pair
    for namespace in pair:
        api.hooked.kubectl("delete", "namespace", namespace, "--wait=false")


def _names(page: dict[str, Any]) -> set[tuple[str, str]]:
    return {(item["metadata"]["namespace"], item["metadata"]["name"]) for item in page["items"]}


def test_no_token_is_401_and_a_bad_token_too(api: Api) -> None:
    assert api.call("GET", "/api/v1/recommendations", None)[0] == 401
    status, problem = api.call("GET", "/api/v1/recommendations", "not-a-token")
    assert status == 401
    assert "TokenReview" in problem["detail"]
    assert api.call("GET", "/healthz", None)[0] == 200


def test_a_user_sees_only_the_namespace_rbac_lets_them_read(api: Api, namespaces: tuple[str, str]) -> None:
    shop, bank = namespaces
    user, token = api.user(f"viewer-{uuid.uuid4().hex[:6]}")
    api.grant(shop, user, ["get", "list", "watch"])
    expected = {(shop, "rec-0"), (shop, "rec-1")}
    poll(
        "the viewer's recommendations",
        lambda: _names(api.call("GET", "/api/v1/recommendations?limit=500", token)[1]) == expected,
    )
    status, problem = api.call("GET", f"/api/v1/recommendations?namespace={bank}", token)
    assert status == 403
    assert user in problem["detail"]
    assert bank in problem["detail"]
    assert api.call("GET", f"/api/v1/recommendations/{bank}/rec-0", token)[0] == 403
    assert api.call("GET", f"/api/v1/recommendations/{shop}/rec-0", token)[0] == 200

    # Costs: the history of the namespace the user may read, and only that.
    asyncio.run(_write_history(api.database_url, namespaces))
    query = f"/api/v1/costs/history?cluster=default&from={HISTORY_START}&to={HISTORY_START + datetime.timedelta(6)}"
    status, history = api.call("GET", query, token)
    assert status == 200, history
    assert {point["group"] for point in history["points"]} == {shop}
    expected_total = asyncio.run(_store_total(api.database_url, shop))
    assert history["totals"]["totalUsd"] == pytest.approx(expected_total)
    # By workload and by label: still only that namespace's workloads, and the same total.
    for group_by, groups in (("workload", {f"{shop}/Deployment/web"}), ("label:team", {"a"})):
        status, grouped = api.call("GET", f"{query}&groupBy={group_by}", token)
        assert status == 200, grouped
        assert {point["group"] for point in grouped["points"]} == groups
        assert grouped["totals"]["totalUsd"] == pytest.approx(expected_total)


async def _write_history(database_url: str, namespaces: tuple[str, str]) -> None:
    store = HistoryStore()
    await store.connect(database_url)
    rows = [
        DailyCost(
            cluster="default",
            namespace=namespace,
            day=HISTORY_START + datetime.timedelta(days=day),
            cpu_usd=1.5 * (index + 1),
            total_usd=2.5 * (index + 1),
        )
        for index, namespace in enumerate(namespaces)
        for day in range(7)
    ]
    await store.upsert_daily_costs(rows)
    await store.upsert_workload_costs(
        WorkloadDailyCost(
            cluster=row.cluster,
            namespace=row.namespace,
            kind="Deployment",
            name="web",
            day=row.day,
            cpu_usd=row.cpu_usd,
            total_usd=row.total_usd,
            labels={"team": "a"},
        )
        for row in rows
    )
    await store.close()


async def _store_total(database_url: str, namespace: str) -> float:
    """The namespace's total as the history store's own query sums it (the one `kcost` and Grafana use)."""
    store = HistoryStore()
    await store.connect(database_url)
    end = HISTORY_START + datetime.timedelta(6)
    rows = await store.daily_costs("default", HISTORY_START, end, namespaces=[namespace], group_by=[])
    await store.close()
    return sum(row.total_usd for row in rows)


def test_an_approval_through_the_api_is_stamped_with_the_caller(api: Api, namespaces: tuple[str, str]) -> None:
    shop, _ = namespaces
    user, token = api.user(f"alice-{uuid.uuid4().hex[:6]}")
    api.grant(shop, user, ["get", "list", "watch", "patch"])
    poll(
        "alice sees her recommendation",
        lambda: api.call("GET", f"/api/v1/recommendations/{shop}/rec-1", token)[0] == 200,
    )
    # Without the `approve` verb, the webhook refuses the impersonated write: it saw alice, not kcost.
    status, problem = api.call("POST", f"/api/v1/recommendations/{shop}/rec-1/approve", token, {"reason": "cheap"})
    assert status == 403, problem
    assert "approve" in problem["detail"]

    api.grant(shop, user, ["approve"])
    answer: dict[str, Any] = {}

    def approved() -> bool:
        nonlocal answer
        status, answer = api.call("POST", f"/api/v1/recommendations/{shop}/rec-1/approve", token, {"reason": "cheap"})
        return status == 200

    poll("alice's approval through the API", approved)
    assert answer["spec"]["approval"]["approvedBy"] == user
    stored = json.loads(api.hooked.kubectl("get", "rec", "rec-1", "-n", shop, "-o", "json").stdout)
    assert stored["spec"]["approval"]["approvedBy"] == user
    assert stored["spec"]["approval"]["reason"] == "cheap"


def test_a_change_made_with_kubectl_arrives_on_the_event_stream(api: Api, namespaces: tuple[str, str]) -> None:
    shop, _ = namespaces
    user, token = api.user(f"watcher-{uuid.uuid4().hex[:6]}")
    api.grant(shop, user, ["get", "list", "watch"])
    poll("the watcher's access", lambda: api.call("GET", f"/api/v1/recommendations/{shop}/rec-0", token)[0] == 200)
    seen: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        request = urllib.request.Request(f"{api.url}/api/v1/events?timeoutSeconds=30")
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=60) as stream:
            for line in stream:
                connected.set()
                if line.startswith(b"data: "):
                    event = json.loads(line[6:])
                    seen.append(event)
                    if event["object"]["metadata"]["name"] == "rec-2":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(30)
    assert api.hooked.apply(fakes.recommendation(shop, "rec-2", savings=1.0, phase=None)).returncode == 0
    listener.join(60)
    assert any(e["object"]["metadata"]["name"] == "rec-2" and e["type"] == "ADDED" for e in seen), seen


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    api: Api, namespaces: tuple[str, str], tmp_path: Path
) -> None:
    user, token = api.user(f"admin-{uuid.uuid4().hex[:6]}")
    bound = api.hooked.kubectl(
        "create",
        "clusterrolebinding",
        f"api-{uuid.uuid4().hex[:6]}",
        "--clusterrole=cluster-admin",
        f"--serviceaccount={USERS}:{user.rsplit(':', 1)[1]}",
    )
    assert bound.returncode == 0, bound.stderr
    poll("the admin's access", lambda: api.call("GET", "/api/v1/clusters", token)[0] == 200)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "run",
            f"{api.url}/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            # The stream never ends by itself; writes are tested above, with RBAC and the webhook.
            "--exclude-path",
            "/api/v1/events",
            "--exclude-method",
            "POST",
            # A fixed seed: CI runs the same cases every time, so a failure reproduces. Hunt for
            # new ones with another seed and more examples (KCOST_FUZZ_SEED, KCOST_FUZZ_EXAMPLES).
            "--seed",
            os.environ.get("KCOST_FUZZ_SEED", FUZZ_SEED),
            "--max-examples",
            os.environ.get("KCOST_FUZZ_EXAMPLES", "30"),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
