"""Rollouts at scale: N approved right-sizings in 50 namespaces, applied by the gated rolling update.

Each of the N Deployments (one replica) has a HorizontalPodAutoscaler pinned at one
replica, so the apply engine takes its rolling path (the template patched, the
Deployment's own rolling update gated by readiness, then watched for the policy's
step duration); one OptimizationPolicy gives that duration. The recommendations are
created approved while no operator runs; then ``kcost operator`` starts and the clock
with it, until every recommendation is Applied (or RolledBack / Failed).

Measured per size, in the same local cluster one after the other (a baseline size
first, so figures come with their ratio to it): wall time, the operator's peak RSS
(VmHWM) and CPU seconds, and the API writes kcost made per recommendation. Writes are
counted from the API server's own ``apiserver_request_total`` (deltas over the run) for
what only kcost writes — recommendations (any write verb), Deployments by PATCH/APPLY/
CREATE/DELETE and their ``scale`` subresource (the controllers write Deployments by
UPDATE), kopf's peering object — plus the Events kcost posted (listed by their source).
The step duration is also how long the Deployment's own rolling update may take before
kcost rolls it back, so on a loaded machine a short one measures the control plane.
Reads (GET and LIST by resource, any reader) are counted the same way: a rollout's looks
at its recommendation, workload and pods are what load the API server at a thousand.

The control plane's floor is measured first at each size (``--no-baseline`` skips it): the same Deployments and
HPAs, the same change patched straight into each template (32 at a time, as fast as the API server takes them), no
kcost running, until every Deployment is rolled out (observedGeneration ≥ generation, updatedReplicas == replicas
== availableReplicas), plus the step duration. kcost's wall time ÷ the floor is how much of it is kcost's.

Usage: python bench/rollouts.py [--sizes 100 --sizes 1000] [--namespaces 50] [--repeat 1] [--no-baseline] [--json]
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
import sysconfig
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from rich.console import Console
from rich.table import Table

from kcost.api.v1alpha1.common import parse_duration
from kcost.devcluster import binaries, processes
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import NodeSpec

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION = "optimizer.kcost.dev", "v1alpha1"
RUN_LABEL = "bench.kcost.dev/rollouts"
WRITE_VERBS = frozenset({"CREATE", "UPDATE", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION", "POST", "PUT"})
# Single reads and listings (watches are long-lived: their count says nothing of load).
READ_VERBS = frozenset({"GET", "LIST"})
# The controllers write Deployments by UPDATE (status, revision annotation); kcost never does.
KCOST_DEPLOYMENT_VERBS = frozenset({"CREATE", "PATCH", "APPLY", "DELETE"})
DONE_PHASES = frozenset({"Applied", "RolledBack", "Failed"})
TIMEOUT_S = 900
# How often the bench counts the phases (its wall time is this coarse; apply_s comes from the recommendations' stamps).
POLL_S = 2.0
# Ten nodes hold every pod twice over (the rolling update surges one new pod per Deployment).
NODES = [NodeSpec(name=f"node-{i}", instance_type="m5.4xlarge", cpu_cores=16, max_pods=250) for i in range(10)]


@dataclass
class RolloutRun:
    recommendations: int
    namespaces: int
    wall_s: float  # from starting the operator (its imports and first listing included)
    apply_s: float  # from the first rollout's start to the last promotion, by the recommendations' own stamps
    applied: int
    rolled_back: int
    failed: int
    operator_peak_rss_mib: float
    operator_cpu_s: float
    kcost_writes: int
    writes_by_kind: dict[str, int]
    reads: int = 0
    reads_by_kind: dict[str, int] = field(default_factory=dict)
    # The control plane's floor (no kcost): the same change made by hand, plus the step duration.
    floor: bool = False
    # Stage → min/median/p90/max seconds over the rollouts (see ``timeline``).
    timeline_s: dict[str, str] = field(default_factory=dict)

    @property
    def writes_per_recommendation(self) -> float:
        return self.kcost_writes / max(1, self.recommendations)

    @property
    def reads_per_recommendation(self) -> float:
        return self.reads / max(1, self.recommendations)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# What a rollout reads, and the readers it competes with.
ROLLOUT_READ_RESOURCES = frozenset(
    {
        "optimizationrecommendations",
        "deployments",
        "pods",
        "namespaces",
        "optimizationpolicies",
        "poddisruptionbudgets",
        "horizontalpodautoscalers",
        "clusterkopfpeerings",
    }
)


def _labels(line: str) -> dict[str, str]:
    inner = line[line.index("{") + 1 : line.rindex("}")]
    pairs = (part.split("=", 1) for part in inner.split('",') if "=" in part)
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def _requests(cluster: DevCluster) -> Iterator[tuple[str, str, str, int]]:
    """(verb, resource, subresource, count) of each series of the API server's request counter, so far."""
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    for line in text.splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = _labels(line)
            yield (
                labels.get("verb", ""),
                labels.get("resource", ""),
                labels.get("subresource", ""),
                int(float(line.rsplit(" ", 1)[1])),
            )


def kcost_writes(cluster: DevCluster) -> Counter[str]:
    """Writes so far to what only kcost writes, by kind, from the API server's request counter."""
    counts: Counter[str] = Counter()
    for verb, resource, sub, value in _requests(cluster):
        if verb not in WRITE_VERBS:
            continue
        if resource == "optimizationrecommendations":
            counts[f"recommendations{'/' + sub if sub else ''}"] += value
        elif resource == "deployments" and (sub == "scale" or (not sub and verb in KCOST_DEPLOYMENT_VERBS)):
            counts[f"deployments{'/' + sub if sub else ''} {verb}"] += value
        elif resource == "clusterkopfpeerings":
            counts["kopf peering"] += value
    return counts


def api_reads(cluster: DevCluster) -> Counter[str]:
    """Reads so far of what a rollout looks at, by resource and verb, from the API server's request counter.
    Every reader is counted (the bench's own listing of the recommendations every few seconds too): the operator's
    share is the difference between two runs."""
    counts: Counter[str] = Counter()
    for verb, resource, sub, value in _requests(cluster):
        if verb in READ_VERBS and resource in ROLLOUT_READ_RESOURCES:
            # Subresources apart: the HPA controller reads each Deployment's scale every 15 s, kcost never does.
            counts[f"{resource}{'/' + sub if sub else ''} {verb}"] += value
    return counts


def kcost_events(cluster: DevCluster, namespaces: list[str]) -> int:
    """Events kcost posted in the run's namespaces: selected by the API server and only their namespace returned
    (every event of a thousand rollouts as JSON took over kubectl's two minutes on a loaded machine)."""
    only_namespaces = "jsonpath={.items[*].metadata.namespace}"
    listed = cluster.kubectl("get", "events", "-A", "--field-selector", "source=kcost-operator", "-o", only_namespaces)
    wanted = set(namespaces)
    return sum(1 for namespace in listed.stdout.split() if namespace in wanted)


def _deployment(namespace: str, name: str, run: str) -> dict[str, Any]:
    labels = {"app": name, RUN_LABEL: run}
    resources = {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "32Mi"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10", "resources": resources}]
                },
            },
        },
    }


def _autoscaler(namespace: str, name: str) -> dict[str, Any]:
    """An HPA pinned at one replica: the workload is HPA-scaled (rolling path) and never rescaled."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 1,
        },
    }


def _recommendation(namespace: str, name: str) -> dict[str, Any]:
    def shape(cpu: str, memory: str) -> dict[str, Any]:
        requests = {"cpu": cpu, "memory": memory}
        return {"containers": [{"name": "app", "requests": requests, "limits": {"memory": memory}}], "replicas": 1}

    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": f"deployment-{name}-right-sizing", "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "type": "right-sizing",
            "changes": shape("15m", "24Mi"),
            "current": shape("20m", "32Mi"),
            "estimatedMonthlySavings": 0.5,
            "confidence": 0.95,
            "riskLevel": "low",
            "evidence": {"method": "bench"},
            "approval": {"approved": True, "approvedBy": "bench"},
        },
    }


def _policy(name: str, namespaces: list[str], step_duration: str) -> dict[str, Any]:
    strategy = {"type": "canary", "steps": [{"replicas": "100%", "duration": step_duration}]}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "OptimizationPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": namespaces, "mode": "recommend", "rolloutStrategy": strategy},
    }


async def create_objects(
    cluster: DevCluster, run: str, namespaces: list[str], per_namespace: int, *, recommendations: bool = True
) -> None:
    """Namespaces, Deployments with their HPAs, and the approved recommendations (no operator running yet)."""
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(cluster.require_state().admin_kubeconfig), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = 32
    async with client.ApiClient(configuration) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        autoscaling, custom = client.AutoscalingV2Api(api), client.CustomObjectsApi(api)
        limit = asyncio.Semaphore(32)

        async def create(make: Any, *args: Any) -> None:
            async with limit:
                try:
                    await make(*args)
                except ApiException as error:
                    if error.status != 409:
                        raise

        await asyncio.gather(
            *(create(core.create_namespace, {"metadata": {"name": n, "labels": {RUN_LABEL: run}}}) for n in namespaces)
        )
        names = [(n, f"app-{i:03d}") for n in namespaces for i in range(per_namespace)]
        await asyncio.gather(*(create(apps.create_namespaced_deployment, n, _deployment(n, w, run)) for n, w in names))
        await asyncio.gather(
            *(create(autoscaling.create_namespaced_horizontal_pod_autoscaler, n, _autoscaler(n, w)) for n, w in names)
        )
        if not recommendations:
            return
        plural = "optimizationrecommendations"
        await asyncio.gather(
            *(
                create(custom.create_namespaced_custom_object, GROUP, VERSION, n, plural, _recommendation(n, w))
                for n, w in names
            )
        )


def compile_bytecode(console: Console) -> None:
    """Compile the operator's modules (kcost and its libraries) to bytecode before the clock starts, as the image
    has them (built with compileall): where PYTHONDONTWRITEBYTECODE is set, an operator started from a checkout
    compiles every module it imports at each start, about 13 CPU s, more on a loaded machine."""
    with console.status("compiling bytecode…"):
        paths = [sysconfig.get_paths()["purelib"], str(REPO / "kcost")]
        # Some libraries ship files that are not Python 3.11 (templates, tests): their errors are theirs.
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j0", *paths], capture_output=True, check=False)


def wait_until(what: str, check: Any, console: Console, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    with console.status(what):
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(1)
    raise SystemExit(f"timed out: {what}")


def remove_run(cluster: DevCluster, run: str, console: Console) -> None:
    """Delete a run's namespaces and wait until they are gone: a thousand pods' deletion (the namespace controller,
    kwok) would otherwise load the machine during the next measurement."""
    cluster.kubectl("delete", "namespace", "-l", f"{RUN_LABEL}={run}", "--wait=false")

    def gone() -> bool:
        listed = cluster.kubectl("get", "namespaces", "-l", f"{RUN_LABEL}={run}", "-o", "name", check=False)
        return listed.returncode == 0 and not listed.stdout.strip()

    wait_until(f"run {run}'s namespaces deleted…", gone, console)


def _available(cluster: DevCluster, run: str) -> int:
    """Deployments of the run with their pod available (0 while the API server does not answer)."""
    listed = cluster.kubectl(
        "get", "deployments", "-A", "-l", f"{RUN_LABEL}={run}", "-o", "jsonpath={.items[*].status.availableReplicas}",
        check=False,
    )  # fmt: skip
    return sum(1 for value in listed.stdout.split() if int(value) >= 1) if listed.returncode == 0 else 0


# Only what the bench reads of each recommendation: a full listing of 1,000 statuses is megabytes.
REC_FIELDS = (
    "jsonpath={range .items[*]}{.metadata.namespace} {.status.phase} "
    "{.status.rollout.startedAt} {.status.appliedAt} {.status.rollout.steps[*].startedAt} "
    '{.status.rollout.steps[*].finishedAt}{"\\n"}{end}'
)


def _recs(cluster: DevCluster, namespaces: list[str]) -> list[list[str]] | None:
    """(namespace, phase, rollout start, applied at) of the run's recommendations; None if the listing failed."""
    listed = cluster.kubectl("get", "rec", "-A", "-o", REC_FIELDS, check=False)
    if listed.returncode != 0:
        return None
    wanted = set(namespaces)
    return [line.split() for line in listed.stdout.splitlines() if line.split()[:1] and line.split()[0] in wanted]


def _phase_counts(cluster: DevCluster, namespaces: list[str]) -> Counter[str] | None:
    """Phases of the run's recommendations from the API server's table (a few cells each, not every status:
    a thousand full statuses a second would load the API server the bench measures); None if the listing failed."""
    listed = cluster.kubectl("get", "rec", "-A", "--no-headers", check=False)
    if listed.returncode != 0:
        return None
    wanted = set(namespaces)
    # NAMESPACE NAME TARGET TYPE SAVINGS CONFIDENCE RISK PHASE AGE; PHASE is blank (one column fewer) before any.
    rows = [line.split() for line in listed.stdout.splitlines()]
    return Counter(row[7] if len(row) > 8 else "None" for row in rows if row and row[0] in wanted)


def _phases(recs: list[list[str]]) -> Counter[str]:
    return Counter(fields[1] if len(fields) > 1 else "None" for fields in recs)


def _apply_s(recs: list[list[str]]) -> float:
    """From the first rollout's start to the last promotion, as the recommendations recorded them."""
    started = [datetime.datetime.fromisoformat(f[2]) for f in recs if len(f) > 2]
    applied = [datetime.datetime.fromisoformat(f[3]) for f in recs if len(f) > 3]
    return round((max(applied) - min(started)).total_seconds(), 1) if started and applied else 0.0


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    at = [ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.0, 0.5, 0.9, 1.0)]
    return "/".join(f"{value:.1f}" for value in at)


def timeline(recs: list[list[str]]) -> dict[str, str]:
    """Where the wall time goes, from the stamps of each applied rollout: how the starts are spread (kcost's or the
    API server's throughput) against how long each rollout takes once started (the control plane's rolling update,
    then the step). Each figure is min/median/p90/max seconds."""
    # Only rollouts of one step, applied (a rolled back one has no appliedAt: its fields are fewer).
    stamps = [[datetime.datetime.fromisoformat(f) for f in fields[2:6]] for fields in recs if len(fields) == 6]
    if not stamps:
        return {}
    first = min(started for started, *_ in stamps)
    return {
        "start after first start": _percentiles([(started - first).total_seconds() for started, *_ in stamps]),
        "start → pods in place": _percentiles([(placed - started).total_seconds() for started, _, placed, _ in stamps]),
        "pods in place → step passed": _percentiles(
            [(passed - placed).total_seconds() for *_, placed, passed in stamps]
        ),
        "step passed → applied": _percentiles([(applied - passed).total_seconds() for _, applied, _, passed in stamps]),
        "start → applied": _percentiles([(applied - started).total_seconds() for started, applied, *_ in stamps]),
        "applied after first start": _percentiles([(applied - first).total_seconds() for _, applied, *_ in stamps]),
    }


def measure(
    cluster: DevCluster, size: int, namespaces: int, step_duration: str, console: Console, *, keep: bool = False
) -> RolloutRun:
    run = f"r{uuid.uuid4().hex[:6]}"
    names = [f"{run}-ns-{i:02d}" for i in range(namespaces)]
    per_namespace = size // namespaces
    total = per_namespace * namespaces
    with console.status(f"creating {total:,} Deployments, HPAs and approved recommendations…"):
        asyncio.run(create_objects(cluster, run, names, per_namespace))
    cluster.kubectl("apply", "-f", "-", input_text=json.dumps(_policy(f"bench-{run}", names, step_duration)))
    wait_until(f"{total:,} Deployments available…", lambda: _available(cluster, run) >= total, console)
    writes_before, reads_before = kcost_writes(cluster), api_reads(cluster)
    env = {"KUBECONFIG": str(cluster.require_state().admin_kubeconfig), "KCOST_PEERING_NAME": f"bench-{run}"}
    kcost = str(Path(sys.executable).with_name("kcost"))
    started = time.perf_counter()
    operator = processes.spawn(f"bench-operator-{run}", [kcost, "operator"], cluster.log_dir, env=env)
    try:
        phases: Counter[str] = Counter()
        with console.status("applying…") as status:
            while time.perf_counter() - started < TIMEOUT_S:
                counted = _phase_counts(cluster, names)
                if counted is None:  # the API server is busy: ask again
                    time.sleep(POLL_S)
                    continue
                phases = counted
                done = sum(phases[p] for p in DONE_PHASES)
                status.update(f"applying… {done:,}/{total:,} done after {time.perf_counter() - started:.0f} s")
                if done >= total:
                    break
                time.sleep(POLL_S)
        wall_s = time.perf_counter() - started
        peak_rss, cpu_s = _peak_rss_mib(operator), _cpu_s(operator)
        writes = kcost_writes(cluster) - writes_before
        reads = api_reads(cluster) - reads_before
        stamped = _recs(cluster, names) or []
        apply_s = _apply_s(stamped)
        writes["events"] = kcost_events(cluster, names)
    finally:
        processes.stop(operator, timeout_s=10)
    if not keep:
        cluster.kubectl("delete", "optimizationpolicy", f"bench-{run}", "--wait=false")
        remove_run(cluster, run, console)
    return RolloutRun(
        recommendations=total,
        namespaces=namespaces,
        wall_s=round(wall_s, 1),
        apply_s=apply_s,
        applied=phases["Applied"],
        rolled_back=phases["RolledBack"],
        failed=phases["Failed"],
        operator_peak_rss_mib=round(peak_rss, 1),
        operator_cpu_s=round(cpu_s, 1),
        kcost_writes=sum(writes.values()),
        writes_by_kind=dict(writes),
        reads=sum(reads.values()),
        reads_by_kind=dict(reads),
        timeline_s=timeline(stamped),
    )


# Per Deployment: generation, observedGeneration, replicas, updatedReplicas, availableReplicas.
ROLLED_OUT_FIELDS = (
    "jsonpath={range .items[*]}{.metadata.generation} {.status.observedGeneration} {.spec.replicas} "
    '{.status.updatedReplicas} {.status.availableReplicas}{"\\n"}{end}'
)


def _rolled_out(cluster: DevCluster, run: str) -> int:
    """Deployments of the run whose rolling update is over: the controller saw the new template and every replica
    is updated and available (0 while the API server does not answer)."""
    listed = cluster.kubectl(
        "get", "deployments", "-A", "-l", f"{RUN_LABEL}={run}", "-o", ROLLED_OUT_FIELDS, check=False
    )
    if listed.returncode != 0:
        return 0
    done = 0
    for line in listed.stdout.splitlines():
        fields = line.split()
        if len(fields) == 5:
            generation, observed, replicas, updated, available = (int(value) for value in fields)
            done += observed >= generation and updated == replicas == available
    return done


async def patch_templates(cluster: DevCluster, namespaces: list[str], per_namespace: int) -> None:
    """The recommendations' change made by hand: every Deployment's template resources patched at once."""
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(cluster.require_state().admin_kubeconfig), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = 32
    changed = {"requests": {"cpu": "15m", "memory": "24Mi"}, "limits": {"memory": "24Mi"}}
    body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": changed}]}}}}
    async with client.ApiClient(configuration) as api:
        apps = client.AppsV1Api(api)
        limit = asyncio.Semaphore(32)

        async def patch(namespace: str, name: str) -> None:
            async with limit:
                # A strategic merge patch: containers merge by name, as kcost's own patch does.
                await apps.patch_namespaced_deployment(name, namespace, body)

        await asyncio.gather(*(patch(n, f"app-{i:03d}") for n in namespaces for i in range(per_namespace)))


def measure_floor(cluster: DevCluster, size: int, namespaces: int, step_duration: str, console: Console) -> RolloutRun:
    """The control plane's floor: the same change to the same Deployments with no kcost at all, patched as fast as
    the API server takes them, until every rolling update is over, plus the step duration kcost watches after
    each (a rollout kcost applies can end no sooner)."""
    run = f"f{uuid.uuid4().hex[:6]}"
    names = [f"{run}-ns-{i:02d}" for i in range(namespaces)]
    per_namespace = size // namespaces
    total = per_namespace * namespaces
    with console.status(f"creating {total:,} Deployments and HPAs…"):
        asyncio.run(create_objects(cluster, run, names, per_namespace, recommendations=False))
    wait_until(f"{total:,} Deployments available…", lambda: _available(cluster, run) >= total, console)
    started = time.perf_counter()
    with console.status(f"patching {total:,} Deployments…"):
        asyncio.run(patch_templates(cluster, names, per_namespace))
    patched_s = time.perf_counter() - started
    wait_until(f"{total:,} Deployments rolled out…", lambda: _rolled_out(cluster, run) >= total, console)
    rolled_out_s = time.perf_counter() - started
    remove_run(cluster, run, console)
    step_s = parse_duration(step_duration).total_seconds()
    console.print(
        f"floor: {total:,} patched in {patched_s:.1f} s, rolled out after {rolled_out_s:.1f} s (+{step_s:.0f} s step)"
    )
    return RolloutRun(
        recommendations=total,
        namespaces=namespaces,
        wall_s=round(rolled_out_s + step_s, 1),
        apply_s=round(rolled_out_s + step_s, 1),
        applied=total,
        rolled_back=0,
        failed=0,
        operator_peak_rss_mib=0.0,
        operator_cpu_s=0.0,
        kcost_writes=0,
        writes_by_kind={},
        floor=True,
    )


def _median(runs: list[RolloutRun]) -> RolloutRun:
    """The run of median wall time (its own figures, not a mix of runs)."""
    ordered = sorted(runs, key=lambda r: r.wall_s)
    return ordered[len(ordered) // 2]


def _print_table(medians: list[RolloutRun], floors: dict[int, RolloutRun], repeat: int, console: Console) -> None:
    base = medians[0]
    table = Table(title=f"Rollouts by gated rolling update (median of {repeat} run(s) per size)")
    for header in ("recs", "wall s", "× base", "× floor", "apply s", "applied", "rolled back", "failed",
                   "peak RSS MiB", "CPU s", "writes/rec", "reads/rec"):  # fmt: skip
        table.add_column(header, justify="right")
    for size, floor_run in floors.items():
        table.add_row(f"{size:,} floor", f"{floor_run.wall_s:.1f}", "", "1.00", *[""] * 8)
    for run in medians:
        floor = floors.get(run.recommendations)
        table.add_row(
            f"{run.recommendations:,}",
            f"{run.wall_s:.1f}",
            f"{run.wall_s / base.wall_s:.2f}",
            f"{run.wall_s / floor.wall_s:.2f}" if floor else "",
            f"{run.apply_s:.1f}",
            str(run.applied),
            str(run.rolled_back),
            str(run.failed),
            f"{run.operator_peak_rss_mib:.0f}",
            f"{run.operator_cpu_s:.1f}",
            f"{run.writes_per_recommendation:.2f}",
            f"{run.reads_per_recommendation:.2f}",
        )
    console.print(table)
    for run in medians:
        kinds = ", ".join(
            f"{kind} {count / run.recommendations:.2f}" for kind, count in sorted(run.writes_by_kind.items())
        )
        console.print(f"{run.recommendations:,} recs, writes per rec: {kinds}")
        kinds = ", ".join(
            f"{kind} {count / run.recommendations:.2f}" for kind, count in sorted(run.reads_by_kind.items())
        )
        console.print(f"{run.recommendations:,} recs, reads per rec: {kinds}")
        for stage, figures in run.timeline_s.items():
            console.print(f"{run.recommendations:,} recs, {stage} (min/median/p90/max s): {figures}")


@click.command()
@click.option("--sizes", multiple=True, type=int, default=(100, 1000), show_default=True, help="Recommendations.")
@click.option("--namespaces", default=50, show_default=True)
@click.option("--repeat", default=1, show_default=True, help="Runs per size; the median run is reported.")
@click.option("--step-duration", default="30s", show_default=True, help="How long health is watched after rollout.")
@click.option("--work-dir", type=click.Path(path_type=Path), default=None)
@click.option("--keep", is_flag=True, help="Leave the cluster and its logs for a look afterwards.")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Measure the control plane's floor first at each size: the same change patched by hand, no kcost.",
)
@click.option("--json", "as_json", is_flag=True)
def main(
    *,
    sizes: tuple[int, ...],
    namespaces: int,
    repeat: int,
    step_duration: str,
    work_dir: Path | None,
    keep: bool,
    baseline: bool,
    as_json: bool,
) -> None:
    """N approved recommendations applied by the operator; wall time, RSS, CPU and API writes."""
    console = Console(stderr=True)
    compile_bytecode(console)
    cluster = DevCluster((work_dir or binaries.cache_root() / "bench-rollouts").absolute(), console)
    cluster.up(NODES)
    try:
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost", "--timeout=60s"
        )
        medians = []
        floors: dict[int, RolloutRun] = {}
        for size in sizes:
            if baseline:
                console.rule(f"the control plane's floor: {size:,} Deployments patched by hand, no kcost")
                floors[size] = measure_floor(cluster, size, namespaces, step_duration, console)
                console.print(asdict(floors[size]))
            runs = []
            for attempt in range(repeat):
                console.rule(f"{size:,} recommendations in {namespaces} namespaces, run {attempt + 1}/{repeat}")
                runs.append(measure(cluster, size, namespaces, step_duration, console, keep=keep))
                console.print(asdict(runs[-1]))
            medians.append(_median(runs))
    finally:
        if keep:
            console.print(f"kept: {cluster.work_dir} (stop it with `kcost dev-cluster down` there)")
        else:
            cluster.purge()
    if as_json:
        click.echo(json.dumps([asdict(run) | {"writes_per_recommendation": run.writes_per_recommendation,
                                            "reads_per_recommendation": run.reads_per_recommendation}
                               for run in [*floors.values(), *medians]], indent=2))  # fmt: skip
    else:
        _print_table(medians, floors, repeat, console)


if __name__ == "__main__":
    main()
