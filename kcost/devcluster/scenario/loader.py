"""Load a scenario into a running dev cluster: history into Prometheus, objects into the API server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from kcost.devcluster import binaries, progress, prometheus
from kcost.devcluster.cluster import DevCluster, DevClusterError
from kcost.devcluster.scenario import manifests, openmetrics, usage
from kcost.devcluster.scenario.model import Scenario

# History ends on the hour, so the block cache is reused for up to an hour.
END_ALIGNMENT_S = 3600
# Below the harness's 120 s limit on one kubectl call, so kubectl's own message is what a user sees.
ROLLOUT_TIMEOUT_S = 90


def aligned_end(now_s: float | None = None) -> int:
    now = time.time() if now_s is None else now_s
    return int(now // END_ALIGNMENT_S * END_ALIGNMENT_S)


def history_key(scenario: Scenario, end_s: int) -> str:
    """Key of the history cache: the whole definition, the end time and the generator's version."""
    document = {"scenario": scenario.model_dump(mode="json"), "end_s": end_s, "generator": usage.GENERATOR_VERSION}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def blocks_for(scenario: Scenario, end_s: int, cluster: DevCluster) -> Path:
    """TSDB blocks of the scenario's history, from the cache or built now."""
    key = history_key(scenario, end_s)
    cached = binaries.cache_root() / "scenarios" / f"{scenario.name}-{key}"
    if (cached / "complete").exists():
        return cached
    shards = max(1, min(4, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="kcost-history-") as scratch:
        work = Path(scratch)
        with progress.step(
            cluster.console, f"writing {scenario.name} history ({scenario.days:g} days at {scenario.step_s} s)…"
        ):
            files, samples = openmetrics.write(scenario, end_s, work, shards)
        blocks = work / "blocks"
        status = progress.step(cluster.console, f"promtool: building TSDB blocks from {samples:,} samples…")
        with status, ThreadPoolExecutor(max_workers=shards) as pool:
            list(pool.map(lambda index: prometheus.create_blocks(files[index], blocks / str(index)), range(shards)))
        staging = cached.with_name(cached.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for shard in blocks.iterdir():
            for block in shard.iterdir():
                shutil.move(str(block), staging / block.name)
        (staging / "complete").write_text(f"{samples}\n")
        shutil.rmtree(cached, ignore_errors=True)
        staging.rename(cached)
    return cached


def load(cluster: DevCluster, scenario: Scenario, *, end_s: int | None = None, wait: bool = True) -> int:
    """Write the history and create the objects; returns the history's end (Unix seconds)."""
    state = cluster.require_state()
    end = end_s or state.scenario_ends.get(scenario.name) or aligned_end()
    cluster.apply_nodes(scenario.nodes)
    blocks = blocks_for(scenario, end, cluster)
    data_dir = state.work_dir / "prometheus"
    if prometheus.install_blocks(blocks, data_dir):
        with progress.step(cluster.console, "restarting Prometheus to load the new history…"):
            cluster.restart("prometheus")
    objects = manifests.manifests(scenario)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input_text=yaml.safe_dump_all(objects))
    if wait:
        _wait_for_workloads(cluster, scenario)
    state = cluster.require_state()
    state.scenario_ends[scenario.name] = end
    state.save()
    return end


def _wait_for_workloads(cluster: DevCluster, scenario: Scenario) -> None:
    rolled = [w for w in scenario.workloads if w.kind in ("Deployment", "StatefulSet", "DaemonSet")]
    with progress.step(cluster.console, f"waiting for {len(rolled)} workloads to roll out…"):
        for workload in rolled:
            rollout = cluster.kubectl(
                "rollout",
                "status",
                f"{workload.kind.lower()}/{workload.name}",
                "-n",
                workload.namespace,
                f"--timeout={ROLLOUT_TIMEOUT_S}s",
                check=False,
            )
            if rollout.returncode != 0:
                raise DevClusterError(
                    f"{workload.kind.lower()}/{workload.name} -n {workload.namespace} did not roll out "
                    f"({rollout.stderr.strip()}); {_pods_not_running(cluster, scenario)}"
                )


def _pods_not_running(cluster: DevCluster, scenario: Scenario, shown: int = 3) -> str:
    """``only 8 of 40 pods Running; vm-1-…: 0/4 nodes are available: …`` (the scheduler's reasons)."""
    pods = []
    for namespace in scenario.namespaces:
        pods += json.loads(cluster.kubectl("get", "pods", "-n", namespace, "-o", "json").stdout)["items"]
    stuck = [pod for pod in pods if pod["status"].get("phase") != "Running"]
    reasons = [
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}: "
        + "; ".join(
            c.get("message", c.get("reason", "")) for c in pod["status"].get("conditions", []) if c["status"] != "True"
        )
        for pod in stuck[:shown]
    ]
    return f"only {len(pods) - len(stuck)} of {len(pods)} pods Running; " + " | ".join(reasons)
