"""``kcost bench analysis``: an end-to-end analysis of N workloads on the local stack.

For each N: a scenario of N Deployments with 14 days of history at 60 s (see
``kcost.devcluster.scale``), an Analysis over exactly its namespaces, run by the real
operator and a ``kcost analyzer rightsizing`` process started fresh for that N. Measured:
wall time from creating the Analysis to Succeeded, the analyzer's own duration, its peak
RSS (VmHWM), the Prometheus requests the analyzer made (its status' ``prometheusRequests``:
queries, range queries and series lookups), and the Prometheus requests of all clients
meanwhile (Prometheus's own counter: the operator's profile checks too).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kcost.cli.demo import profile_manifest

if TYPE_CHECKING:
    from kcost.devcluster.cluster import DevCluster

PROFILE = "bench"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class AnalysisRun:
    workloads: int
    namespaces: int
    wall_s: float
    analyzer_s: float
    peak_rss_mib: float
    analyze_s: float  # reading usage and sizing, as the analyzer logs it
    write_s: float  # writing the recommendations
    analyzer_prometheus_requests: int
    prometheus_requests_all_clients: int
    # CPU seconds each process spent during the run: where the wall time went.
    cpu_s: dict[str, float]
    recommendations: int
    phase: str


def _requests_answered(prometheus_url: str) -> int:
    """Query, range query and series requests Prometheus has answered since it started (its own /metrics)."""
    handlers = ('handler="/api/v1/query"', 'handler="/api/v1/query_range"', 'handler="/api/v1/series"')
    return int(_metric(prometheus_url, "prometheus_http_requests_total", any_of=handlers))


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def analysis(
    sizes: tuple[int, ...],
    namespaces: int,
    days: float,
    step_s: int,
    resolution: str,
    work_dir: Path | None,
    keep: bool,
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
                console.rule(f"analysis of {n:,} workloads")
                runs.append(_measure(cluster, scenario, operator, resolution, console))
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


def _spawn(cluster: DevCluster, name: str, args: list[str]) -> int:
    from kcost.devcluster import processes

    env = {
        "KUBECONFIG": str(cluster.require_state().admin_kubeconfig),
        # Close to the defaults (10 s; 600 s for recommendations), a little quicker to notice the end.
        "KCOST_TIMER_SECONDS": "2",
        "KCOST_ANALYZER_POLL_SECONDS": "0.5",
    }
    return processes.spawn(name, [str(Path(sys.executable).with_name("kcost")), *args], cluster.log_dir, env=env)


def _stop(pid: int) -> None:
    from kcost.devcluster import processes

    processes.stop(pid, timeout_s=10)


def _measure(cluster: DevCluster, scenario: Any, operator: int, resolution: str, console: Any) -> AnalysisRun:
    name = scenario.name
    # A reused cluster holds the last run: let it and its recommendations go before measuring.
    cluster.kubectl("delete", "kca", name, "--ignore-not-found", "--wait=true")
    with console.status("waiting for the last run's recommendations to be collected…"):
        while cluster.kubectl("get", "rec", "-A", "-l", f"kcost.dev/analysis={name}", "-o", "name").stdout.strip():
            time.sleep(2)
    analyzer = _spawn(cluster, f"bench-analyzer-{scenario.workloads}", ["analyzer", "rightsizing"])
    state = cluster.require_state()
    try:
        time.sleep(2)  # let it start and find nothing to do yet
        requests_before = _requests_answered(state.prometheus_url)
        watched = {"analyzer": analyzer, "operator": operator} | {
            name: state.pids[name] for name in ("prometheus", "kube-apiserver", "etcd")
        }
        cpu_before = {name: _cpu_s(pid) for name, pid in watched.items()}
        started = time.perf_counter()
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(_analysis(name, name, scenario.days, resolution)))
        body: dict[str, Any] = {}
        phase = ""
        with console.status(f"analyzing {scenario.workloads:,} workloads…") as status:
            while time.perf_counter() - started < 1800:
                body = json.loads(cluster.kubectl("get", "kca", name, "-o", "json").stdout)
                phase = (body.get("status") or {}).get("phase") or "Pending"
                status.update(f"analysis {phase.lower()}… {time.perf_counter() - started:.0f} s")
                if phase in ("Succeeded", "Failed"):
                    break
                time.sleep(0.5)
        wall_s = time.perf_counter() - started
        section = ((body.get("status") or {}).get("analyzers") or {}).get("rightsizing") or {}
        log_text = (cluster.log_dir / f"bench-analyzer-{scenario.workloads}.log").read_text(errors="replace")
        # The last run's line: the log of a reused cluster folder holds earlier ones too.
        splits = re.findall(r"in ([\d.]+) s \(.*\); wrote \d+ recommendations in ([\d.]+) s", log_text)
        analyze_s, write_s = (float(splits[-1][0]), float(splits[-1][1])) if splits else (0.0, 0.0)
        return AnalysisRun(
            workloads=scenario.workloads,
            namespaces=scenario.namespaces,
            wall_s=round(wall_s, 1),
            analyzer_s=float(section.get("durationSeconds") or 0.0),
            peak_rss_mib=round(_peak_rss_mib(analyzer), 1),
            analyze_s=analyze_s,
            write_s=write_s,
            analyzer_prometheus_requests=int(section.get("prometheusRequests") or 0),
            prometheus_requests_all_clients=_requests_answered(state.prometheus_url) - requests_before,
            cpu_s={name: round(_cpu_s(pid) - cpu_before[name], 1) for name, pid in watched.items()},
            recommendations=int(section.get("recommendations") or 0),
            phase=phase,
        )
    finally:
        _stop(analyzer)


def _print_table(runs: list[AnalysisRun], days: float, step_s: int, resolution: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"End-to-end analysis: {days:g} days of history at {step_s} s per workload, resolution {resolution}"
    )
    for header in ("workloads", "namespaces", "wall s", "analyzer s", "read+size s", "write s", "peak RSS MiB",
                   "analyzer's Prometheus requests", "Prometheus requests (all clients)",
                   "recommendations", "phase"):  # fmt: skip
        table.add_column(header, justify="right")
    for run in runs:
        table.add_row(
            f"{run.workloads:,}",
            str(run.namespaces),
            f"{run.wall_s:.1f}",
            f"{run.analyzer_s:.1f}",
            f"{run.analyze_s:.1f}",
            f"{run.write_s:.1f}",
            f"{run.peak_rss_mib:.0f}",
            str(run.analyzer_prometheus_requests),
            str(run.prometheus_requests_all_clients),
            f"{run.recommendations:,}",
            run.phase,
        )
    console = Console(width=max(Console().width, 132))
    console.print(table)
    for run in runs:
        spent = ", ".join(f"{name} {seconds:.0f}" for name, seconds in run.cpu_s.items())
        console.print(f"{run.workloads:,} workloads, CPU seconds during the run: {spent}")
    if len(runs) > 1:
        base = runs[0]
        console.print(
            ", ".join(
                f"{run.workloads:,}/{base.workloads:,}: wall ×{run.wall_s / max(base.wall_s, 1e-9):.2f}, "
                f"analyzer's Prometheus requests "
                f"×{run.analyzer_prometheus_requests / max(base.analyzer_prometheus_requests, 1):.2f}"
                for run in runs[1:]
            )
        )
