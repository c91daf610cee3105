"""Where the API server's CPU goes per recommendation write, and what other ways of writing would cost.

On a dev cluster of its own (etcd, kube-apiserver with /debug/pprof, controller-manager, scheduler,
kwok, Prometheus), with one client watching every recommendation as the operator does, it writes N
recommendations made by the rightsizing analyzer's sizing step (bench/sizing.py's generated
workloads) in one namespace per run, the way kcost writes them, and alternatives:

- apply:              the analyzer's server-side apply of metadata and spec (``write_one``), 8 at a time;
- apply, no CEL:      the same, with the CRD's ``x-kubernetes-validations`` removed (put back after);
- apply, no sparkline / apply, small evidence: the same objects with ``evidence.usageSparkline``
  emptied / with the evidence cut to its window (no containers, sparkline or notes);
- create:             a plain POST of the same body, with the analyzer's field manager;
- status apply:       the operator's write of the phase Proposed as it is (``apply_status`` of
  ``operator_part``, with the resourceVersion), on the objects of an ``apply`` run;
- status merge:       the same status as a JSON merge patch of the status subresource.

Each figure is the API server's CPU seconds (utime + stime from /proc) per 1,000 writes, from the
first write until the watcher has seen every write's event, minus the idle API server's rate over
that time; median of the runs (the variants alternate within each run), with ratios against the
current way (apply; status apply). etcd's CPU is printed next to it, and the requests the API server
answered during each variant's first run by verb and resource. Then one more run of each
current way is profiled (``/debug/pprof/profile``) and ``go tool pprof -top -cum`` printed with a
breakdown of the samples by stage.

Usage: python bench/apiserver_writes.py [--writes 1000] [--runs 3] [--dir /tmp/kcost-apiserver-writes]
       [--no-profile] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import dataclasses
import json
import os
import re
import ssl
import statistics
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException
from rich.console import Console

from kcost.analyzers.contract.plugin import Proposal, field_manager
from kcost.analyzers.contract.recommendations import UPSERT_CONCURRENCY, Write, body_of, bounded, write_one
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import GROUP, VERSION, parse_quantity
from kcost.api.v1alpha1.recommendation import (
    OptimizationRecommendation,
    OptimizationRecommendationSpec,
    recommendation_name,
)
from kcost.cli import bench_sizing
from kcost.devcluster.cluster import DevCluster
from kcost.kube import client as kube_client
from kcost.operator import recommendation
from kcost.operator import status as status_io

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "crds" / "optimizer.kcost.dev_optimizationrecommendations.yaml"
PLURAL = OptimizationRecommendation.crd.plural
# The namespace of the CEL probe and of the object written to see that a new watch delivers.
MARKERS = "markers"
ANALYZER = "rightsizing"
ANALYSIS = "bench-writes"
# Workloads sized per wanted proposal: 78 % of the generated ones get one, 47 % one whose requests are
# within the limits (the generator gives some a request above its limit, which a Pod could not have).
WORKLOADS_PER_PROPOSAL = 2.4
EVENTS_TIMEOUT_S = 300
WATCH_RETRY_S = 0.2
LABEL = re.compile(r'(\w+)="([^"]*)"')
IDLE_SAMPLE_S = 10
PROFILE_TAIL_S = 3
# Exclusive stages of a profile sample: the first whose pattern is in any of its frames. The patterns
# name the work itself, not its callers (a write's whole update runs inside the storage's GuaranteedUpdate).
STAGES = (
    (
        "watch fan-out (cacher, event encoding)",
        ("cacheWatcher", "dispatchEvent", "watchCache", "WatchServer", "watchChan"),
    ),
    ("CEL rules", ("cel-go", "apiserver/pkg/cel", "schema/cel")),
    ("server-side apply, managedFields", ("structured-merge-diff", "fieldmanager", "managedfields")),
    ("schema validation", ("kube-openapi/pkg/validation", "apiserver/validation", "customResourceStrategy).Validate")),
    ("pruning, defaulting", ("schema/pruning", "schema/defaulting", "schema/objectmeta")),
    ("YAML decoding", ("sigs.k8s.io/yaml", "go.yaml.in", "gopkg.in/yaml")),
    ("JSON decoding/encoding", ("encoding/json", "sigs.k8s.io/json", "json-iterator", "serializer/json")),
    ("etcd client", ("go.etcd.io/etcd", "google.golang.org/grpc")),
    ("audit", ("apiserver/pkg/audit",)),
    ("admission", ("apiserver/pkg/admission",)),
    ("authentication, authorization", ("authentication/request", "authorizer/rbac", "crypto/x509")),
    ("TLS encryption", ("crypto/",)),
    ("Go GC (background)", ("runtime.gcBgMarkWorker",)),
    ("other request handling", ("net/http",)),
)


@dataclasses.dataclass
class Bench:
    cluster: DevCluster
    kube: kube_client.KubeClient
    analysis: Analysis
    specs: list[OptimizationRecommendationSpec]
    events: Counter[str]
    apiserver_pid: int
    etcd_pid: int
    idle_cpu_per_s: float = 0.0
    watcher: asyncio.Task[None] | None = None


@dataclasses.dataclass(frozen=True)
class Sample:
    variant: str
    writes: int
    apiserver_cpu_s: float
    etcd_cpu_s: float
    wall_s: float
    # Requests answered meanwhile, by verb and resource: the writes and whatever else they caused.
    requests: Counter[str] = dataclasses.field(default_factory=Counter)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- what is written -------------------------------------------------------------------------


def make_specs(count: int, console: Console) -> list[OptimizationRecommendationSpec]:
    """``count`` proposals' specs from the sizing step, as a run makes them."""
    with console.status(f"sizing generated workloads for {count:,} proposals…"):
        try:
            return bench_sizing.proposal_specs(count, within_limits, workloads_per_proposal=WORKLOADS_PER_PROPOSAL)
        except ValueError as error:
            raise SystemExit(str(error)) from None


def within_limits(spec: OptimizationRecommendationSpec) -> bool:
    """No request above its limit: the generator gives some workloads one, which the CRD's CEL rules refuse."""
    for container in (*spec.current.containers, *spec.changes.containers):
        for resource in ("cpu", "memory"):
            request = getattr(container.requests, resource, None) if container.requests else None
            limit = getattr(container.limits, resource, None) if container.limits else None
            if request is not None and limit is not None and parse_quantity(request) > parse_quantity(limit):
                return False
    return True


def without_sparkline(spec: OptimizationRecommendationSpec) -> OptimizationRecommendationSpec:
    evidence = spec.evidence.model_copy(update={"usage_sparkline": []})
    return spec.model_copy(update={"evidence": evidence})


def small_evidence(spec: OptimizationRecommendationSpec) -> OptimizationRecommendationSpec:
    evidence = spec.evidence.model_copy(update={"usage_sparkline": [], "containers": [], "notes": []})
    return spec.model_copy(update={"evidence": evidence})


def writes_of(specs: list[OptimizationRecommendationSpec], namespace: str) -> list[Write]:
    return [
        Write(
            Proposal(namespace, spec), recommendation_name(spec.target_ref.kind, spec.target_ref.name, spec.type.value)
        )
        for spec in specs
    ]


def print_sizes(bench: Bench, console: Console) -> None:
    """How large one object is in JSON, and the evidence's and the sparkline's shares of it."""
    sizes: list[tuple[int, int, int]] = []
    for spec in bench.specs:
        body = body_of(bench.analysis, ANALYZER, writes_of([spec], "ns")[0])
        whole = len(json.dumps(body, separators=(",", ":")))
        evidence = len(json.dumps(body["spec"].get("evidence") or {}, separators=(",", ":")))
        sparkline = len(json.dumps(body["spec"]["evidence"].get("usageSparkline") or [], separators=(",", ":")))
        sizes.append((whole, evidence, sparkline))
    whole, evidence, sparkline = (statistics.median(column) for column in zip(*sizes, strict=True))
    console.print(
        f"one recommendation as the analyzer sends it (median of {len(sizes):,}): {whole:,.0f} bytes of JSON;"
        f" evidence {evidence:,.0f} ({evidence / whole:.0%}), of which the sparkline {sparkline:,.0f}"
        f" ({sparkline / whole:.0%})"
    )


async def print_stored_size(bench: Bench, namespace: str, console: Console) -> None:
    """One recommendation as the API server holds it after both writes, and its managedFields' share."""
    body = await anext(aiter(bench.kube.iter_raw(OptimizationRecommendation, namespace)))
    whole = len(json.dumps(body, separators=(",", ":")))
    managed = len(json.dumps(body["metadata"].get("managedFields") or [], separators=(",", ":")))
    status = len(json.dumps(body.get("status") or {}, separators=(",", ":")))
    console.print(
        f"one recommendation as stored after both writes: {whole:,} bytes of JSON; managedFields {managed:,}"
        f" ({managed / whole:.0%}), status {status:,} ({status / whole:.0%})"
    )


# -- the ways of writing ---------------------------------------------------------------------


async def apply_all(bench: Bench, writes: list[Write]) -> None:
    """The analyzer's write step: ``write_one`` a few at a time."""

    async def one(write: Write) -> None:
        await write_one(bench.kube, bench.analysis, ANALYZER, write)

    await bounded(writes, one, UPSERT_CONCURRENCY)


async def create_all(bench: Bench, writes: list[Write]) -> None:
    async def one(write: Write) -> None:
        body = body_of(bench.analysis, ANALYZER, write)
        await bench.kube.create(OptimizationRecommendation, body, field_manager=field_manager(ANALYZER))

    await bounded(writes, one, UPSERT_CONCURRENCY)


StatusWrite = tuple[OptimizationRecommendation, dict[str, Any]]


async def proposed_statuses(bench: Bench, namespace: str) -> list[StatusWrite]:
    """What the operator writes on each new recommendation of ``namespace``: the phase Proposed."""
    planned = []
    async for body in bench.kube.iter_raw(OptimizationRecommendation, namespace):
        updated = recommendation.decide(status_io.parse(OptimizationRecommendation, body), True)
        assert updated is not None, "a new recommendation is always moved to Proposed"
        planned.append((updated, recommendation.operator_part(updated)))
    return planned


async def status_apply_all(bench: Bench, planned: list[StatusWrite]) -> None:
    async def one(write: StatusWrite) -> None:
        await status_io.apply_status(bench.kube, *write)

    await bounded(planned, one, UPSERT_CONCURRENCY)


async def status_merge_all(bench: Bench, planned: list[StatusWrite]) -> None:
    custom = client.CustomObjectsApi(bench.kube.api_client)

    async def one(write: StatusWrite) -> None:
        rec, part = write
        patch = {"metadata": {"resourceVersion": rec.resource_version}, "status": part}
        await custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            rec.namespace or "",
            PLURAL,
            rec.name,
            patch,
            field_manager=status_io.FIELD_MANAGER,
            _content_type=kube_client.MERGE,  # type: ignore[call-arg]  # accepted, left out of the stubs
        )

    await bounded(planned, one, UPSERT_CONCURRENCY)


# -- measuring -------------------------------------------------------------------------------


async def watch_recommendations(bench: Bench, version: str) -> None:
    """Count every event of every recommendation by namespace, as the operator's watch receives them."""
    custom = client.CustomObjectsApi(bench.kube.api_client)
    while True:
        options = {"timeout_seconds": 3600, "allow_watch_bookmarks": False, "resource_version": version}
        try:
            async with watch.Watch() as stream:
                async for event in stream.stream(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, **options):
                    metadata = event["object"]["metadata"]
                    version = metadata["resourceVersion"]
                    bench.events[metadata["namespace"]] += 1
        except ApiException as error:
            if error.status != HTTPStatus.TOO_MANY_REQUESTS:  # 429: a CRD's new storage is still starting
                raise
            await asyncio.sleep(WATCH_RETRY_S)


async def stop_watcher(bench: Bench) -> None:
    if bench.watcher is not None:
        bench.watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, ApiException):  # ended by a CRD's change (410)
            await bench.watcher


async def restart_watcher(bench: Bench) -> None:
    """A new watch from now, once it is known to deliver: a CRD's change ends (410) the watches of its old storage."""
    await stop_watcher(bench)
    custom = client.CustomObjectsApi(bench.kube.api_client)
    listed = await custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1)
    bench.watcher = asyncio.create_task(watch_recommendations(bench, listed["metadata"]["resourceVersion"]))
    seen = bench.events[MARKERS]
    marker = Write(Proposal(MARKERS, bench.specs[0]), f"marker-{seen}")  # a new object: an event for sure
    await bench.kube.apply(
        OptimizationRecommendation, body_of(bench.analysis, ANALYZER, marker), field_manager=field_manager(ANALYZER)
    )
    await events_reach(bench, MARKERS, seen + 1)


async def events_reach(bench: Bench, namespace: str, count: int) -> None:
    deadline = time.monotonic() + EVENTS_TIMEOUT_S
    while bench.events[namespace] < count:
        if bench.watcher is not None and bench.watcher.done():
            bench.watcher.result()  # raises what ended it
            raise SystemExit("the watch ended")
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{namespace}: {bench.events[namespace]} watch events after {EVENTS_TIMEOUT_S} s, {count} due"
            )
        await asyncio.sleep(0.05)


async def measure(  # noqa: PLR0917 - one call per variant, each argument named at the call
    bench: Bench, variant: str, namespace: str, writes: int, events_after: int, run: Callable[[], Awaitable[None]]
) -> Sample:
    """The API server's and etcd's CPU from the first write until every write's watch event arrived."""
    requests_before = await asyncio.to_thread(request_counts, bench)  # outside the CPU window: /metrics is costly
    apiserver, etcd, started = cpu_s(bench.apiserver_pid), cpu_s(bench.etcd_pid), time.monotonic()
    await run()
    await events_reach(bench, namespace, events_after)
    wall_s = time.monotonic() - started
    used_s = cpu_s(bench.apiserver_pid) - apiserver - bench.idle_cpu_per_s * wall_s
    etcd_s = cpu_s(bench.etcd_pid) - etcd
    requests = await asyncio.to_thread(request_counts, bench)
    requests.subtract(requests_before)
    return Sample(variant, writes, used_s, etcd_s, wall_s, +requests)


async def idle_rate(bench: Bench) -> float:
    """The API server's CPU per second with nothing written (leases, controllers' resyncs)."""
    before = cpu_s(bench.apiserver_pid)
    await asyncio.sleep(IDLE_SAMPLE_S)
    return (cpu_s(bench.apiserver_pid) - before) / IDLE_SAMPLE_S


def crd_document(with_cel: bool) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CRD.read_text())
    if not with_cel:
        document = copy.deepcopy(document)
        _drop_cel(document)
    return document


def _drop_cel(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("x-kubernetes-validations", None)
        for value in node.values():
            _drop_cel(value)
    elif isinstance(node, list):
        for value in node:
            _drop_cel(value)


async def create_namespaces(bench: Bench, names: list[str]) -> None:
    core = client.CoreV1Api(bench.kube.api_client)
    for name in names:
        await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))


def set_cel(bench: Bench, with_cel: bool) -> None:
    """Install the CRD with or without its CEL rules and wait until the API server enforces that."""
    bench.cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", input_text=json.dumps(crd_document(with_cel))
    )
    violating = body_of(bench.analysis, ANALYZER, writes_of(bench.specs[:1], MARKERS)[0])
    container = violating["spec"]["changes"]["containers"][0]
    container["requests"] = {**(container.get("requests") or {}), "cpu": "2"}
    container["limits"] = {**(container.get("limits") or {}), "cpu": "1"}
    probe = {"apiVersion": f"{GROUP}/{VERSION}", "kind": OptimizationRecommendation.crd.kind, **violating}
    deadline = time.monotonic() + EVENTS_TIMEOUT_S
    while True:
        answer = bench.cluster.kubectl(
            "create", "--dry-run=server", "-f", "-", input_text=json.dumps(probe), check=False
        )
        refused_by_cel = "must not be above" in answer.stderr
        if refused_by_cel == with_cel and (answer.returncode == 0 or with_cel):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the CRD's CEL rules are not {'on' if with_cel else 'off'}: {answer.stderr}")
        time.sleep(0.2)


async def one_round(bench: Bench, round_index: int, count: int) -> list[Sample]:
    """Every variant once, each in namespaces of its own."""
    samples = []
    full, sparse, small = (
        bench.specs,
        [without_sparkline(s) for s in bench.specs],
        [small_evidence(s) for s in bench.specs],
    )
    ns = {name: f"{name}-{round_index}" for name in ("apply-a", "apply-b", "nosparkline", "smallev", "create", "nocel")}
    await create_namespaces(bench, list(ns.values()))

    async def run(variant: str, namespace: str, events_after: int, fn: Callable[[], Awaitable[None]]) -> None:
        samples.append(await measure(bench, variant, namespace, count, events_after, fn))

    a, b = ns["apply-a"], ns["apply-b"]
    await run("apply", a, count, lambda: apply_all(bench, writes_of(full, a)))
    await run("apply", b, count, lambda: apply_all(bench, writes_of(full, b)))
    await run(
        "apply, no sparkline", ns["nosparkline"], count, lambda: apply_all(bench, writes_of(sparse, ns["nosparkline"]))
    )
    await run("apply, small evidence", ns["smallev"], count, lambda: apply_all(bench, writes_of(small, ns["smallev"])))
    await run("create", ns["create"], count, lambda: create_all(bench, writes_of(full, ns["create"])))
    on_a, on_b = await proposed_statuses(bench, a), await proposed_statuses(bench, b)
    await run("status apply", a, 2 * count, lambda: status_apply_all(bench, on_a))
    await run("status merge", b, 2 * count, lambda: status_merge_all(bench, on_b))
    set_cel(bench, with_cel=False)
    await restart_watcher(bench)
    try:
        await run("apply, no CEL", ns["nocel"], count, lambda: apply_all(bench, writes_of(full, ns["nocel"])))
    finally:
        set_cel(bench, with_cel=True)
        await restart_watcher(bench)
    return samples


# -- profiling -------------------------------------------------------------------------------


def admin_get(bench: Bench, path: str, timeout_s: float) -> bytes:
    """A GET of the API server as the admin (client certificate)."""
    pki = bench.cluster.pki_dir
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    url = f"{bench.cluster.require_state().apiserver_url}{path}"
    with urllib.request.urlopen(url, context=context, timeout=timeout_s) as answer:  # noqa: S310 - our own https URL
        body: bytes = answer.read()
    return body


def fetch_profile(bench: Bench, seconds: int, path: Path) -> None:
    """The API server's CPU profile over the next ``seconds`` (``/debug/pprof/profile``)."""
    path.write_bytes(admin_get(bench, f"/debug/pprof/profile?seconds={seconds}", seconds + 60))


def request_counts(bench: Bench) -> Counter[str]:
    """Requests the API server has answered so far, by verb and resource (``apiserver_request_total``)."""
    counts: Counter[str] = Counter()
    for line in admin_get(bench, "/metrics", 60).decode().splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(LABEL.findall(line))
        resource = labels.get("resource", "") + (f"/{labels['subresource']}" if labels.get("subresource") else "")
        counts[f"{labels.get('verb', '?')} {resource}"] += int(float(line.rsplit(" ", 1)[1]))
    return counts


async def profiled(bench: Bench, seconds: int, path: Path, run: Callable[[], Awaitable[Sample]]) -> Sample:
    """``run`` while the API server is profiled; the profile starts first and outlasts it by a little."""
    profile = asyncio.create_task(asyncio.to_thread(fetch_profile, bench, seconds, path))
    await asyncio.sleep(0.5)  # the profiler is started by the request: give it that long to arrive
    sample = await run()
    await profile
    return sample


def pprof(*args: str) -> str:
    return subprocess.run(["go", "tool", "pprof", *args], capture_output=True, text=True, check=True).stdout


def stage_shares(path: Path) -> tuple[dict[str, float], float]:
    """CPU seconds of the profile by stage (``STAGES``, first match over a sample's frames), and the total."""
    seconds: dict[str, float] = {}
    for trace in pprof("-traces", str(path)).split("-----------+")[1:]:
        lines = [line for line in trace.splitlines() if line.strip() and not line.startswith("---")]
        if not lines:
            continue
        value, _, first_frame = lines[0].strip().partition(" ")
        frames = [first_frame.strip(), *(line.strip() for line in lines[1:])]
        stage = next((name for name, patterns in STAGES if any(p in f for f in frames for p in patterns)), "other")
        seconds[stage] = seconds.get(stage, 0.0) + _seconds(value)
    return seconds, sum(seconds.values())


def _seconds(value: str) -> float:
    for unit, scale in (("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("s", 1.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    return float(value)


def print_profile(console: Console, title: str, path: Path, sample: Sample) -> None:
    console.rule(f"profile: {title} ({sample.writes:,} writes, {sample.apiserver_cpu_s:.1f} API-server CPU s)")
    console.print(pprof("-top", "-cum", "-nodecount=40", str(path)), markup=False, highlight=False)
    shares, total_s = stage_shares(path)
    console.print(f"by stage (exclusive, first match; {total_s:.1f} s of samples):")
    for stage, used_s in sorted(shares.items(), key=lambda item: -item[1]):
        per_write_ms = used_s / sample.writes * 1000
        console.print(f"  {stage:<42} {used_s:7.2f} s  {used_s / total_s:6.1%}  {per_write_ms:6.2f} ms/write")


# -- report ----------------------------------------------------------------------------------

BASELINES = {"status apply": "status apply", "status merge": "status apply"}


def print_table(console: Console, samples: list[Sample], idle_cpu_per_s: float) -> None:
    console.rule("API-server CPU per 1,000 writes (median of runs)")
    console.print(f"idle API server: {idle_cpu_per_s:.3f} CPU s/s, subtracted over each run's wall time")
    by_variant: dict[str, list[Sample]] = {}
    for sample in samples:
        by_variant.setdefault(sample.variant, []).append(sample)
    medians = {
        variant: statistics.median(s.apiserver_cpu_s * 1000 / s.writes for s in runs)
        for variant, runs in by_variant.items()
    }
    console.print(f"{'variant':<24}{'apiserver s':>12}{'ratio':>8}{'etcd s':>9}{'wall s':>9}  runs (apiserver s)")
    for variant, runs in by_variant.items():
        base = medians[BASELINES.get(variant, "apply")]
        etcd = statistics.median(s.etcd_cpu_s * 1000 / s.writes for s in runs)
        wall = statistics.median(s.wall_s * 1000 / s.writes for s in runs)
        each = " ".join(f"{s.apiserver_cpu_s * 1000 / s.writes:.1f}" for s in runs)
        console.print(
            f"{variant:<24}{medians[variant]:>12.2f}{medians[variant] / base:>8.2f}{etcd:>9.2f}{wall:>9.1f}  {each}",
            markup=False,
        )


def print_requests(console: Console, samples: list[Sample]) -> None:
    """Requests per write by verb and resource in each variant's first run (its own and what it caused)."""
    console.rule("requests per write during each variant's first run (apiserver_request_total)")
    seen: set[str] = set()
    for sample in samples:
        if sample.variant in seen:
            continue
        seen.add(sample.variant)
        shown = ", ".join(f"{name} {count / sample.writes:.2f}" for name, count in sample.requests.most_common(6))
        console.print(f"{sample.variant:<24}{shown}", markup=False, highlight=False)


async def bench_writes(cluster: DevCluster, count: int, runs: int, profile: bool, console: Console) -> None:
    specs = make_specs(count, console)
    state = cluster.require_state()
    async with kube_client.connect(str(state.admin_kubeconfig)) as kube:
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost", "--timeout=60s"
        )
        analysis_body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Analysis",
            "metadata": {"name": ANALYSIS},
            "spec": {"profileRef": {"name": "bench"}, "window": "14d"},
        }
        cluster.kubectl("apply", "--server-side", "-f", "-", input_text=json.dumps(analysis_body))
        created = await kube.get(Analysis, ANALYSIS)
        assert created is not None
        analysis = created.model_copy(update={"status": created.status.model_copy(update={"run_id": "bench-run"})})
        bench = Bench(cluster, kube, analysis, specs, Counter(), state.pids["kube-apiserver"], state.pids["etcd"])
        print_sizes(bench, console)
        try:
            await create_namespaces(bench, [MARKERS])
            set_cel(bench, with_cel=True)  # also waits until the CRD is served
            await restart_watcher(bench)
            bench.idle_cpu_per_s = await idle_rate(bench)
            samples: list[Sample] = []
            for index in range(runs):
                with console.status(f"run {index + 1}/{runs}: every variant, {count:,} writes each…"):
                    samples.extend(await one_round(bench, index, count))
                if index == 0:
                    await print_stored_size(bench, "apply-a-0", console)
            print_table(console, samples, bench.idle_cpu_per_s)
            print_requests(console, samples)
            if profile:
                await profile_current_ways(bench, samples, count, console)
        finally:
            await stop_watcher(bench)


async def profile_current_ways(bench: Bench, samples: list[Sample], count: int, console: Console) -> None:
    """One more run of the analyzer's apply and of the operator's status write, each profiled."""
    namespace = "profiled"
    await create_namespaces(bench, [namespace])
    writes = writes_of(bench.specs, namespace)
    await profile_one(bench, samples, "apply", console, lambda: apply_all(bench, writes), events_after=count)
    planned = await proposed_statuses(bench, namespace)
    await profile_one(
        bench, samples, "status apply", console, lambda: status_apply_all(bench, planned), events_after=2 * count
    )


async def profile_one(
    bench: Bench,
    samples: list[Sample],
    variant: str,
    console: Console,
    write: Callable[[], Awaitable[None]],
    *,
    events_after: int,
) -> None:
    wall_s = statistics.median(s.wall_s for s in samples if s.variant == variant)
    seconds = int(wall_s) + PROFILE_TAIL_S
    path = bench.cluster.work_dir.parent / f"{bench.cluster.work_dir.name}-{variant.replace(' ', '-')}.pprof"
    count = len(bench.specs)

    async def run() -> Sample:
        return await measure(bench, variant, "profiled", count, events_after, write)

    sample = await profiled(bench, seconds, path, run)
    print_profile(console, variant, path, sample)
    console.print(f"profile saved: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1000, help="recommendations per variant and run")
    parser.add_argument("--runs", type=int, default=3, help="runs of every variant (median)")
    work_dir = Path("/tmp/kcost-apiserver-writes")  # noqa: S108 - a throwaway cluster
    parser.add_argument("--dir", type=Path, default=work_dir, help="the cluster's folder")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled runs")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (stop it with dev-cluster down)")
    options = parser.parse_args()
    console = Console(stderr=True, width=160)
    cluster = DevCluster(options.dir.absolute(), console, apiserver_profiling=True)
    cluster.up()
    try:
        asyncio.run(bench_writes(cluster, options.writes, options.runs, not options.no_profile, console))
    finally:
        if not options.keep:
            cluster.purge()


if __name__ == "__main__":
    main()
