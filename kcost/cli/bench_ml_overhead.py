"""``kcost bench ml-overhead``: what the learned parts add to an analysis of the demo.

Headline: the rightsizing analyzer's per-workload work on the demo scenario's workloads
(``kcost demo``: 14 days, read at the Analysis' 5-minute resolution, each pod's series as
the read path hands them over), run in this process with the analyzer's ``learned: false``
setting (the rules alone) and with ``learned: true`` (the default: anomalous hours screened
out by ``kcost.ml.anomaly``, the calibrated confidence of ``kcost.ml.confidence``, the
workload class in the evidence), alternating which goes first, several repeats, medians and
their ratio against the issue's ×1.2 budget. Reading from Prometheus and writing the
recommendations are the same either way and are left out, so the ratio is still an upper
bound on a whole analysis' slowdown. Below it, the sizing alone (the strategy's values with
and without screening and the confidence model), a tighter upper bound on the models' share.
Loading the models (once per analyzer process) is reported apart. With ``--cluster``, first
the whole analysis end to end on a dev cluster (``bench_ml_cluster``): the figure the budget is about.
"""

from __future__ import annotations

import datetime
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from kcost.analyzers.metrics.workloads import ContainerSeries, ContainerSpec, Workload
from kcost.analyzers.rightsizing import anomalies
from kcost.analyzers.rightsizing.adaptive import AdaptiveStrategy
from kcost.analyzers.rightsizing.history import UsageHistory
from kcost.cli import bench_ml_cluster
from kcost.cli.bench_offline import offline_run

RESOLUTION_S = 300
# The budget: an analysis of the demo no more than 20% slower with the learned parts.
BUDGET_RATIO = 1.2


@dataclass(frozen=True)
class Overhead:
    containers: int
    repeats: int
    rules_s: list[float]
    learned_s: list[float]
    model_load_s: float

    @property
    def ratio(self) -> float:
        return statistics.median(self.learned_s) / statistics.median(self.rules_s)

    def to_json(self) -> dict[str, object]:
        return {
            "containers": self.containers,
            "repeats": self.repeats,
            "rules_median_s": round(statistics.median(self.rules_s), 4),
            "learned_median_s": round(statistics.median(self.learned_s), 4),
            "ratio": round(self.ratio, 3),
            "budget_ratio": BUDGET_RATIO,
            "model_load_s": round(self.model_load_s, 3),
            "rules_s": [round(s, 4) for s in self.rules_s],
            "learned_s": [round(s, 4) for s in self.learned_s],
        }


def demo_histories(end_s: int) -> list[UsageHistory]:
    """Every container's usage in the demo scenario, per workload and container, at ``RESOLUTION_S``."""
    from kcost.devcluster.scenario import library, usage

    scenario = library.demo()
    times = usage.timeline(scenario, end_s).astype(np.float64)
    pooled: dict[tuple[str, str, str], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for pod in usage.pods(scenario, end_s):
        ts_s = times[pod.start : pod.stop]
        on_grid = ts_s % RESOLUTION_S < scenario.step_s  # one sample per Analysis step
        for container in pod.containers:
            key = (pod.workload.namespace, pod.workload.name, container.spec.name)
            pooled.setdefault(key, []).append(
                (ts_s[on_grid], container.cpu_cores[on_grid], container.memory_bytes[on_grid])
            )
    histories = []
    for parts in pooled.values():
        ts_s = np.concatenate([p[0] for p in parts])
        order = np.argsort(ts_s, kind="stable")
        cpu = np.concatenate([p[1] for p in parts])[order]
        memory = np.concatenate([p[2] for p in parts])[order]
        histories.append(UsageHistory(ts_s=ts_s[order], cpu_cores=cpu, memory_bytes=memory))
    return histories


def _timed(size: Callable[[UsageHistory], object], histories: list[UsageHistory]) -> float:
    started = time.perf_counter()
    for history in histories:
        size(history)
    return time.perf_counter() - started


def measure(histories: list[UsageHistory], repeats: int) -> Overhead:
    """Rules only vs screening and calibrated confidence, ``repeats`` times each, alternating which goes first."""
    from kcost.ml import confidence

    strategy = AdaptiveStrategy(AdaptiveStrategy.settings_model())
    started = time.perf_counter()
    confidence.shipped_scorer()  # what an analysis loads
    model_load_s = time.perf_counter() - started

    def rules(history: UsageHistory) -> object:
        return strategy.propose(history)

    def learned(history: UsageHistory) -> object:
        return strategy.recommend(anomalies.screen(history).history)

    _timed(learned, histories)  # warm both paths' caches once before timing
    rules_s: list[float] = []
    learned_s: list[float] = []
    for repeat in range(repeats):
        order = ((rules, rules_s), (learned, learned_s))
        for size, times in order if repeat % 2 == 0 else reversed(order):
            times.append(_timed(size, histories))
    return Overhead(len(histories), repeats, rules_s, learned_s, model_load_s)


@click.command("ml-overhead")
@click.option("--repeats", default=7, show_default=True, type=click.IntRange(min=1), help="Timed runs of each mode.")
@click.option(
    "--cluster",
    is_flag=True,
    help="Also run the demo analysis end to end (a dev cluster of its own, real Prometheus and API server).",
)
@click.option(
    "--dir",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The --cluster run's work folder (default: ~/.cache/kcost/bench-ml-overhead; removed afterwards).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def ml_overhead(repeats: int, cluster: bool, work_dir: Path | None, as_json: bool) -> None:
    """The learned parts' cost in an analysis of the demo: the analyzer's per-workload work with
    ``learned: false`` vs true, the sizing alone (an upper bound), and with ``--cluster`` the whole
    analysis end to end (the figure the ×1.2 budget is about)."""
    from kcost.ml import artifacts

    end_s = int(time.time()) // RESOLUTION_S * RESOLUTION_S
    histories = demo_histories(end_s=end_s)
    try:
        analysis = measure_analysis(demo_workloads(end_s), end_s, repeats)
        overhead = measure(histories, repeats)
    except artifacts.ArtifactError as error:
        raise click.ClickException(str(error)) from None
    on_cluster = bench_ml_cluster.measure_on_cluster(repeats, work_dir) if cluster else None
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[0]
    rules_s, learned_s = statistics.median(analysis.rules_s), statistics.median(analysis.learned_s)
    if as_json:
        end_to_end = {
            "workloads": analysis.workloads,
            "rules_median_s": round(rules_s, 4),
            "learned_median_s": round(learned_s, 4),
            "ratio": round(analysis.ratio, 3),
        }
        figures_json = {**overhead.to_json(), "analysis": end_to_end, "loadavg_1m": float(load)}
        if on_cluster is not None:
            figures_json["cluster"] = on_cluster.to_json()
        click.echo(json.dumps(figures_json, indent=2))
        return
    if on_cluster is not None:
        wall, analyzer = on_cluster.wall_s, on_cluster.analyzer_s
        ratio = on_cluster.ratio(wall)
        click.echo(
            f"demo analysis end to end (dev cluster, Prometheus, API server), median of {repeats}: wall learned: "
            f"false {statistics.median(wall[False]):.2f}s, learned: true {statistics.median(wall[True]):.2f}s: "
            f"×{ratio:.3f} ({'within' if ratio <= BUDGET_RATIO else 'OVER'} the ×{BUDGET_RATIO:g} budget); "
            f"the rightsizing analyzer's analysis and writes {statistics.median(analyzer[False]):.3f}s vs "
            f"{statistics.median(analyzer[True]):.3f}s: ×{on_cluster.ratio(analyzer):.3f}."
        )
    figures = overhead.to_json()
    click.echo(
        f"demo analysis, the rightsizing analyzer's work on {analysis.workloads} workloads, median of {repeats}: "
        f"learned: false {rules_s:.4f}s, learned: true {learned_s:.4f}s: ×{analysis.ratio:.3f} "
        f"({'within' if analysis.ratio <= BUDGET_RATIO else 'OVER'} the ×{BUDGET_RATIO:g} budget; "
        "Prometheus reads and API writes, the same in both, left out)."
    )
    click.echo(
        f"sizing alone, {overhead.containers} containers: rules only {figures['rules_median_s']}s, with anomaly "
        f"screening and calibrated confidence {figures['learned_median_s']}s: ×{figures['ratio']} (upper bound). "
        f"Model load once per process: {figures['model_load_s']}s. Load average {load}."
    )


def demo_workloads(end_s: int) -> list[Workload]:
    """The demo's workloads as the read path hands them to the analyzer: each pod's series, per container."""
    from kcost.devcluster.scenario import library, usage

    scenario = library.demo()
    times = usage.timeline(scenario, end_s).astype(np.float64)
    found: dict[tuple[str, str], Workload] = {}
    for pod in usage.pods(scenario, end_s):
        spec = pod.workload
        workload = found.setdefault(
            (spec.namespace, spec.name),
            Workload(
                kind=spec.kind,
                namespace=spec.namespace,
                name=spec.name,
                replicas=spec.replicas,
                container_specs=tuple(
                    ContainerSpec(c.name, c.cpu_request_cores, c.memory_request_bytes, None, c.memory_limit_bytes)
                    for c in spec.containers
                ),
            ),
        )
        ts_s = times[pod.start : pod.stop]
        on_grid = ts_s % RESOLUTION_S < scenario.step_s  # one sample per Analysis step
        for container in pod.containers:
            series = workload.containers.setdefault(container.spec.name, ContainerSeries())
            series.add(pod.name, "cpu", ts_s[on_grid], container.cpu_cores[on_grid])
            series.add(pod.name, "memory", ts_s[on_grid], container.memory_bytes[on_grid])
            series.oom_kills += len(container.oom_kill_offsets)
        workload.pods_seen.add(pod.name)
        workload.nodes_seen.append(pod.node)
    return list(found.values())


@dataclass(frozen=True)
class EndToEnd:
    workloads: int
    repeats: int
    rules_s: list[float]
    learned_s: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.learned_s) / statistics.median(self.rules_s)


def measure_analysis(workloads: list[Workload], end_s: int, repeats: int) -> EndToEnd:
    """The rightsizing analyzer's work per workload, ``learned: false`` vs true, alternating which goes first.

    Per chunk of workloads, as in a run: their pods' series pooled into each container's history, screened (or
    not), sized, classed, the recommendation built and serialized as the write sends it. Prometheus
    and the API server are not called: their time is the same in both modes.
    """
    from kcost.analyzers.contract import AnalyzerResult
    from kcost.analyzers.rightsizing.analyzer import CHUNK_WORKLOADS
    from kcost.api.v1alpha1.policy import Hysteresis

    end = datetime.datetime.fromtimestamp(end_s, datetime.UTC)

    def run(learned: bool) -> float:
        # Nothing here reads Prometheus or calls the API server: the same time in both modes, left out.
        offline = offline_run(
            {"learned": learned}, end, datetime.timedelta(days=14), datetime.timedelta(seconds=RESOLUTION_S), workloads
        )
        analyzer, strategy, settings, context = offline.analyzer, offline.strategy, offline.settings, offline.context
        result = AnalyzerResult()
        started = time.perf_counter()
        for first in range(0, len(workloads), CHUNK_WORKLOADS):
            chunk = workloads[first : first + CHUNK_WORKLOADS]
            sized = analyzer._screen_and_propose(
                chunk, strategy, settings, context, result, in_scope=offline.scope, bands=[Hysteresis()] * len(chunk)
            )
            for _, proposal in sized:
                if proposal is not None:  # what the write sends
                    json.dumps(proposal.spec.model_dump(mode="json", by_alias=True, exclude_none=True))
        return time.perf_counter() - started

    run(True)  # warm the models and caches once before timing
    rules_s: list[float] = []
    learned_s: list[float] = []
    for repeat in range(repeats):
        order = ((False, rules_s), (True, learned_s))
        for learned, times in order if repeat % 2 == 0 else reversed(order):
            times.append(run(learned))
    return EndToEnd(len(workloads), repeats, rules_s, learned_s)
