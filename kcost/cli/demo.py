"""``kcost demo``: the local stack with a realistic cluster, kcost running on it, and what it found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from kcost.devcluster.cluster import DevCluster

PROFILE = "default"
ANALYSIS = "demo"
# What `kcost run` starts, in order: the N-th serves /metrics on KCOST_METRICS_PORT + N.
KCOST_PROCESSES = ("operator", "rightsizing", "idle", "cost", "webhook", "api")
# Lines of `kcost run`'s log shown when it ended before the analysis did.
KCOST_LOG_TAIL_LINES = 30


def _free_ports(count: int) -> int:
    """The first of ``count`` consecutive loopback ports that are free right now."""
    from kcost.devcluster import processes

    while True:
        first = processes.free_port()
        if all(processes.port_is_free(first + offset) for offset in range(1, count)):
            return first


def _shared_catalog() -> Path | None:
    root = Path(os.environ.get("KCOST_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    path = root / "pricing" / "cloud-instance-prices.csv.gz"
    return path if path.is_file() else None


def profile_manifest(
    name: str, prometheus: dict[str, object], pricing: dict[str, object], **spec: object
) -> dict[str, object]:
    """A ClusterCostProfile for the local stack's AWS-labelled nodes (the demo's and the benchmarks')."""
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "ClusterCostProfile",
        "metadata": {"name": name},
        "spec": {"provider": "aws", "region": "us-east-1", "pricing": pricing, "prometheus": prometheus, **spec},
    }


def _profile(prometheus_url: str) -> dict[str, object]:
    catalog = _shared_catalog()
    pricing: dict[str, object] = (
        {"source": "catalog", "catalog": {"path": str(catalog)}}
        if catalog
        else {"source": "custom", "customRates": {"cpuCoreHour": 0.031611, "memoryGiBHour": 0.004237}}
    )
    return profile_manifest(
        PROFILE, {"url": prometheus_url}, pricing, budget={"monthly": 2500, "alertThresholdsPercent": [80, 100]}
    )


def _analysis() -> dict[str, object]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "Analysis",
        "metadata": {"name": ANALYSIS},
        "spec": {
            "profileRef": {"name": PROFILE},
            "window": "14d",
            "resolution": "5m",
            "timeout": "10m",
            "analyzers": [{"name": "rightsizing"}, {"name": "idle"}],
        },
    }


def _apply_once_admitted(cluster: Any, document: dict[str, Any], timeout_s: float = 60) -> None:
    """Apply ``document``, waiting for kcost's admission webhook, which may still be starting."""
    deadline = time.monotonic() + timeout_s
    while cluster.kubectl("apply", "-f", "-", input_text=json.dumps(document), check=False).returncode:
        if time.monotonic() > deadline:
            cluster.kubectl("apply", "-f", "-", input_text=json.dumps(document))
        time.sleep(1)


def _start_kcost(cluster: DevCluster, repo: Path) -> int:
    """`kcost run` on the demo cluster (unless it runs), scraped by its Prometheus, which evaluates kcost's alerts;
    its pid."""
    from kcost.devcluster import processes, prometheus

    state = cluster.require_state()
    running = state.pids.get("kcost")
    if running is not None and processes.is_alive(running):
        return running
    # One block for all: ports drawn one by one could land on a /metrics port not bound yet.
    metrics_port = _free_ports(len(KCOST_PROCESSES) + 2)
    api_port = metrics_port + len(KCOST_PROCESSES)
    webhook_port = api_port + 1
    env = {
        # kcost's own identity, which its admission webhook trusts (KCOST_WEBHOOK_TRUSTED_USERS).
        "KUBECONFIG": str(cluster.mint_user_kubeconfig("kcost", ["system:masters"])),
        "KCOST_WEBHOOK_CERT_DIR": str(cluster.work_dir / "webhook-certs"),
        # Not the default 9443: another demo, or anything else on this machine, may hold it.
        "KCOST_WEBHOOK_PORT": str(webhook_port),
        "KCOST_TIMER_SECONDS": "2",
        "KCOST_COST_INTERVAL_SECONDS": "30",
        "KCOST_ANALYZER_POLL_SECONDS": "1",
        "KCOST_METRICS_PORT": str(metrics_port),
        "KCOST_API_HOST": "127.0.0.1",
        "KCOST_API_PORT": str(api_port),
        # The cluster's own history store (the forecast reads it), not one in whatever folder `make demo` ran from.
        "KCOST_DATABASE_URL": f"sqlite+aiosqlite:///{cluster.work_dir / 'kcost-history.db'}",
        # The cluster's own range cache: it goes with the cluster's Prometheus, whose URL a later cluster may reuse.
        "KCOST_ANALYZER_CACHE_DIR": str(cluster.work_dir / "analyzer-ranges"),
    }
    state.pids["kcost"] = processes.spawn(
        "kcost", [str(Path(sys.executable).with_name("kcost")), "run"], cluster.log_dir, env=env
    )
    state.api_url = f"http://127.0.0.1:{api_port}"
    state.save()
    targets = {name: f"127.0.0.1:{metrics_port + index}" for index, name in enumerate(KCOST_PROCESSES)}
    prometheus.scrape(cluster.work_dir / "prometheus", "kcost", targets)
    rules = (repo / "helm" / "kcost" / "files" / "kcost.rules.yaml").read_text()
    prometheus.install_rules(cluster.work_dir / "prometheus", state.ports.prometheus, "kcost", rules)
    return state.pids["kcost"]


def _fail_kcost_ended(cluster: DevCluster) -> NoReturn:
    """`kcost run` ended while the demo waited for it: say so with the end of its log rather than wait on."""
    log_file = cluster.log_dir / "kcost.log"
    tail = log_file.read_text(errors="replace").splitlines()[-KCOST_LOG_TAIL_LINES:] if log_file.exists() else []
    click.echo("\n".join(tail), err=True)
    raise click.ClickException(f"`kcost run` ended before the analysis did; its log: {log_file}")


@click.command("demo")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--timeout", "timeout_s", default=600.0, show_default=True, help="Seconds to wait for the analysis.")
def demo(work_dir: Path | None, timeout_s: float) -> None:
    """Bring up the local stack with the demo scenario, run kcost on it, and show what it found (idempotent)."""
    from rich.console import Console

    from kcost.devcluster import binaries, processes
    from kcost.devcluster.cluster import DevCluster
    from kcost.devcluster.scenario import library, loader
    from kcost.devcluster.state import default_work_dir, dir_flag

    console = Console(stderr=True)
    cluster = DevCluster((work_dir or default_work_dir()).absolute(), console)
    scenario = library.demo()
    console.rule("1/5 local control plane and Prometheus")
    state = cluster.up(scenario.nodes)
    console.rule("2/5 the demo cluster: workloads and 14 days of history")
    loader.load(cluster, scenario)
    console.rule("3/5 kcost: CRDs, profile, operator, analyzers and admission webhook")
    repo = Path(__file__).resolve().parents[2]
    cluster.kubectl("apply", "--server-side", "-f", str(repo / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost", "--timeout=60s"
    )
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", input_text=json.dumps(_profile(state.prometheus_url))
    )
    state = cluster.require_state()
    kcost_pid = _start_kcost(cluster, repo)
    console.rule("4/5 an analysis of the whole cluster")
    existing = cluster.kubectl("get", "kca", ANALYSIS, "-o", "json", check=False)
    if existing.returncode != 0:
        _apply_once_admitted(cluster, _analysis())
    deadline = time.monotonic() + timeout_s
    phase, body = "", {}
    with console.status("analyzing 14 days of the demo cluster…") as status:
        while time.monotonic() < deadline:
            body = json.loads(cluster.kubectl("get", "kca", ANALYSIS, "-o", "json").stdout)
            phase = (body.get("status") or {}).get("phase") or "Pending"
            status.update(f"analysis {phase.lower()}…")
            if phase in ("Succeeded", "Failed"):
                break
            if not processes.is_alive(kcost_pid):
                _fail_kcost_ended(cluster)
            time.sleep(1)
    console.rule("5/5 what kcost found")
    env = {
        **os.environ,
        "KUBECONFIG": str(state.admin_kubeconfig),
        "PATH": f"{Path(sys.executable).parent}:{binaries.KUBE.bin_dir}:{os.environ.get('PATH', '')}",
    }
    for args in (["cost", "summary"], ["cost", "recommendations", "-A"]):
        subprocess.run([binaries.kubectl(), *args], env=env, check=False)
    anomalous = ((body.get("status") or {}).get("analyzers") or {}).get("rightsizing", {}).get("anomalousWorkloads")
    if anomalous:
        click.echo(f"Usage anomalous now (left out of sizing; auto-apply holds their changes): {', '.join(anomalous)}")
    folder = dir_flag(cluster.work_dir)
    stop = f"kcost dev-cluster down{folder}" if folder else "make demo-down"
    click.echo(f"""
Explore it:
  eval "$(.venv/bin/kcost dev-cluster env{folder})"
  kubectl get kcost -A
  kubectl cost show -n shop deployment-frontend-right-sizing
Stop it:
  {stop}
""")
    if phase != "Succeeded":
        click.secho(f"the analysis ended {phase or 'unfinished'}: kubectl describe kca {ANALYSIS}", fg="red", err=True)
        sys.exit(1)
