"""A policy's PromQL health checks against a local HTTP server that answers like Prometheus's /api/v1/query."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kcost.analyzers.metrics import prometheus as prometheus_api
from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.policy import PromQLCheck, RolloutStrategy
from kcost.api.v1alpha1.profile import ClusterCostProfile
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation
from kcost.config import Config
from kcost.operator.rollout import promql_checks, worker
from kcost.operator.rollout.promql_checks import NoPrometheus


def vector(*values: str, labels: tuple[dict[str, str], ...] = ()) -> dict[str, Any]:
    result = [{"metric": labels[i] if i < len(labels) else {}, "value": [1.0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


# What the fake Prometheus answers, by query.
ANSWERS: dict[str, Any] = {
    'sum(rate(errors{namespace="shop",deployment="web"}[1m]))': vector("0.002"),
    "high": vector("5"),
    "low": vector("0.1"),
    "empty": vector(),
    "several": vector("1", "2", labels=({"pod": "a"}, {"pod": "b"})),
    "nan": vector("NaN"),
    "scalar": {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "0.5"]}},
    "bad(": {"status": "error", "errorType": "bad_data", "error": "parse error: unclosed left parenthesis"},
}


def check(query: str, *, max_value: float | None = None, min_value: float | None = None) -> PromQLCheck:
    return PromQLCheck(name="error_rate", query=query, max_value=max_value, min_value=min_value)


@pytest.fixture
async def prometheus() -> AsyncIterator[tuple[PrometheusClient, list[str]]]:
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        query = request.query["query"]
        asked.append(query)
        if query == "down":
            return web.Response(status=503)
        return web.json_response(ANSWERS[query], status=400 if query == "bad(" else 200)

    app = web.Application()
    app.router.add_get("/api/v1/query", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield PrometheusClient(f"http://127.0.0.1:{runner.addresses[0][1]}", attempts=1), asked
    await runner.cleanup()


def test_placeholders_are_filled_with_the_workload_and_unsafe_values_refused() -> None:
    query = 'sum(x{namespace="$namespace",deployment=~"$workload"}) + $namespaces'
    filled = promql_checks.substitute(query, namespace="shop", workload="web-1.v2")
    assert filled == 'sum(x{namespace="shop",deployment=~"web-1.v2"}) + $namespaces'
    for unsafe in ('web"} or vector(100) #', "a'b", "a`b", "a\\b", "a\nb", ""):
        with pytest.raises(ValueError, match=r"\$workload would be .*not a Kubernetes name"):
            promql_checks.substitute(query, namespace="shop", workload=unsafe)


@pytest.mark.parametrize(
    ("value", "bounds", "passed", "message"),
    [
        (0.002, {"max_value": 0.05}, True, "error_rate=0.002 ≤ 0.05"),
        (0.05, {"max_value": 0.05}, True, "error_rate=0.05 ≤ 0.05"),
        (0.9, {"min_value": 0.5}, True, "0.5 ≤ error_rate=0.9"),
        (0.9, {"min_value": 0.5, "max_value": 1}, True, "0.5 ≤ error_rate=0.9 ≤ 1"),
        (5, {"max_value": 1}, False, "PromQL check error_rate: error_rate=5 above maxValue 1"),
        (0.1, {"min_value": 0.5, "max_value": 1}, False, "PromQL check error_rate: error_rate=0.1 below minValue 0.5"),
    ],
)
def test_a_value_is_judged_against_its_bounds(
    value: float, bounds: dict[str, float], passed: bool, message: str
) -> None:
    assert promql_checks.judge(check("q", **bounds), value) == promql_checks.CheckResult("error_rate", passed, message)


async def test_the_filled_in_query_runs_and_its_value_passes(prometheus: tuple[PrometheusClient, list[str]]) -> None:
    client, asked = prometheus
    query = 'sum(rate(errors{namespace="$namespace",deployment="$workload"}[1m]))'
    result = await promql_checks.evaluate(client, check(query, max_value=0.05), namespace="shop", workload="web")
    assert result == promql_checks.CheckResult("error_rate", True, "error_rate=0.002 ≤ 0.05")
    assert asked == ['sum(rate(errors{namespace="shop",deployment="web"}[1m]))']


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("high", re.escape("error_rate=5 above maxValue 1")),
        ("empty", re.escape("'empty' returned no data (add `or vector(0)` if no data means healthy)")),
        (
            "several",
            re.escape("'several' returned 2 series, not one number ({'pod': 'a'}, {'pod': 'b'}…); aggregate it"),
        ),
        ("nan", re.escape("'nan' returned NaN")),
        ("bad(", "could not evaluate it: http://127.0.0.1:.* refused 'bad\\(': parse error: unclosed left parenthesis"),
        ("down", "Prometheus at http://127.0.0.1:[0-9]+ did not answer: .*HTTP 503"),
    ],
)
async def test_a_check_that_fails_or_cannot_be_evaluated_says_which_and_why(
    prometheus: tuple[PrometheusClient, list[str]], query: str, why: str
) -> None:
    client, _ = prometheus
    result = await promql_checks.evaluate(client, check(query, max_value=1), namespace="shop", workload="web")
    assert not result.passed
    assert result.message.startswith("PromQL check error_rate: ")
    assert re.search(why, result.message), result.message


async def test_a_scalar_answer_is_one_value(prometheus: tuple[PrometheusClient, list[str]]) -> None:
    client, _ = prometheus
    result = await promql_checks.evaluate(client, check("scalar", min_value=0.4), namespace="shop", workload="web")
    assert result == promql_checks.CheckResult("error_rate", True, "0.4 ≤ error_rate=0.5")


async def test_an_unreachable_prometheus_fails_the_check_with_its_url() -> None:
    client = PrometheusClient("http://127.0.0.1:9", timeout_s=2, attempts=1)
    result = await promql_checks.evaluate(client, check("up", max_value=1), namespace="shop", workload="web")
    assert not result.passed
    assert "PromQL check error_rate: Prometheus at http://127.0.0.1:9 did not answer: " in result.message


def profile(name: str, url: str = "http://p", generation: int = 1) -> ClusterCostProfile:
    return ClusterCostProfile.model_validate(
        {
            "metadata": {"name": name, "generation": generation},
            "spec": {"provider": "aws", "prometheus": {"url": url}},
        }
    )


def test_the_named_profile_or_the_only_one_is_picked_and_anything_else_says_what_to_fix() -> None:
    a, b = profile("a"), profile("b")
    assert promql_checks.pick_profile([a, b], "b", source="s") is b
    assert promql_checks.pick_profile([a], None, source="s") is a
    with pytest.raises(NoPrometheus, match=r"ClusterCostProfile c \(spec.profileRef of Analysis x\) does not exist"):
        promql_checks.pick_profile([a, b], "c", source="spec.profileRef of Analysis x")
    with pytest.raises(NoPrometheus, match="no ClusterCostProfile exists"):
        promql_checks.pick_profile([], None, source="s")
    with pytest.raises(
        NoPrometheus, match=r"2 ClusterCostProfiles exist \(a, b\) .*set the recommendation's spec.anal"
    ):
        promql_checks.pick_profile([a, b], None, source="the recommendation has no spec.analysisRef")


def recommendation(analysis: str | None = None, stage: str = "Observing") -> OptimizationRecommendation:
    spec: dict[str, Any] = {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "type": "right-sizing",
        "changes": {"containers": []},
        "current": {"containers": []},
        "estimatedMonthlySavings": 1.0,
        "confidence": 0.9,
        "riskLevel": "low",
        "evidence": {"method": "test"},
    }
    if analysis is not None:
        spec["analysisRef"] = {"name": analysis, "runId": "r", "analyzer": "rightsizing"}
    return OptimizationRecommendation.model_validate(
        {
            "metadata": {"name": "deployment-web-right-sizing", "namespace": "shop"},
            "spec": spec,
            "status": {"phase": "Applying", "rollout": {"stage": stage}},
        }
    )


class FakeKube:
    """The profiles and analyses the worker reads."""

    def __init__(self, profiles: list[ClusterCostProfile], analyses: dict[str, str]) -> None:
        self.profiles = profiles
        self.analyses = analyses  # name → its profileRef

    async def list(self, kind: type) -> list[ClusterCostProfile]:
        assert kind is ClusterCostProfile
        return self.profiles

    async def get(self, kind: type, name: str) -> Analysis | None:
        assert kind is Analysis
        if name not in self.analyses:
            return None
        return Analysis.model_validate(
            {"metadata": {"name": name}, "spec": {"profileRef": {"name": self.analyses[name]}}}
        )


async def test_the_worker_asks_the_analysis_profiles_prometheus_with_one_client_per_profile(
    prometheus: tuple[PrometheusClient, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, asked = prometheus
    kube = FakeKube([profile("other", "http://127.0.0.1:9"), profile("used", client.url)], {"run-1": "used"})
    built: list[str] = []
    original = prometheus_api.client_for_profile

    async def counting(kube: Any, profile: ClusterCostProfile, **options: Any) -> PrometheusClient:
        built.append(profile.name)
        return await original(kube, profile, **options)

    monkeypatch.setattr(prometheus_api, "client_for_profile", counting)
    rollouts = worker.RolloutWorker(kube, None, None, None, Config.from_env({}))  # type: ignore[arg-type]
    strategy = RolloutStrategy.model_validate(
        {"healthChecks": {"promql": [{"name": "ok", "query": "low", "maxValue": 1}]}}
    )
    for _ in range(3):
        results = await rollouts._promql_checks(recommendation("run-1"), strategy)
        assert results == (promql_checks.CheckResult("ok", True, "ok=0.1 ≤ 1"),)
    assert built == ["used"]
    assert asked == ["low"] * 3

    # No analysisRef and two profiles: every check fails, asking for one.
    results = await rollouts._promql_checks(recommendation(None), strategy)
    assert [r.passed for r in results] == [False]
    assert "2 ClusterCostProfiles exist (other, used)" in results[0].message
    # The Analysis is gone and one profile is left: that one is used.
    kube.profiles = kube.profiles[1:]
    results = await rollouts._promql_checks(recommendation("gone"), strategy)
    assert results[0].passed
    # Nothing is evaluated once the new values are no longer live.
    assert await rollouts._promql_checks(recommendation("run-1", stage="RollingBack"), strategy) == ()
    assert asked == ["low"] * 4
