"""The rightsizing analyzer's peak RSS at N workloads, without a cluster of N.

What runs is the analyzer's own run (``RightsizingAnalyzer.run``, then the write step
``upsert_all``) in a process of its own, measured by its VmHWM plus that of its sizing
workers (``KCOST_ANALYZER_SIZING_PROCESSES``, children of that process). Around it:

- a stand-in Prometheus in another process (aiohttp) that answers the analyzer's queries
  with answers shaped as Prometheus writes them: ``/api/v1/series`` for the owner series,
  ``/api/v1/query_range`` matrices of the CPU counter on the grid and the memory peak per
  step, ``/api/v1/query`` (no OOM kills). The values are those ``kcost bench analysis``
  writes into its TSDB (``kcost.devcluster.scale``: the same workloads, profiles, scales
  and rounding), so the run proposes what the end-to-end bench proposes. Answers are
  written to a disk cache once (``--cache``), then served from it;
- a stand-in API server in the analyzer's process: the scenario's Deployments listed a page
  of 500 at a time as JSON (as the real client reads them), no policies, no nodes (default
  rates, the bench's custom rates), writes serialized as the real client sends them.

Per run it prints the peak RSS (VmHWM) and where it was reached: the RSS is sampled every
20 ms with the step the run was in (discovery, reading and sizing, writing). ``--code DIR``
runs another checkout's code (``git archive main | tar -x -C DIR``) for before/after in one
session; take measurements under the machine's bench lock::

    flock /tmp/kcost-bench.lock python bench/analyzer_rss.py --workloads 10000 --runs 3

``--trace`` adds tracemalloc's largest allocation sites at the peak of Python allocations
(slow: use a few thousand workloads).
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import datetime
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

# The modules a real analyzer process imports: its RSS before a run includes them.
import kcost.cli.run  # noqa: F401
from kcost.analyzers.contract import RunContext, recommendations
from kcost.analyzers.rightsizing.analyzer import RightsizingAnalyzer
from kcost.analyzers.rightsizing.settings import RightsizingSettings
from kcost.api.v1alpha1.analysis import Analysis
from kcost.cli.demo import profile_manifest
from kcost.devcluster import processes, scale

SAMPLE_STEP_S = 60
# The lookback of an instant selector: a raw counter on the grid reads the last sample in it.
LOOKBACK_S = 300
PAGE_SIZE = 500
# The bench's Analysis: 14 days of history, a 15-day window (as ``kcost bench analysis``), 5 m resolution.
WINDOW = datetime.timedelta(days=15)
RESOLUTION = datetime.timedelta(minutes=5)
# The history ends at this midnight (fixed: cached answers stay valid); the run is an hour later.
HISTORY_END_S = 1_764_547_200
RSS_SAMPLE_S = 0.02


def _prometheus_float(value: float) -> str:
    """A sample value as Prometheus writes it (Go's shortest 'f' format)."""
    text = repr(value)
    if text.endswith(".0"):
        return text[:-2]
    if "e" in text:
        return np.format_float_positional(value, trim="-")
    return text


def _matrix(series: list[tuple[dict[str, str], np.ndarray, np.ndarray]]) -> bytes:
    parts = []
    for labels, ts_s, values in series:
        points = ",".join(f'[{int(t)},"{_prometheus_float(float(v))}"]' for t, v in zip(ts_s, values, strict=True))
        parts.append(f'{{"metric":{json.dumps(labels, separators=(",", ":"))},"values":[{points}]}}')
    return f'{{"status":"success","data":{{"resultType":"matrix","result":[{",".join(parts)}]}}}}'.encode()


class History:
    """The scenario's samples, as ``tsdbgen`` writes them, read the way PromQL reads them on a grid."""

    def __init__(self, scenario: scale.ScaleScenario) -> None:
        self.scenario = scenario
        self.start_s = HISTORY_END_S - scenario.samples * SAMPLE_STEP_S
        self.profiles = scale.profiles(scenario, HISTORY_END_S)
        self.by_namespace: dict[str, list[scale.ScaleWorkload]] = {}
        for workload in scale.workloads(scenario):
            self.by_namespace.setdefault(workload.namespace, []).append(workload)
        self.kinds = len(scale.PATTERNS) * scenario.profiles_per_pattern

    def _last_sample(self, grid_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = np.floor((grid_s - self.start_s) / SAMPLE_STEP_S).astype(np.int64)
        present = (index >= 0) & (index < self.scenario.samples)
        present &= grid_s - (self.start_s + index * SAMPLE_STEP_S) <= LOOKBACK_S
        return index, present

    def counter(self, namespace: str, grid_s: np.ndarray) -> bytes:
        index, present = self._last_sample(grid_s)
        found = []
        for w in self.by_namespace.get(namespace, []):
            values = np.rint(self.profiles[w.profile][index[present]] * w.cpu_cores / 1e-6) * 1e-6
            labels = {"__name__": "container_cpu_usage_seconds_total", "container": scale.CONTAINER}
            found.append((labels | self._pod_labels(w), grid_s[present], values))
        return _matrix(found)

    def memory_peak(self, namespace: str, grid_s: np.ndarray, step_s: float) -> bytes:
        """``max_over_time(...[step - 1ms])``: the samples in (t - step + 1 ms, t]."""
        first = np.ceil((grid_s - step_s + 0.001 - self.start_s) / SAMPLE_STEP_S).astype(np.int64)
        last = np.floor((grid_s - self.start_s) / SAMPLE_STEP_S).astype(np.int64)
        first, last = np.clip(first, 0, None), np.clip(last, None, self.scenario.samples - 1)
        present = last >= first
        found = []
        for w in self.by_namespace.get(namespace, []):
            profile = self.profiles[self.kinds + w.profile]
            peaks = np.maximum.reduceat(profile, first[present]) if present.any() else np.zeros(0)
            # reduceat runs to the next start; the windows here tile the samples, so that is the window.
            values = np.rint(peaks * w.memory_bytes / 4096) * 4096
            found.append((self._pod_labels(w), grid_s[present], values))
        return _matrix(found)

    def _pod_labels(self, w: scale.ScaleWorkload) -> dict[str, str]:
        return {
            "container": scale.CONTAINER,
            "job": "kubelet",
            "namespace": w.namespace,
            "node": f"node-{w.index % 3}",
            "pod": w.pod,
        }

    def owners(self, namespace: str) -> bytes:
        found: list[dict[str, str]] = []
        ksm = {"job": "kube-state-metrics", "owner_is_controller": "true"}
        for w in self.by_namespace.get(namespace, []):
            found.append(
                {"__name__": "kube_pod_owner", "namespace": namespace, "pod": w.pod, "owner_kind": "ReplicaSet"}
                | {"owner_name": w.replicaset}
                | ksm
            )
            found.append(
                {"__name__": "kube_replicaset_owner", "namespace": namespace, "replicaset": w.replicaset}
                | {"owner_kind": "Deployment", "owner_name": w.name}
                | ksm
            )
        return json.dumps({"status": "success", "data": found}).encode()


def _namespace_of(promql: str) -> str:
    return promql.split('namespace="', 1)[1].split('"', 1)[0]


def serve(workloads: int, namespaces: int, port: int, cache: Path) -> None:
    """The stand-in Prometheus, until killed; answers cached under ``cache``."""
    history = History(scale.ScaleScenario(workloads, namespaces=namespaces))
    cache.mkdir(parents=True, exist_ok=True)
    empty_vector = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()

    def range_answer(query: str, start_s: float, end_s: float, step_s: float) -> bytes:
        namespace = _namespace_of(query)
        kind = "cpu" if query.startswith("container_cpu_usage_seconds_total") else "memory"
        if kind == "memory" and not query.startswith("max_over_time(container_memory_working_set_bytes"):
            raise web.HTTPBadRequest(text=f"the stand-in Prometheus does not answer {query!r}")
        path = cache / f"{history.scenario.key(HISTORY_END_S)}-{namespace}-{kind}-{start_s:.0f}-{end_s:.0f}-{step_s:g}"
        if path.exists():
            return path.read_bytes()
        grid_s = np.arange(start_s, end_s + step_s / 2, step_s)
        raw = history.counter(namespace, grid_s) if kind == "cpu" else history.memory_peak(namespace, grid_s, step_s)
        path.with_suffix(".partial").write_bytes(raw)
        path.with_suffix(".partial").rename(path)
        return raw

    async def query_range(request: web.Request) -> web.Response:
        q = request.query
        body = await asyncio.to_thread(range_answer, q["query"], float(q["start"]), float(q["end"]), float(q["step"]))
        return web.Response(body=body, content_type="application/json")

    async def series(request: web.Request) -> web.Response:
        selectors = request.query.getall("match[]")
        return web.Response(body=history.owners(_namespace_of(selectors[0])), content_type="application/json")

    async def instant(_request: web.Request) -> web.Response:
        return web.Response(body=empty_vector, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/query_range", query_range)
    app.router.add_get("/api/v1/series", series)
    app.router.add_get("/api/v1/query", instant)
    app.router.add_get("/-/ready", instant)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


class RssSampler:
    """The process's RSS every ``RSS_SAMPLE_S``, with the step it was in at its highest."""

    def __init__(self) -> None:
        self.step = "start"
        self.peak_kib = 0
        self.peak_step = "start"
        self.peak_by_step: dict[str, int] = {}
        self.timeline: list[tuple[float, int]] = []  # (seconds, KiB) once a second
        self.trace_at_peak: list[str] = []  # with tracemalloc on: its largest sites at the highest RSS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def status_kib(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def _run(self) -> None:
        started = time.monotonic()
        traced_kib = 0
        while not self._stop.wait(RSS_SAMPLE_S):
            rss, step = self.status_kib("VmRSS"), self.step
            self.peak_by_step[step] = max(self.peak_by_step.get(step, 0), rss)
            if rss > self.peak_kib:
                self.peak_kib, self.peak_step = rss, step
            if tracemalloc.is_tracing() and rss > traced_kib + 10 * 1024:
                traced_kib, self.trace_at_peak = rss, [f"at RSS {rss / 1024:.0f} MiB ({step})", *_trace_top()]
            if time.monotonic() - started >= len(self.timeline):
                self.timeline.append((round(time.monotonic() - started, 1), rss))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class BenchKube:
    """The few API calls a rightsizing run makes, answered from the scenario; writes serialized and counted."""

    def __init__(self, scenario: scale.ScaleScenario, profile: dict[str, Any]) -> None:
        self.scenario = scenario
        self.profile = profile
        self.applied = 0
        self.applied_bytes = 0
        self.events = 0

    async def get_raw(self, _kind: Any, _name: str) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.profile))  # type: ignore[no-any-return]

    async def list(self, _kind: Any) -> builtins.list[Any]:
        return []  # no OptimizationPolicy

    async def namespaces(self) -> builtins.list[dict[str, Any]]:
        labels = {scale.BENCH_LABEL: self.scenario.name}
        return [{"metadata": {"name": name, "labels": labels}} for name in self.scenario.namespace_names()]

    async def nodes(self) -> builtins.list[dict[str, Any]]:
        return []

    async def iter_workloads(self, _api_version: str, plural: str, namespace: str | None = None) -> AsyncIterator[Any]:
        if plural != "deployments":
            return
        page: list[dict[str, Any]] = []
        for w in scale.workloads(self.scenario):
            if namespace is not None and w.namespace != namespace:
                continue
            page.append(_as_served(scale._deployment(self.scenario, w), w.index))
            if len(page) == PAGE_SIZE:
                for item in json.loads(json.dumps({"items": page}))["items"]:
                    yield item
                page = []
        for item in json.loads(json.dumps({"items": page}))["items"]:
            yield item

    async def iter_raw(self, _kind: Any, **_options: Any) -> AsyncIterator[dict[str, Any]]:
        nothing: builtins.list[dict[str, Any]] = []  # the first run: no recommendations yet
        for item in nothing:
            yield item

    async def apply(self, _kind: Any, body: dict[str, Any], **_options: Any) -> dict[str, Any]:
        self.applied += 1
        self.applied_bytes += len(json.dumps(body).encode())
        return body

    async def merge_patch(self, *_args: Any) -> None:
        return None

    async def event(self, *_args: Any, **_options: Any) -> None:
        self.events += 1


def _as_served(deployment: dict[str, Any], index: int) -> dict[str, Any]:
    """A Deployment with what the API server adds: uid, versions, managed fields, status."""
    metadata = deployment["metadata"]
    metadata |= {
        "uid": f"00000000-0000-4000-8000-{index:012d}",
        "resourceVersion": str(1000 + index),
        "generation": 1,
        "creationTimestamp": "2026-12-01T00:00:00Z",
        "annotations": {"deployment.kubernetes.io/revision": "1"},
        "managedFields": [
            {
                "manager": "kcost-bench",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": "2026-12-01T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:paused": {}, "f:replicas": {}, "f:template": {"f:spec": {}}}},
            }
        ],
    }
    deployment["spec"] |= {"strategy": {"type": "RollingUpdate"}, "revisionHistoryLimit": 10}
    deployment["status"] = {"observedGeneration": 1, "replicas": 0}
    return deployment


async def _analyze(args: argparse.Namespace, sampler: RssSampler) -> dict[str, Any]:
    scenario = scale.ScaleScenario(args.workloads, namespaces=args.namespaces)
    end = datetime.datetime.fromtimestamp(HISTORY_END_S + 3600, datetime.UTC)
    rates = {"cpuCoreHour": 0.031611, "memoryGiBHour": 0.004237}
    pricing: dict[str, object] = {"source": "custom", "customRates": rates}
    profile = profile_manifest("bench", {"url": args.url, "timeoutSeconds": 120}, pricing)
    kube = BenchKube(scenario, profile)
    analysis = Analysis.model_validate(
        {
            "metadata": {"name": scenario.name, "uid": "bench-uid"},
            "spec": {"profileRef": {"name": "bench"}, "window": "15d", "resolution": "5m"},
            "status": {"runId": "bench-run", "windowStart": end - WINDOW, "windowEnd": end},
        }
    )
    analyzer = RightsizingAnalyzer()
    context: RunContext[Any] = RunContext(
        analysis=analysis,
        run_id="bench-run",
        window_start=end - WINDOW,
        window_end=end,
        resolution=RESOLUTION,
        settings=RightsizingSettings.model_validate({}),
        namespaces=scenario.namespace_names(),
        kube=kube,  # type: ignore[arg-type]
    )
    started = time.perf_counter()
    sampler.step = "analyze"
    result = await analyzer.run(context)
    analyzed_s = time.perf_counter() - started
    sampler.step = "write"
    written = await recommendations.upsert_all(kube, analysis, analyzer.name, result.proposals)  # type: ignore[arg-type]
    sampler.step = "done"
    # Its sizing workers (KCOST_ANALYZER_SIZING_PROCESSES) are part of the analyzer: their peaks are added.
    workers_mib = sum(processes.peak_rss_mib(pid) for pid in processes.process_tree(os.getpid())[1:])
    analyzer.close()
    # The answers, to show that a change of how memory is used changed none of them.
    answers = sorted(json.dumps([p.namespace, p.spec.to_api()], sort_keys=True) for p in result.proposals)
    return {
        "answers_sha256": hashlib.sha256("\n".join(answers).encode()).hexdigest()[:16],
        "analyze_s": round(analyzed_s, 1),
        "write_s": round(time.perf_counter() - started - analyzed_s, 1),
        "proposals": len(result.proposals),
        "written": len(written.writes),
        "written_mib": round(kube.applied_bytes / 2**20, 1),
        "skipped": result.skipped,
        "prometheus_requests": result.prometheus_requests,
        "anomalous": len(result.anomalous_workloads),
        "workers_peak_rss_mib": round(workers_mib, 1),
    }


def child(args: argparse.Namespace) -> None:
    """One measured run in this process: prints one JSON line."""
    if args.trace:
        tracemalloc.start(12)
    with RssSampler() as sampler:
        idle_kib = RssSampler.status_kib("VmRSS")
        figures = asyncio.run(_analyze(args, sampler))
    figures |= {
        "workloads": args.workloads,
        "idle_rss_mib": round(idle_kib / 1024, 1),
        "peak_rss_mib": round(RssSampler.status_kib("VmHWM") / 1024 + figures["workers_peak_rss_mib"], 1),
        "peak_step": sampler.peak_step,
        "peak_by_step_mib": {step: round(kib / 1024, 1) for step, kib in sampler.peak_by_step.items()},
    }
    if args.trace:
        figures["trace_at_peak"] = sampler.trace_at_peak
        figures["trace_at_end"] = _trace_top()
    if args.timeline:
        figures["timeline_mib"] = [(t, round(kib / 1024)) for t, kib in sampler.timeline[::5]]
    print(json.dumps(figures), flush=True)


def _trace_top() -> list[str]:
    current, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    lines = [f"traced now {current / 2**20:.1f} MiB, traced peak {peak / 2**20:.1f} MiB; largest live sites:"]
    for stat in snapshot.statistics("lineno")[:15]:
        lines.append(f"{stat.size / 2**20:8.1f} MiB {stat.count:9d} blocks  {stat.traceback[0]}")
    return lines


def _wait_ready(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2):  # noqa: S310 - local http
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _import_path(checkout: Path) -> str:
    """A folder holding only the checkout's ``kcost`` (its root would shadow the standard ``operator``)."""
    folder = checkout / ".bench-import-path"
    folder.mkdir(exist_ok=True)
    link = folder / "kcost"
    if not link.is_symlink():
        link.symlink_to(checkout.resolve() / "kcost")
    return str(folder)


def _children(args: argparse.Namespace, n: int, url: str) -> Iterator[dict[str, Any]]:
    for code in args.code or [str(Path(__file__).resolve().parents[1])]:
        env = dict(os.environ, PYTHONPATH=_import_path(Path(code)))
        if args.arena_max:
            env["MALLOC_ARENA_MAX"] = args.arena_max
        for _ in range(args.runs):
            command = [sys.executable, __file__, "child", "--workloads", str(n), "--namespaces", str(args.namespaces)]
            command += ["--url", url] + (["--trace"] if args.trace else []) + (["--timeline"] if args.timeline else [])
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"the measured run failed ({code}):\n{done.stderr[-4000:]}")
            yield json.loads(done.stdout.strip().splitlines()[-1]) | {"code": code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "serve", "child"))
    parser.add_argument("--workloads", type=int, action="append")
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3, help="measured runs per N and code (median printed)")
    parser.add_argument("--code", action="append", help="a checkout to run (repeat: before and after); default: this")
    parser.add_argument("--arena-max", help="MALLOC_ARENA_MAX for the measured process")
    parser.add_argument("--trace", action="store_true", help="tracemalloc's largest sites (slow)")
    parser.add_argument("--timeline", action="store_true", help="the RSS every 5 s of each run")
    parser.add_argument("--port", type=int, default=19090)
    parser.add_argument("--url")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kcost-analyzer-rss-cache")
    args = parser.parse_args()
    sizes = args.workloads or [1000, 10000]
    if args.mode == "serve":
        serve(sizes[0], args.namespaces, args.port, args.cache)
        return
    if args.mode == "child":
        args.workloads = sizes[0]
        child(args)
        return
    for n in sizes:
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "serve",
                "--workloads",
                str(n),
                "--namespaces",
                str(args.namespaces),
                "--port",
                str(args.port),
                "--cache",
                str(args.cache),
            ]
        )
        url = f"http://127.0.0.1:{args.port}"
        try:
            _wait_ready(url)
            runs = list(_children(args, n, url))
        finally:
            server.terminate()
            server.wait()
        _print(n, runs)


def _print(n: int, runs: list[dict[str, Any]]) -> None:
    by_code: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_code.setdefault(run["code"], []).append(run)
        for line in run.pop("trace_at_peak", []) + run.pop("trace_at_end", []):
            print(line)
        print(json.dumps(run), flush=True)
    medians = {}
    for code, measured in by_code.items():
        peak = statistics.median(run["peak_rss_mib"] for run in measured)
        medians[code] = peak
        steps = ", ".join(f"{run['peak_step']} {run['peak_rss_mib']:.0f}" for run in measured)
        print(
            f"{n:,} workloads, {code}: peak RSS median {peak:.0f} MiB over {len(measured)} runs ({steps}); "
            f"idle {statistics.median(run['idle_rss_mib'] for run in measured):.0f} MiB, "
            f"{measured[0]['proposals']:,} proposals (answers {sorted({r['answers_sha256'] for r in measured})}), "
            f"Prometheus requests {measured[0]['prometheus_requests']}",
            flush=True,
        )
    if len(medians) > 1:
        base, *others = list(medians)
        for code in others:
            print(f"{n:,} workloads: {code} ÷ {base}: peak RSS ×{medians[code] / medians[base]:.2f}", flush=True)


if __name__ == "__main__":
    main()
