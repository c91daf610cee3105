"""The status API over fake reviews and writes, through aiohttp's test client (a real HTTP server)."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kcost.history.models import DailyCost, WorkloadDailyCost
from kcost.history.store import HistoryStore
from kcost.statusapi import app
from kcost.statusapi.auth import Identity
from kcost.statusapi.cache import Caches
from kcost.statusapi.state import State
from tests.statusapi import fakes

Client = TestClient[web.Request, web.Application]

RECS = "optimizationrecommendations"
ALICE = Identity("alice", ("system:authenticated",))
ADMIN = Identity("admin", ("system:masters",))


def _fill(caches: Caches, writes: fakes.FakeWrites) -> None:
    recs = caches.kinds["OptimizationRecommendation"]
    for namespace in ("shop", "bank"):
        for index in range(5):
            body = fakes.recommendation(namespace, f"rec-{index}", savings=float(index + 1))
            recs.observe("ADDED", body)
            writes.objects[(namespace, f"rec-{index}")] = body
    caches.kinds["ClusterCostProfile"].observe("ADDED", fakes.sample("ClusterCostProfile"))
    caches.kinds["Analysis"].observe("ADDED", fakes.sample("Analysis"))


@pytest.fixture
def reviews() -> fakes.FakeReviews:
    grants = {
        ("alice", "list", RECS, "shop"),
        ("alice", "get", RECS, "shop"),
        ("alice", "patch", RECS, "shop"),
        *{
            ("admin", verb, plural, "")
            for verb in ("list", "get", "create", "patch")
            for plural in (RECS, "analyses", "clustercostprofiles")
        },
    }
    return fakes.FakeReviews(tokens={"alice-token": ALICE, "admin-token": ADMIN}, grants=grants)


@pytest.fixture
def writes() -> fakes.FakeWrites:
    return fakes.FakeWrites()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[HistoryStore]:
    history = HistoryStore()
    await history.connect(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    start = datetime.date(2026, 3, 1)
    await history.upsert_daily_costs(
        DailyCost(cluster="default", namespace=ns, day=start + datetime.timedelta(days=d), cpu_usd=1.0, total_usd=2.0)
        for ns in ("shop", "bank")
        for d in range(14)
    )
    yield history
    await history.close()


@pytest.fixture
def state(reviews: fakes.FakeReviews, writes: fakes.FakeWrites, store: HistoryStore) -> State:
    built = fakes.state(reviews, writes, store)
    _fill(built.caches, writes)
    return built


@pytest.fixture
async def client(state: State) -> AsyncIterator[Client]:
    async with TestClient(TestServer(app.build(state))) as test_client:
        yield test_client


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_no_token_is_401_problem_json(client: Client) -> None:
    answer = await client.get("/api/v1/recommendations")
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.content_type == "application/problem+json"
    assert "bearer token" in (await answer.json())["detail"]


async def test_a_token_the_api_server_refuses_is_401(client: Client) -> None:
    answer = await client.get("/api/v1/recommendations", headers=_auth("stolen"))
    assert answer.status == 401


async def test_health_needs_no_token(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await (await client.get("/readyz")).json()) == {"status": "ok"}


async def test_a_user_sees_only_the_namespaces_rbac_lets_them_list(client: Client) -> None:
    answer = await client.get("/api/v1/recommendations", headers=_auth("alice-token"))
    assert answer.status == 200
    namespaces = {item["metadata"]["namespace"] for item in (await answer.json())["items"]}
    assert namespaces == {"shop"}


async def test_403_names_the_user_verb_and_namespace(client: Client) -> None:
    answer = await client.get("/api/v1/recommendations?namespace=bank", headers=_auth("alice-token"))
    assert answer.status == 403
    detail = (await answer.json())["detail"]
    assert "alice" in detail
    assert "list" in detail
    assert "bank" in detail


async def test_pages_follow_the_cursor_in_savings_order_without_repeats(client: Client) -> None:
    seen: list[float] = []
    cursor = None
    while True:
        query = "/api/v1/recommendations?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(query, headers=_auth("admin-token"))).json()
        seen += [item["spec"]["estimatedMonthlySavings"] for item in page["items"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == 10


async def test_a_page_asked_again_follows_a_change_and_each_users_namespaces(client: Client, state: State) -> None:
    def names(page: dict[str, list[dict[str, dict[str, str]]]]) -> list[str]:
        return [f"{item['metadata']['namespace']}/{item['metadata']['name']}" for item in page["items"]]

    query = "/api/v1/recommendations?limit=2"
    before = await (await client.get(query, headers=_auth("admin-token"))).json()
    assert names(before) == ["bank/rec-4", "shop/rec-4"]
    state.caches.kinds["OptimizationRecommendation"].observe("ADDED", fakes.recommendation("bank", "big", 99.0))
    after = await (await client.get(query, headers=_auth("admin-token"))).json()
    assert names(after) == ["bank/big", "bank/rec-4"]
    # The same query by a user who sees fewer namespaces is not answered from the admin's page.
    alices = await (await client.get(query, headers=_auth("alice-token"))).json()
    assert names(alices) == ["shop/rec-4", "shop/rec-3"]


async def test_filters_apply(client: Client) -> None:
    page = await (
        await client.get("/api/v1/recommendations?minSavings=4&sort=name", headers=_auth("admin-token"))
    ).json()
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in page["items"]] == [
        ("bank", "rec-3"),
        ("bank", "rec-4"),
        ("shop", "rec-3"),
        ("shop", "rec-4"),
    ]


async def test_a_bad_parameter_is_422_naming_it(client: Client) -> None:
    for query, field in (("minSavings=lots", "minSavings"), ("sort=random", "sort"), ("cursor=%%%", "cursor")):
        answer = await client.get(f"/api/v1/recommendations?{query}", headers=_auth("admin-token"))
        assert answer.status == 422, query
        assert (await answer.json())["field"] == field


async def test_approve_writes_as_the_caller(client: Client, writes: fakes.FakeWrites) -> None:
    answer = await client.post(
        "/api/v1/recommendations/shop/rec-1/approve", headers=_auth("alice-token"), json={"reason": "looks right"}
    )
    assert answer.status == 200, await answer.text()
    assert (await answer.json())["spec"]["approval"]["approvedBy"] == "alice"
    write, identity, patch = writes.made[-1]
    assert write == "patch"
    assert identity == ALICE
    assert patch == {"spec": {"approval": {"approved": True, "reason": "looks right"}}}


async def test_rollback_of_a_proposal_is_409_naming_the_phase(client: Client) -> None:
    answer = await client.post("/api/v1/recommendations/shop/rec-1/rollback", headers=_auth("alice-token"))
    assert answer.status == 409
    assert (await answer.json())["field"] == "status.phase"


async def test_create_analysis_validates_the_spec(client: Client) -> None:
    answer = await client.post("/api/v1/analyses", headers=_auth("admin-token"), json={"spec": {"window": "forever"}})
    assert answer.status == 422
    assert (await answer.json())["field"].startswith("spec.")
    created = await client.post(
        "/api/v1/analyses", headers=_auth("admin-token"), json={"spec": {"profileRef": {"name": "default"}}}
    )
    assert created.status == 201, await created.text()
    assert (await created.json())["metadata"]["name"].startswith("api-")


async def test_history_is_summed_per_week_for_visible_namespaces(client: Client) -> None:
    query = "/api/v1/costs/history?from=2026-03-01&to=2026-03-14&step=week&cluster=default"
    mine = await (await client.get(query, headers=_auth("alice-token"))).json()
    assert {point["group"] for point in mine["points"]} == {"shop"}
    assert mine["totals"]["totalUsd"] == pytest.approx(28.0)
    everyone = await (await client.get(query, headers=_auth("admin-token"))).json()
    assert everyone["totals"]["totalUsd"] == pytest.approx(56.0)
    # 2026-03-01 is a Sunday: its week began on Monday, 23 February.
    assert sorted({point["periodStart"] for point in everyone["points"]}) == ["2026-02-23", "2026-03-02", "2026-03-09"]


async def _workload_costs(store: HistoryStore) -> None:
    """A week of shop/web (team a, 1 USD a day), shop/db (no team, 2), bank/api (team a, 4), idle 8."""
    await store.upsert_workload_costs(
        WorkloadDailyCost(
            cluster="default",
            namespace=namespace,
            kind=kind,
            name=name,
            day=datetime.date(2026, 3, 2) + datetime.timedelta(days=d),
            total_usd=usd,
            labels=labels,
        )
        for namespace, kind, name, usd, labels in (
            ("shop", "Deployment", "web", 1.0, {"team": "a"}),
            ("shop", "StatefulSet", "db", 2.0, {}),
            ("bank", "Deployment", "api", 4.0, {"team": "a"}),
            ("__idle__", "__idle__", "__idle__", 8.0, {}),
        )
        for d in range(7)
    )


async def test_history_by_workload_and_by_label_for_visible_namespaces(client: Client, store: HistoryStore) -> None:
    await _workload_costs(store)
    query = "/api/v1/costs/history?from=2026-03-02&to=2026-03-08&step=week&cluster=default"
    answer = await client.get(f"{query}&groupBy=workload", headers=_auth("alice-token"))
    assert answer.status == 200, await answer.text()
    mine = await answer.json()
    assert mine["groupBy"] == "workload"
    assert {(p["group"], p["totalUsd"]) for p in mine["points"]} == {
        ("shop/Deployment/web", 7.0),
        ("shop/StatefulSet/db", 14.0),
    }
    everyone = await (await client.get(f"{query}&groupBy=label:team", headers=_auth("admin-token"))).json()
    assert everyone["groupBy"] == "label:team"
    assert {(p["group"], p["totalUsd"]) for p in everyone["points"]} == {
        ("a", 35.0),
        ("__unallocated__", 14.0),
        ("__idle__", 56.0),
    }
    mine = await (await client.get(f"{query}&groupBy=label:team", headers=_auth("alice-token"))).json()
    assert {(p["group"], p["totalUsd"]) for p in mine["points"]} == {("a", 7.0), ("__unallocated__", 14.0)}


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("colour", "expected namespace, cluster, workload or label:KEY, got 'colour'"),
        ("label=team", "expected namespace, cluster, workload or label:KEY, got 'label=team'"),
        ("label:-team", "'-team' is not a Kubernetes label key"),
    ],
)
async def test_a_bad_grouping_names_the_parameter_and_the_accepted_forms(
    client: Client, group_by: str, expected: str
) -> None:
    answer = await client.get(f"/api/v1/costs/history?cluster=default&groupBy={group_by}", headers=_auth("admin-token"))
    assert answer.status == 422, await answer.text()
    problem = await answer.json()
    assert problem["field"] == "groupBy"
    assert problem["detail"].startswith(f"groupBy: {expected}")


async def test_forecast_covers_the_visible_namespaces_and_falls_back_on_short_history(
    client: Client, store: HistoryStore
) -> None:
    today = datetime.datetime.now(datetime.UTC).date()
    # Ten days: too short for prophet, so the answer says which simpler model it used, and why.
    await store.upsert_daily_costs(
        DailyCost(cluster="default", namespace=ns, day=today - datetime.timedelta(days=d), total_usd=cost)
        for ns, cost in (("shop", 3.0), ("bank", 5.0))
        for d in range(10)
    )
    query = "/api/v1/costs/forecast?cluster=default&horizonDays=7"
    answer = await client.get(query, headers=_auth("alice-token"))
    assert answer.status == 200, await answer.text()
    mine = await answer.json()
    assert mine["method"] == "seasonal-naive"
    assert "10 days of history" in mine["reason"]
    assert [point["day"] for point in mine["points"]] == [
        str(today + datetime.timedelta(days=ahead)) for ahead in range(1, 8)
    ]
    assert mine["totalUsd"] == pytest.approx(7 * 3.0), "alice sees shop only"
    everyone = await (await client.get(query, headers=_auth("admin-token"))).json()
    assert everyone["totalUsd"] == pytest.approx(7 * 8.0)
    bank = await (await client.get(f"{query}&namespace=bank", headers=_auth("admin-token"))).json()
    assert bank["namespace"] == "bank"
    assert bank["totalUsd"] == pytest.approx(7 * 5.0)
    hidden = await client.get(f"{query}&namespace=bank", headers=_auth("alice-token"))
    assert hidden.status == 404
    assert "namespace bank of cluster default" in (await hidden.json())["detail"]


async def test_reviews_are_cached(client: Client, reviews: fakes.FakeReviews) -> None:
    await client.get("/api/v1/clusters", headers=_auth("admin-token"))
    before = reviews.calls
    for _ in range(5):
        assert (await client.get("/api/v1/clusters", headers=_auth("admin-token"))).status == 200
    assert reviews.calls == before


async def test_over_the_rate_limit_is_429(reviews: fakes.FakeReviews) -> None:
    # A burst of 2, then one request per 100 s: however slow the machine, no token comes back during the test.
    limited = fakes.state(reviews, rate=0.01, burst=2.0)
    async with TestClient(TestServer(app.build(limited))) as test_client:
        answers = [(await test_client.get("/api/v1/clusters", headers=_auth("admin-token"))).status for _ in range(5)]
    assert answers == [200, 200, 429, 429, 429]
    async with TestClient(TestServer(app.build(limited))) as test_client:
        refused = await test_client.get("/api/v1/clusters", headers=_auth("admin-token"))
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1


async def test_openapi_document_and_docs_page(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert "/api/v1/recommendations" in document["paths"]
    assert any(name.startswith("OptimizationRecommendation") for name in document["components"]["schemas"])
    page = await (await client.get("/docs")).text()
    assert "/openapi.json" in page
    assert "https://" not in page


async def test_the_dashboard_is_served_without_a_token_and_reaches_nothing_outside(client: Client) -> None:
    page = await client.get("/")
    assert page.status == 200
    assert page.content_type == "text/html"
    html = await page.text()
    # Relative URLs: the page works behind `kubectl cost dashboard`'s path prefix too.
    assert 'src="static/dashboard.js"' in html
    for path, content_type in (("/static/dashboard.js", "text/javascript"), ("/static/dashboard.css", "text/css")):
        answer = await client.get(path)
        assert answer.status == 200, path
        assert answer.content_type == content_type
        assert "https://" not in await answer.text(), f"{path} must not load anything from outside"
    # The data behind the page still needs a token.
    assert (await client.get("/api/v1/recommendations")).status == 401


async def test_permissions_say_which_decisions_rbac_allows_the_caller(
    client: Client, reviews: fakes.FakeReviews
) -> None:
    reviews.grants.add(("alice", "reject", RECS, "shop"))
    shop = await (await client.get("/api/v1/permissions/shop", headers=_auth("alice-token"))).json()
    # alice may patch in shop and has the reject verb, not the approve verb.
    assert shop == {"namespace": "shop", "approve": False, "reject": True, "rollback": False}
    bank = await (await client.get("/api/v1/permissions/bank", headers=_auth("alice-token"))).json()
    assert bank == {"namespace": "bank", "approve": False, "reject": False, "rollback": False}
    reviews.grants.add(("admin", "approve", RECS, ""))
    admin = await (await client.get("/api/v1/permissions/bank", headers=_auth("admin-token"))).json()
    assert admin["approve"] is True
    assert admin["rollback"] is True
    assert (await client.get("/api/v1/permissions/shop")).status == 401


async def test_unknown_path_is_problem_json(client: Client) -> None:
    answer = await client.get("/api/v1/nothing", headers=_auth("admin-token"))
    assert answer.status == 404
    assert answer.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        # Found by schemathesis: the default start, 30 days before year 1, overflowed into a 500.
        ("to=0001-01-01&cluster=default", "to"),
        ("from=9999-12-31&to=9999-12-31&cluster=default", "to"),
        ("cluster=%C3%BE%0Be%03L%F4%81%BB%BF", "cluster"),
        ("cluster=Not_A_Name", "cluster"),
    ],
)
async def test_history_out_of_range_days_and_bad_cluster_names_are_422(
    client: Client, query: str, parameter: str
) -> None:
    answer = await client.get(f"/api/v1/costs/history?{query}", headers=_auth("admin-token"))
    assert answer.status == 422, await answer.text()
    assert parameter in (await answer.json())["detail"]
