"""``kcost bench analysis``: an end-to-end analysis of N workloads on the local stack.

For each N: a scenario of N Deployments with 14 days of history at 60 s (see
``kcost.devcluster.scale``), an Analysis over exactly its namespaces, run by the real
operator and a ``kcost analyzer rightsizing`` process started fresh for each read path and
sizing setting (``--sizing-processes``).
Measured per run: wall time from creating the Analysis to Succeeded, the analyzer's own
duration split into reading (time it waited for Prometheus: what sizing did not hide),
sizing and writing, its peak RSS (VmHWM, its sizing workers' added), the Prometheus requests the analyzer made (its
status' ``prometheusRequests``: queries, range queries and series lookups), the Prometheus
requests of all clients meanwhile (Prometheus's own counter: the operator's profile checks
too) and the CPU seconds of each process.

Runs per N: with ``--baseline``, first the earlier read path (``KCOST_ANALYZER_READ_PATH=
baseline``) from no recommendations; then the current path from no recommendations; then
the same Analysis again with nothing changed (a spec edit that changes no result starts the
run), which also reports how many recommendations it wrote (resourceVersions that changed).

Each analyzer process starts with an empty range cache (``KCOST_ANALYZER_CACHE_DIR``, a fresh
folder in the cluster's): the first run reads every window whole and fills it, the unchanged
run reads only the steps since. ``--no-range-cache`` turns it off, for before/after.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kcost.api.labels import LABEL_ANALYSIS
from kcost.cli.demo import profile_manifest
from kcost.devcluster import processes

if TYPE_CHECKING:
    from kcost.devcluster.cluster import DevCluster

PROFILE = "bench"
REPO = Path(__file__).resolve().parents[2]
# The garbage collector deletes a run's recommendations after its Analysis: 10,000 take a few minutes on 2 cores.
COLLECT_TIMEOUT_S = 900.0
# The local services an analysis calls, whose CPU seconds each run reports.
SERVICES = ("prometheus", "kube-apiserver", "etcd")
# The rest of the dev cluster: kcost does not call them, but they share the cores during a run
# (the garbage collector follows every new recommendation's owner: ~4 CPU s at 10,000 workloads).
CLUSTER_OTHERS = ("kube-controller-manager", "kube-scheduler", "kwok")


# The runs of one N, in order: (read path, what the run starts from).
FIRST, UNCHANGED = "first", "unchanged"


@dataclass
class AnalysisRun:
    workloads: int
    namespaces: int
    read_path: str  # KCOST_ANALYZER_READ_PATH: fast or baseline
    run: str  # first (no recommendations yet) or unchanged (the same data again)
    wall_s: float
    analyzer_s: float
    peak_rss_mib: float
    analyze_s: float  # reading usage and sizing, as the analyzer logs it
    read_wait_s: float  # of which waiting for Prometheus (reads that sizing did not overlap)
    size_s: float  # of which sizing
    write_s: float  # writing the recommendations
    analyzer_prometheus_requests: int
    prometheus_requests_all_clients: int
    # CPU seconds each process spent during the run: where the wall time went.
    cpu_s: dict[str, float]
    recommendations: int
    # Recommendations created, updated or deleted during the run (resourceVersion changes; any writer).
    recommendations_changed: int | None
    phase: str
    # Usage range queries answered from the range cache plus the new steps, and read whole (None: no cache).
    range_reads_incremental: int | None = None
    range_reads_whole: int | None = None
    # KCOST_ANALYZER_SIZING_PROCESSES: worker processes the analyzer sized in (0: a thread of its own).
    sizing_processes: int = 0
    # Containers the run sized, and of those how many were answered as an earlier run sized them (None: not logged).
    containers_sized: int | None = None
    containers_remembered: int | None = None


def _requests_answered(prometheus_url: str) -> int:
    """Query, range query and series requests Prometheus has answered since it started (its own /metrics)."""
    handlers = ('handler="/api/v1/query"', 'handler="/api/v1/query_range"', 'handler="/api/v1/series"')
    return int(_metric(prometheus_url, "prometheus_http_requests_total", any_of=handlers))


def _profile(prometheus_url: str) -> dict[str, object]:
    # The default unit rates as custom rates: prices are not what this measures.
    rates = {"cpuCoreHour": 0.031611, "memoryGiBHour": 0.004237}
    prometheus = {"url": prometheus_url, "timeoutSeconds": 120}
    return profile_manifest(PROFILE, prometheus, {"source": "custom", "customRates": rates})


def _analysis(name: str, bench_label: str, days: float, resolution: str) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": name},
        "spec": {
            "profileRef": {"name": PROFILE},
            "namespaceSelector": {"matchLabels": {"kcost.dev/bench": bench_label}},
            # History ends at the last midnight: one more day covers all of it.
            "window": f"{int(days) + 1}d",
            "resolution": resolution,
            "timeout": "30m",
            "analyzers": [{"name": "rightsizing"}],
        },
    }


@click.command("analysis")
@click.option(
    "--workloads",
    "sizes",
    multiple=True,
    type=click.IntRange(min=1),
    default=(1000, 5000, 10000),
    show_default=True,
    help="Workload counts to measure (repeat the option).",
)
@click.option("--namespaces", default=50, show_default=True, type=click.IntRange(min=1), help="Namespaces per N.")
@click.option("--days", default=14.0, show_default=True, type=click.FloatRange(min=1), help="Days of history.")
@click.option("--step", "step_s", default=60, show_default=True, type=click.IntRange(min=10), help="Scrape interval.")
@click.option(
    "--resolution",
    default="5m",
    show_default=True,
    help="The Analysis's resolution (its step is coarsened to at most 2,016 points per series).",
)
@click.option(
    "--dir",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Work folder of the bench's own cluster [default: ~/.cache/kcost/bench-cluster].",
)
@click.option("--keep", is_flag=True, help="Leave each cluster running afterwards (else it is stopped and deleted).")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="First run each N on the earlier read path too (KCOST_ANALYZER_READ_PATH=baseline), for before/after.",
)
@click.option(
    "--range-cache/--no-range-cache",
    default=True,
    show_default=True,
    help="Give the analyzer an empty range cache (KCOST_ANALYZER_CACHE_DIR), which the unchanged run reads from.",
)
@click.option(
    "--sizing-processes",
    "sizing_processes",
    type=click.IntRange(min=0, max=64),
    multiple=True,
    default=(0,),
    show_default=True,
    help="The analyzer's KCOST_ANALYZER_SIZING_PROCESSES (repeat the option to compare, fast read path).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def analysis(
    sizes: tuple[int, ...],
    namespaces: int,
    days: float,
    step_s: int,
    resolution: str,
    work_dir: Path | None,
    keep: bool,
    baseline: bool,
    range_cache: bool,
    sizing_processes: tuple[int, ...],
    as_json: bool,
) -> None:
    """End-to-end analysis of N workloads against the local Prometheus and API server."""
    from rich.console import Console

    from kcost.devcluster import binaries, prometheus, scale
    from kcost.devcluster.cluster import DevCluster
    from kcost.devcluster.nodes import NodeSpec

    console = Console(stderr=True)
    base_dir = (work_dir or binaries.cache_root() / "bench-cluster").absolute()
    nodes = [NodeSpec(name=f"node-{i}", instance_type="m5.4xlarge", cpu_cores=16, max_pods=250) for i in range(3)]
    end_s = int(time.time() // 86400 * 86400)  # midnight: the blocks stay cached all day
    runs = []
    for n in sizes:
        scenario = scale.ScaleScenario(n, namespaces=namespaces, days=days, step_s=step_s)
        # A cluster of its own per N: another N's history would share the TSDB and its compactions.
        cluster = DevCluster(base_dir / str(n), console)
        console.rule(f"{n:,} workloads: local control plane, history and Deployments")
        state = cluster.up(nodes)
        try:
            blocks = scale.blocks_for(scenario, end_s, console)
            if prometheus.install_blocks(blocks, state.work_dir / "prometheus"):
                with console.status("restarting Prometheus to load the history…"):
                    cluster.restart("prometheus")
            _wait_for_compactions(state.prometheus_url, console)
            asyncio.run(_create_objects(cluster, scenario, console))
            _install_kcost(cluster)
            operator = _spawn(cluster, "bench-operator", ["operator"])
            try:
                ways = [("baseline", sizing_processes[0])] if baseline else []
                ways += [("fast", processes) for processes in sizing_processes]
                for read_path, processes in ways:
                    console.rule(f"analysis of {n:,} workloads, {read_path} read path, {processes} sizing process(es)")
                    runs.extend(
                        _measure(cluster, scenario, operator, resolution, (read_path, processes), range_cache, console)
                    )
            finally:
                _stop(operator)
        finally:
            if not keep:
                cluster.purge()  # the next run starts clean: no earlier run to collect meanwhile
    if as_json:
        click.echo(json.dumps([asdict(run) for run in runs], indent=2))
    else:
        _print_table(runs, days, step_s, resolution)
    if any(run.phase != "Succeeded" for run in runs):
        sys.exit(1)


async def _create_objects(cluster: DevCluster, scenario: Any, console: Any) -> None:
    from kubernetes_asyncio import client, config

    from kcost.devcluster import scale

    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(cluster.require_state().admin_kubeconfig), client_configuration=configuration
    )
    # Many requests at once: the default pool of 4 connections would serialize them.
    configuration.connection_pool_maxsize = 32
    async with client.ApiClient(configuration) as api:
        with console.status(f"creating {scenario.workloads:,} Deployments in {scenario.namespaces} namespaces…"):
            started = time.perf_counter()
            created = await scale.create_objects(api, scenario)
        if created:
            elapsed_s = time.perf_counter() - started
            console.print(f"{scenario.name}: created {created:,} Deployments in {elapsed_s:.0f} s")


def _install_kcost(cluster: DevCluster) -> None:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost", "--timeout=60s"
    )
    profile = _profile(cluster.require_state().prometheus_url)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input_text=json.dumps(profile))


def _metric(prometheus_url: str, name: str, any_of: tuple[str, ...] = ()) -> float:
    """The sum of one of Prometheus's own metrics (over the series with any of ``any_of``), from its /metrics."""
    with urllib.request.urlopen(f"{prometheus_url}/metrics", timeout=10) as response:  # noqa: S310 - http only
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith((f"{name} ", f"{name}{{")) and (not any_of or any(part in line for part in any_of)):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wait_for_compactions(prometheus_url: str, console: Any, quiet_s: float = 10, timeout_s: float = 900) -> None:
    """Wait until Prometheus has merged the new blocks: a compaction during the run would be measured too."""
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for Prometheus to finish compacting the history…"):
        last, quiet_since = -1.0, time.monotonic()
        while time.monotonic() < deadline:
            count = _metric(prometheus_url, "prometheus_tsdb_compactions_total") + _metric(
                prometheus_url, "prometheus_tsdb_vertical_compactions_total"
            )
            if count != last:
                last, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return
            time.sleep(1)


def _wait_for_collection(
    cluster: DevCluster, analysis: str, console: Any, timeout_s: float = COLLECT_TIMEOUT_S
) -> None:
    """Wait until the garbage collector has deleted the last run's recommendations (thousands take minutes)."""
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for the last run's recommendations to be collected…") as status:
        while True:
            listed = cluster.kubectl("get", "rec", "-A", "-l", f"{LABEL_ANALYSIS}={analysis}", "-o", "name")
            left = len(listed.stdout.split())
            if not left:
                return
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"{left:,} recommendations of the Analysis {analysis} were still there {timeout_s:.0f} s after it"
                    " was deleted: is kube-controller-manager (its garbage collector) running?"
                )
            status.update(f"waiting for the last run's recommendations to be collected… {left:,} left")
            time.sleep(2)


def _spawn(cluster: DevCluster, name: str, args: list[str], env: dict[str, str] | None = None) -> int:
    env = {
        "KUBECONFIG": str(cluster.require_state().admin_kubeconfig),
        # Close to the defaults (10 s; 600 s for recommendations), a little quicker to notice the end.
        "KCOST_TIMER_SECONDS": "2",
        "KCOST_ANALYZER_POLL_SECONDS": "0.5",
        **(env or {}),
    }
    return processes.spawn(name, [str(Path(sys.executable).with_name("kcost")), *args], cluster.log_dir, env=env)


def _stop(pid: int) -> None:
    processes.stop(pid, timeout_s=10)


@dataclass
class _Watched:
    """The processes whose CPU a run reports, and the counters read before it."""

    pids: dict[str, int]
    cpu_before: dict[str, float]
    requests_before: int

    @classmethod
    def start(cls, cluster: DevCluster, analyzer: int, operator: int) -> _Watched:
        state = cluster.require_state()
        watched = SERVICES + CLUSTER_OTHERS
        pids = {"analyzer": analyzer, "operator": operator} | {n: state.pids[n] for n in watched if n in state.pids}
        return cls(pids, _tree_cpu_s(pids), _requests_answered(state.prometheus_url))

    def cpu_s(self) -> dict[str, float]:
        # To the clock tick (1/100 s): a small run's analyzer uses well under 0.05 CPU s, which 0.1 would round away.
        return {name: round(used_s - self.cpu_before[name], 2) for name, used_s in _tree_cpu_s(self.pids).items()}


def _tree_cpu_s(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process with its descendants (the analyzer's sizing workers)."""
    used_s = processes.tree_cpu_s(pids.values())
    return {name: used_s[pid] for name, pid in pids.items()}


def _measure(
    cluster: DevCluster,
    scenario: Any,
    operator: int,
    resolution: str,
    way: tuple[str, int],
    range_cache: bool,
    console: Any,
) -> list[AnalysisRun]:
    """A first run from no recommendations; on the fast path, then the same Analysis again on unchanged data.

    ``way``: the read path and the sizing processes.
    """
    read_path, sizing_processes = way
    name = scenario.name
    # A reused cluster holds the last run: let it and its recommendations go before measuring.
    cluster.kubectl("delete", "kca", name, "--ignore-not-found", "--wait=true")
    _wait_for_collection(cluster, name, console)
    log_name = f"bench-analyzer-{scenario.workloads}-{read_path}-{sizing_processes}"
    env = {
        "KCOST_ANALYZER_READ_PATH": read_path,
        "KCOST_ANALYZER_CACHE_DIR": "",
        "KCOST_ANALYZER_SIZING_PROCESSES": str(sizing_processes),
    }
    if range_cache:
        cache_dir = cluster.work_dir / f"analyzer-ranges-{read_path}"
        shutil.rmtree(cache_dir, ignore_errors=True)  # the first run starts without one
        env["KCOST_ANALYZER_CACHE_DIR"] = str(cache_dir)
    log = cluster.log_dir / f"{log_name}.log"
    logged_before = log.stat().st_size if log.exists() else 0  # a kept cluster's log holds earlier runs
    analyzer = _spawn(cluster, log_name, ["analyzer", "rightsizing"], env)
    try:

        def analyzer_started() -> bool:
            with log.open("rb") as text:
                text.seek(logged_before)
                return b"started as" in text.read()

        processes.wait_until(analyzer_started, what="the analyzer", timeout_s=120, pid=analyzer, log=log)
        watched = _Watched.start(cluster, analyzer, operator)
        document = _analysis(name, name, scenario.days, resolution)
        started = time.perf_counter()
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(document))
        body = _wait_for_run(cluster, name, None, started, scenario.workloads, console)
        wall_s = time.perf_counter() - started
        runs = [_run_of(cluster, scenario, way, FIRST, body, wall_s, watched, analyzer, log_name, None)]
        if read_path == "fast" and runs[0].phase == "Succeeded":
            # A spec edit that changes no result: a new generation, so the operator starts a new run.
            versions = _recommendation_versions(cluster, name)
            watched = _Watched.start(cluster, analyzer, operator)
            document["spec"]["timeout"] = "29m"
            started = time.perf_counter()
            cluster.kubectl("apply", "-f", "-", input_text=json.dumps(document))
            body = _wait_for_run(cluster, name, body["status"]["runId"], started, scenario.workloads, console)
            # Before listing what changed: that listing (seconds at 10,000) is the bench's, not the run's.
            wall_s = time.perf_counter() - started
            changed = _changed(versions, _recommendation_versions(cluster, name))
            runs.append(_run_of(cluster, scenario, way, UNCHANGED, body, wall_s, watched, analyzer, log_name, changed))
        return runs
    finally:
        _stop(analyzer)


def _wait_for_run(
    cluster: DevCluster, name: str, previous_run: str | None, started: float, workloads: int, console: Any
) -> dict[str, Any]:
    """The Analysis once a run other than ``previous_run`` has finished (or after 30 minutes)."""
    body: dict[str, Any] = {}
    with console.status(f"analyzing {workloads:,} workloads…") as status:
        while time.perf_counter() - started < 1800:
            body = json.loads(cluster.kubectl("get", "kca", name, "-o", "json").stdout)
            run_status = body.get("status") or {}
            phase = run_status.get("phase") or "Pending"
            status.update(f"analysis {phase.lower()}… {time.perf_counter() - started:.0f} s")
            if phase in ("Succeeded", "Failed") and run_status.get("runId") != previous_run:
                break
            time.sleep(0.5)
    return body


def _recommendation_versions(cluster: DevCluster, analysis: str) -> dict[str, str]:
    """namespace/name → resourceVersion of the Analysis's recommendations."""
    template = '{range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.resourceVersion}{"\\n"}{end}'
    listed = cluster.kubectl("get", "rec", "-A", "-l", f"{LABEL_ANALYSIS}={analysis}", "-o", f"jsonpath={template}")
    return dict(line.split(" ", 1) for line in listed.stdout.splitlines() if " " in line)


def _changed(before: dict[str, str], after: dict[str, str]) -> int:
    """Recommendations created, deleted or updated between two listings."""
    return len(before.keys() ^ after.keys()) + sum(
        1 for key in before.keys() & after.keys() if before[key] != after[key]
    )


def usage_of(log_text: str) -> tuple[float, float, tuple[int, int] | None]:
    """From an analyzer's log, its last run's usage line: seconds waiting for Prometheus, seconds
    analyzing, and with a range cache its reads (new steps only, whole window)."""
    usage = re.findall(
        r"([\d.]+) s waiting for Prometheus, ([\d.]+) s analyzing[^\n]*?"
        r"(?:range reads: (\d+) new steps only, (\d+) whole window)?\)\n",
        log_text,
    )
    if not usage:
        return 0.0, 0.0, None
    waited, analyzing, incremental, whole = usage[-1]
    return float(waited), float(analyzing), (int(incremental), int(whole)) if incremental else None


def remembered_of(log_text: str) -> tuple[int, int] | None:
    """From an analyzer's log, its last run's sizing line: containers sized, and of those how many were
    answered as an earlier run sized them. The line follows the run's usage line; None when the last run has none."""
    runs = log_text.split(" s analyzing (")
    if len(runs) < 2:
        return None
    found = re.search(r"sized (\d+) containers: (\d+) as an earlier run sized them", runs[-1])
    return (int(found[1]), int(found[2])) if found else None


def _run_of(
    cluster: DevCluster,
    scenario: Any,
    way: tuple[str, int],
    run: str,
    body: dict[str, Any],
    wall_s: float,
    watched: _Watched,
    analyzer: int,
    log_name: str,
    changed: int | None,
) -> AnalysisRun:
    status = body.get("status") or {}
    section = (status.get("analyzers") or {}).get("rightsizing") or {}
    log_text = (cluster.log_dir / f"{log_name}.log").read_text(errors="replace")
    # The last run's lines: the log holds the earlier runs too.
    splits = re.findall(r"in ([\d.]+) s \(.*\); wrote \d+ recommendations in ([\d.]+) s", log_text)
    analyze_s, write_s = (float(splits[-1][0]), float(splits[-1][1])) if splits else (0.0, 0.0)
    read_wait_s, size_s, cache_counts = usage_of(log_text)
    sized = remembered_of(log_text)
    return AnalysisRun(
        workloads=scenario.workloads,
        namespaces=scenario.namespaces,
        read_path=way[0],
        run=run,
        wall_s=round(wall_s, 1),
        analyzer_s=float(section.get("durationSeconds") or 0.0),
        peak_rss_mib=round(processes.tree_peak_rss_mib(analyzer), 1),
        analyze_s=analyze_s,
        read_wait_s=read_wait_s,
        size_s=size_s,
        write_s=write_s,
        analyzer_prometheus_requests=int(section.get("prometheusRequests") or 0),
        prometheus_requests_all_clients=_requests_answered(cluster.require_state().prometheus_url)
        - watched.requests_before,
        cpu_s=watched.cpu_s(),
        recommendations=int(section.get("recommendations") or 0),
        recommendations_changed=changed,
        phase=status.get("phase") or "Pending",
        range_reads_incremental=cache_counts[0] if cache_counts else None,
        range_reads_whole=cache_counts[1] if cache_counts else None,
        sizing_processes=way[1],
        containers_sized=sized[0] if sized else None,
        containers_remembered=sized[1] if sized else None,
    )


def _print_table(runs: list[AnalysisRun], days: float, step_s: int, resolution: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"End-to-end analysis: {days:g} days of history at {step_s} s per workload, resolution {resolution}"
    )
    for header in ("workloads", "read path", "sizing processes", "run", "wall s", "analyzer s", "read wait s",
                   "size s", "write s", "peak RSS MiB (with its workers)", "analyzer's Prometheus requests",
                   "Prometheus requests (all clients)", "Prometheus CPU s", "range reads new/whole",
                   "containers sized/remembered", "recommendations", "written", "phase"):  # fmt: skip
        table.add_column(header, justify="right")
    for run in runs:
        table.add_row(
            f"{run.workloads:,}",
            run.read_path,
            str(run.sizing_processes),
            run.run,
            f"{run.wall_s:.1f}",
            f"{run.analyzer_s:.1f}",
            f"{run.read_wait_s:.1f}",
            f"{run.size_s:.1f}",
            f"{run.write_s:.1f}",
            f"{run.peak_rss_mib:.0f}",
            str(run.analyzer_prometheus_requests),
            str(run.prometheus_requests_all_clients),
            f"{run.cpu_s.get('prometheus', 0.0):.0f}",
            "" if run.range_reads_incremental is None else f"{run.range_reads_incremental}/{run.range_reads_whole}",
            "" if run.containers_sized is None else f"{run.containers_sized:,}/{run.containers_remembered:,}",
            f"{run.recommendations:,}",
            "" if run.recommendations_changed is None else f"{run.recommendations_changed:,}",
            run.phase,
        )
    console = Console(width=max(Console().width, 160))
    console.print(table)
    cores = os.cpu_count() or 1
    for run in runs:
        console.print(cpu_line(run, cores))
    for line in _ratios(runs):
        console.print(line)


def cpu_line(run: AnalysisRun, cores: int) -> str:
    """Each process's CPU seconds, and the wall the services kcost calls needed on their own.

    Prometheus, the API server and etcd share this machine's cores with kcost: the CPU they
    spent answering it, spread over every core, is a floor under the run's wall time that
    no change inside kcost's own processes can go below. Every watched process together
    (the rest of the dev cluster too) is the floor of the run as a whole.
    """
    spent = ", ".join(f"{name} {seconds:.0f}" for name, seconds in run.cpu_s.items())
    services_cpu_s = sum(run.cpu_s.get(name, 0.0) for name in SERVICES)
    every_cpu_s = sum(run.cpu_s.values())
    return (
        f"{run.workloads:,} workloads, {run.read_path} {run.run} run ({run.sizing_processes} sizing processes), "
        f"CPU seconds: {spent}; "
        f"the services alone ({', '.join(SERVICES)}): {services_cpu_s:.0f} CPU s, "
        f"at least {services_cpu_s / cores:.0f} s of wall on {cores} cores; "
        f"every process: {every_cpu_s:.0f} CPU s, at least {every_cpu_s / cores:.0f} s"
    )


def _ratios(runs: list[AnalysisRun]) -> list[str]:
    """After against before for each N (same cluster, same bench run), and how the current path grows with N."""
    lines = _sizing_ratios(runs)
    # Read paths are compared at the first sizing setting: the baseline runs only there.
    compared = runs[0].sizing_processes if runs else 1
    first = {
        (run.workloads, run.read_path): run for run in runs if run.run == FIRST and run.sizing_processes == compared
    }
    for (n, path), after in first.items():
        before = first.get((n, "baseline"))
        if path != "fast" or before is None:
            continue
        lines.append(
            f"{n:,} workloads, fast ÷ baseline: wall ×{_ratio(after.wall_s, before.wall_s)}, "
            f"read+size ×{_ratio(after.analyze_s, before.analyze_s)}, "
            f"read wait ×{_ratio(after.read_wait_s, before.read_wait_s)}, "
            f"Prometheus CPU ×{_ratio(after.cpu_s.get('prometheus', 0), before.cpu_s.get('prometheus', 0))}, "
            f"analyzer CPU ×{_ratio(after.cpu_s.get('analyzer', 0), before.cpu_s.get('analyzer', 0))}"
        )
    fast = [run for run in runs if run.read_path == "fast" and run.run == FIRST and run.sizing_processes == compared]
    if len(fast) > 1:
        base = fast[0]
        lines.append(
            ", ".join(
                f"{run.workloads:,}/{base.workloads:,}: wall ×{_ratio(run.wall_s, base.wall_s)}, "
                f"analyzer's Prometheus requests "
                f"×{_ratio(run.analyzer_prometheus_requests, base.analyzer_prometheus_requests)}"
                for run in fast[1:]
            )
        )
    return lines


def _sizing_ratios(runs: list[AnalysisRun]) -> list[str]:
    """Each further sizing setting against the first one measured, run by run (same cluster, same bench run)."""
    fast = [run for run in runs if run.read_path == "fast"]
    base_processes = fast[0].sizing_processes if fast else None
    base = {(run.workloads, run.run): run for run in fast if run.sizing_processes == base_processes}
    lines = []
    for run in fast:
        before = base.get((run.workloads, run.run))
        if before is None or run.sizing_processes == base_processes:
            continue
        lines.append(
            f"{run.workloads:,} workloads, {run.run} run, {run.sizing_processes} ÷ {base_processes} sizing "
            f"processes: wall ×{_ratio(run.wall_s, before.wall_s)}, size ×{_ratio(run.size_s, before.size_s)}, "
            f"analyzer CPU ×{_ratio(run.cpu_s.get('analyzer', 0), before.cpu_s.get('analyzer', 0))}, "
            f"peak RSS ×{_ratio(run.peak_rss_mib, before.peak_rss_mib)}"
        )
    return lines


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "–"
