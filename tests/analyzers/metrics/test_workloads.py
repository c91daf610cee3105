"""Usage loading: series pooled per container, pods mapped to workloads, namespaces in batches."""

from __future__ import annotations

import asyncio
import datetime
import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from kcost.analyzers.metrics.prometheus import PrometheusClient, PrometheusUnavailable, RangeSeries
from kcost.analyzers.metrics.range_cache import RangeCache
from kcost.analyzers.metrics.workloads import (
    ContainerSeries,
    ContainerSpec,
    QueryPlan,
    Workload,
    finite_points,
    per_container,
    per_second_from_counter,
    replicas_of,
    usage_by_namespace,
)

START = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
T0 = START.timestamp()


def test_series_of_two_pods_are_pooled_in_time_order_on_the_steps_with_both_resources() -> None:
    # Pod a's first step has no memory and its last no CPU (a window's edges): neither is usage
    # that fell to 0. Pod b has no memory series at all, so its memory is 0.
    series = ContainerSeries()
    series.add("a", "cpu", np.array([T0, T0 + 60, T0 + 120]), np.array([0.1, 0.2, 0.3]))
    series.add("a", "memory", np.array([T0 + 60, T0 + 120, T0 + 180]), np.array([100.0, 110.0, 120.0]))
    series.add("b", "cpu", np.array([T0 + 30]), np.array([0.5]))
    ts_s, cpu, memory = series.arrays()
    assert ts_s.tolist() == [T0 + 30, T0 + 60, T0 + 120]
    assert cpu.tolist() == [0.5, 0.2, 0.3]
    assert memory.tolist() == [0.0, 100.0, 110.0]


def test_an_empty_series_gives_empty_arrays() -> None:
    assert all(part.size == 0 for part in ContainerSeries().arrays())


def test_the_step_is_coarsened_so_no_series_exceeds_its_point_budget() -> None:
    week_plan = QueryPlan.for_window(START, START + datetime.timedelta(days=7), datetime.timedelta(minutes=5))
    assert week_plan.step_s == 300
    assert week_plan.rate_window_s == 300
    long_plan = QueryPlan.for_window(START, START + datetime.timedelta(days=14), datetime.timedelta(minutes=5))
    assert long_plan.step_s == 600, "14 days at 5 minutes would be 4,032 points"
    assert long_plan.rate_window_s == 600, "CPU is averaged over the whole step, nothing between steps is lost"
    fine = QueryPlan.for_window(START, START + datetime.timedelta(days=1), datetime.timedelta(minutes=1))
    assert (fine.step_s, fine.rate_window_s) == (60, 300)
    assert fine.window == "86400s"


def test_replicas_by_kind() -> None:
    assert replicas_of("Deployment", {"spec": {"replicas": 0}}) == 0
    assert replicas_of("Deployment", {"spec": {}}) == 1
    assert replicas_of("Rollout", {"spec": {"replicas": 5}}) == 5
    assert replicas_of("DaemonSet", {"status": {"desiredNumberScheduled": 7}}) == 7
    assert replicas_of("Job", {"spec": {"parallelism": 3}}) == 3
    assert replicas_of("CronJob", {"spec": {"jobTemplate": {"spec": {"parallelism": 2}}}}) == 2


def test_container_spec_reads_quantities_and_leaves_unset_values_none() -> None:
    spec = ContainerSpec.from_api({"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}})
    assert (spec.cpu_request, spec.memory_request, spec.cpu_limit, spec.memory_limit) == (0.25, 1024**3, None, None)


def test_forgetting_usage_keeps_the_oom_kills() -> None:
    workload = Workload("Deployment", "shop", "web", 1)
    workload.containers["app"] = ContainerSeries(oom_kills=2)
    workload.containers["app"].add("p", "cpu", np.array([T0]), np.array([1.0]))
    workload.forget_usage()
    assert workload.containers["app"].oom_kills == 2
    assert workload.containers["app"].arrays()[0].size == 0


def test_cpu_and_memory_on_the_same_steps_keep_one_copy_of_the_timestamps() -> None:
    series = ContainerSeries()
    series.add("p", "memory", np.array([T0, T0 + 60]), np.array([5.0, 6.0]))
    series.add("p", "cpu", np.array([T0, T0 + 60]), np.array([1.0, 2.0]))
    series.add("q", "cpu", np.array([T0]), np.array([3.0]))
    series.add("q", "memory", np.array([T0 + 60]), np.array([7.0]))
    assert series.by_pod["cpu"]["p"][0] is series.by_pod["memory"]["p"][0]
    assert series.by_pod["cpu"]["q"][0] is not series.by_pod["memory"]["q"][0]
    ts_s, cpu, memory = series.arrays()  # q has no step with both: only p's
    assert (ts_s.tolist(), cpu.tolist(), memory.tolist()) == ([T0, T0 + 60], [1.0, 2.0], [5.0, 6.0])


# -- against a local server that answers like Prometheus --------------------------------------


def _matrix(series: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> dict[str, Any]:
    result = [{"metric": labels, "values": [[t, v] for t, v in values]} for labels, values in series]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def _vector(series: list[tuple[dict[str, str], str]]) -> dict[str, Any]:
    result = [{"metric": labels, "value": [T0, value]} for labels, value in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def _owners(namespace: str) -> dict[str, Any]:
    pod, rs, job = "kube_pod_owner", "kube_replicaset_owner", "kube_job_owner"
    series = {
        "shop": [
            {"__name__": pod, "pod": "web-1-a", "owner_kind": "ReplicaSet", "owner_name": "web-1"},
            {"__name__": pod, "pod": "web-2-b", "owner_kind": "ReplicaSet", "owner_name": "web-2"},
            {"__name__": rs, "replicaset": "web-1", "owner_kind": "Deployment", "owner_name": "web"},
            {"__name__": rs, "replicaset": "web-2", "owner_kind": "Deployment", "owner_name": "web"},
            {"__name__": pod, "pod": "stray", "owner_kind": "ReplicaSet", "owner_name": "unknown"},
        ],
        "jobs": [
            {"__name__": pod, "pod": "migrate-x", "owner_kind": "Job", "owner_name": "migrate"},
            {"__name__": job, "job_name": "migrate", "owner_kind": "<none>", "owner_name": "<none>"},
            {"__name__": pod, "pod": "nightly-1-y", "owner_kind": "Job", "owner_name": "nightly-1"},
            {"__name__": job, "job_name": "nightly-1", "owner_kind": "CronJob", "owner_name": "nightly"},
        ],
    }
    return {"status": "success", "data": [{**labels, "namespace": namespace} for labels in series[namespace]]}


def _answer(query: str) -> dict[str, Any]:
    namespace = "shop" if 'namespace="shop"' in query else "jobs"
    pods = ["web-1-a", "web-2-b", "stray"] if namespace == "shop" else ["migrate-x", "nightly-1-y"]
    answers: dict[str, Callable[[], dict[str, Any]]] = {
        # The raw counter from a step before the window: 0.5 and 0.7 cores, then a NaN sample.
        "container_cpu_usage_seconds_total": lambda: _matrix(
            [
                (
                    {"__name__": "container_cpu_usage_seconds_total", "pod": pod, "container": "app", "node": "n1"},
                    [(T0 - 300, "10"), (T0, "160"), (T0 + 300, "370"), (T0 + 600, "NaN")],
                )
                for pod in pods
            ]
        ),
        "container_memory_working_set_bytes": lambda: _matrix(
            [({"pod": pod, "container": "app"}, [(T0, "100"), (T0 + 600, "+Inf")]) for pod in pods]
        ),
        "restarts_total": lambda: _vector([({"pod": "web-2-b", "container": "app"}, "2")]),
        "last_terminated_reason": lambda: _vector(
            [({"pod": "web-2-b", "container": "app"}, "1")] if namespace == "shop" else []
        ),
        "network_receive": lambda: _vector([({"pod": pod}, "12.5") for pod in pods]),
    }
    for metric, answer in answers.items():
        if metric in query:
            return answer()
    raise AssertionError(f"unexpected query {query}")


@pytest.fixture
async def prometheus_like() -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []

    async def start(fail_after: int | None = None) -> tuple[str, list[str]]:
        seen: list[str] = []

        async def handle(request: web.Request) -> web.Response:
            selectors = request.query.getall("match[]", [])
            seen.append(request.query.get("query") or " ".join(selectors))
            if fail_after is not None and len(seen) > fail_after:
                return web.Response(status=503)
            if selectors:
                assert len(selectors) == 3, "one request for the three owner series"
                assert {"start", "end"} <= set(request.query), "owners of the window only"
                return web.json_response(_owners("shop" if 'namespace="shop"' in selectors[0] else "jobs"))
            return web.json_response(_answer(request.query["query"]))

        app = web.Application()
        app.router.add_get("/api/v1/query", handle)
        app.router.add_get("/api/v1/query_range", handle)
        app.router.add_get("/api/v1/series", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}", seen

    yield start
    for runner in runners:
        await runner.cleanup()


def _scope() -> list[Workload]:
    return [
        Workload("Deployment", "shop", "web", 2),
        Workload("Job", "jobs", "migrate", 1),
        Workload("CronJob", "jobs", "nightly", 1),
    ]


PLAN = QueryPlan(T0, T0 + 3 * 86400, 300, 300)


async def test_pods_of_every_rollout_and_job_land_on_their_workload(prometheus_like: Any) -> None:
    url, seen = await prometheus_like()
    batches = [batch async for batch in usage_by_namespace(PrometheusClient(url), _scope(), PLAN, traffic=True)]
    assert [[w.name for w in batch] for batch in batches] == [["migrate", "nightly"], ["web"]]
    web_workload = batches[1][0]
    assert web_workload.pods_seen == {"web-1-a", "web-2-b"}, "both ReplicaSets' pods, not the stray one"
    assert web_workload.nodes_seen == ["n1", "n1"]
    ts_s, cpu, memory = web_workload.containers["app"].arrays()
    # NaN and Inf samples are dropped, not zeroed; T0 + 300 has CPU but no memory, so it is left out.
    assert ts_s.tolist() == [T0, T0]
    assert cpu.tolist() == [0.5, 0.5]
    assert memory.tolist() == [100, 100]
    assert web_workload.containers["app"].oom_kills == 2
    assert web_workload.network_max_bytes_per_s == 12.5
    migrate, nightly = batches[0]
    assert migrate.pods_seen == {"migrate-x"}, "a Job no CronJob owns is its own workload"
    assert nightly.pods_seen == {"nightly-1-y"}, "a CronJob's Job pods count for the CronJob"
    # Per namespace: owners (series API), CPU, memory, OOM reasons (+ restarts where there were any), traffic.
    assert len(seen) == 5 + 6


async def test_without_traffic_the_network_is_not_queried(prometheus_like: Any) -> None:
    url, seen = await prometheus_like()
    batches = [batch async for batch in usage_by_namespace(PrometheusClient(url), _scope(), PLAN, traffic=False)]
    assert all(w.network_max_bytes_per_s is None for batch in batches for w in batch)
    assert not any("network" in query for query in seen)


async def test_a_failure_ends_the_iteration_and_cancels_the_loads_ahead(prometheus_like: Any) -> None:
    url, _ = await prometheus_like(fail_after=6)
    client = PrometheusClient(url, attempts=1)
    received: list[list[Workload]] = []

    async def drain() -> None:
        async for batch in usage_by_namespace(client, _scope(), PLAN, traffic=True):
            received.append(batch)

    with pytest.raises(PrometheusUnavailable, match="HTTP 503"):
        await drain()
    assert len(received) <= 1
    await asyncio.sleep(0)
    assert not [t for t in asyncio.all_tasks() if "load_namespace" in repr(t.get_coro())]


def test_non_finite_points_are_dropped_and_the_rest_kept_in_order() -> None:
    points = np.array([[T0, 1000.0], [T0 + 60, math.nan], [T0 + 120, -math.inf], [T0 + 180, 0.25]])
    ts_s, values = finite_points(points)
    assert ts_s.tolist() == [T0, T0 + 180]
    assert values.tolist() == [1000.0, 0.25]
    clean_ts, clean_values = finite_points(points[[0, 3]])
    assert clean_ts.flags.c_contiguous
    assert clean_values.tolist() == [1000.0, 0.25]


def _range(labels: dict[str, str], points: list[tuple[float, float]]) -> RangeSeries:
    return RangeSeries(labels, np.array(points, dtype=float).reshape(-1, 2))


def test_duplicate_series_of_a_container_combine_as_sum_by_and_max_by_would() -> None:
    plan = QueryPlan(T0, T0 + 600, 300, 300)
    app = {"pod": "web-1", "container": "app"}
    scrapes = [
        _range({**app, "instance": "a", "node": "n1"}, [(T0, 0.5), (T0 + 300, math.nan), (T0 + 600, 0.25)]),
        _range({**app, "instance": "b"}, [(T0 + 300, 0.125), (T0 + 600, 0.5)]),
        _range({"pod": "web-1", "container": "sidecar"}, [(T0, 0.75)]),
    ]
    by_container = {u.container: u for u in per_container(scrapes, plan, np.add)}
    summed = by_container["app"]
    assert (summed.pod, summed.node) == ("web-1", "n1"), "the node of whichever series has one"
    assert summed.ts_s.tolist() == [T0, T0 + 300, T0 + 600]
    assert summed.values.tolist() == [0.5, 0.125, 0.75], "a step where one series has no finite sample keeps the other"
    assert by_container["sidecar"].values.tolist() == [0.75]
    peaks = {u.container: u for u in per_container(scrapes, plan, np.maximum)}["app"]
    assert peaks.values.tolist() == [0.5, 0.125, 0.5]


def test_the_grid_falls_on_multiples_of_the_step_so_runs_over_the_same_data_agree() -> None:
    resolution = datetime.timedelta(minutes=5)
    first = QueryPlan.for_window(
        START + datetime.timedelta(seconds=7), START + datetime.timedelta(days=1, seconds=7), resolution
    )
    later = QueryPlan.for_window(
        START + datetime.timedelta(seconds=95), START + datetime.timedelta(days=1, seconds=95), resolution
    )
    assert first.start_s % 300 == 0
    assert first.end_s % 300 == 0
    assert (first.start_s, first.end_s) == (later.start_s, later.end_s) == (T0, T0 + 86400)
    assert not first.aggregate_in_promql, "the fast read path is the default"


def test_the_window_ends_floored_to_the_step_and_spans_whole_steps_back_from_there() -> None:
    resolution = datetime.timedelta(minutes=5)
    on_the_step = QueryPlan.for_window(START, START + datetime.timedelta(days=1), resolution)
    a_second_later = QueryPlan.for_window(
        START + datetime.timedelta(seconds=1), START + datetime.timedelta(days=1, seconds=1), resolution
    )
    assert (on_the_step.start_s, on_the_step.end_s) == (a_second_later.start_s, a_second_later.end_s)
    assert on_the_step.window == "86400s", "a run started exactly on a step reads the whole window"
    assert on_the_step.window_end == START + datetime.timedelta(days=1)
    assert on_the_step.window_start == START
    # 30 days at 5 minutes is coarsened to 1,286 s steps: the window is no whole number of them.
    month = QueryPlan.for_window(
        START + datetime.timedelta(seconds=13), START + datetime.timedelta(days=30, seconds=13), resolution
    )
    assert month.step_s == 1286
    assert month.start_s % month.step_s == 0 == month.end_s % month.step_s
    assert 30 * 86400 - month.step_s < month.end_s - month.start_s <= 30 * 86400


def test_range_selectors_are_left_open_so_every_backend_reads_the_same_samples() -> None:
    plan = QueryPlan.for_window(START, START + datetime.timedelta(days=1), datetime.timedelta(minutes=5))
    assert plan.step_range == "299999ms", "a scrape exactly on a step boundary counts in one step only"
    assert plan.window_range == "86399999ms"


def _counter(points: list[tuple[float, float]]) -> RangeSeries:
    return RangeSeries({"pod": "p", "container": "c"}, np.array(points, dtype=float).reshape(-1, 2))


def test_a_raw_counter_gives_what_the_promql_per_second_form_gives() -> None:
    plan = QueryPlan(T0, T0 + 1200, 300, 300)
    # Read from a step before the window; no sample at T0 + 300, a reset at T0 + 900.
    counter = _counter([(T0 - 300, 10), (T0, 160), (T0 + 600, 460), (T0 + 900, 5), (T0 + 1200, 65)])
    points = per_second_from_counter(counter, plan, 1).points
    assert points[:, 0].tolist() == [T0, T0 + 900, T0 + 1200], "no value where either end is missing"
    assert points[:, 1].tolist() == [0.5, 0.0, 0.2], "a reset counts as no usage, as clamp_min(…, 0) does"


def test_a_rate_window_of_several_steps_differences_that_many_steps_back() -> None:
    plan = QueryPlan(T0, T0 + 300, 150, 300)
    counter = _counter([(T0 - 300, 0), (T0 - 150, 30), (T0, 60), (T0 + 150, 120), (T0 + 300, 180)])
    points = per_second_from_counter(counter, plan, 2).points
    assert points[:, 0].tolist() == [T0, T0 + 150, T0 + 300]
    assert points[:, 1].tolist() == [0.2, 0.3, 0.4]


async def test_with_a_range_cache_a_re_run_reads_the_new_steps_with_as_many_requests(
    prometheus_like: Any, tmp_path: Path
) -> None:
    url, seen = await prometheus_like()
    cache = RangeCache(tmp_path)
    first = [b async for b in usage_by_namespace(PrometheusClient(url), _scope(), PLAN, traffic=False, cache=cache)]
    requests = len(seen)
    again = [b async for b in usage_by_namespace(PrometheusClient(url), _scope(), PLAN, traffic=False, cache=cache)]
    assert (cache.full_reads, cache.incremental_reads) == (4, 4), "CPU and memory of both namespaces"
    assert len(seen) == 2 * requests
    for before, after in zip(first, again, strict=True):
        for old, new in zip(before, after, strict=True):
            assert (old.pods_seen, old.nodes_seen) == (new.pods_seen, new.nodes_seen)
            for name, series in old.containers.items():
                for part, new_part in zip(series.arrays(), new.containers[name].arrays(), strict=True):
                    assert part.tobytes() == new_part.tobytes()
