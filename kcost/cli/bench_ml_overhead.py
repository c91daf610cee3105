"""``kcost bench ml-overhead``: what the learned parts add to the sizing of the demo analysis.

The demo scenario's usage (``kcost demo``: 14 days, read at the Analysis' 5-minute
resolution, the pods of a workload pooled per container as the analyzer reads them) is
sized in this process twice per repeat, in alternating order: with the rules only (the
strategy's values and its coverage confidence and rule risk, every hour kept), and as the
``rightsizing`` analyzer does (anomalous hours screened out by ``kcost.ml.anomaly``, then the
values and the calibrated confidence of ``kcost.ml.confidence``). Reading from Prometheus and
writing the recommendations are the same either way and are left out, so the ratio of the
medians is an upper bound on how much slower a whole analysis of the demo gets. Loading the
model (once per analyzer process) is reported apart.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import click
import numpy as np

from kcost.analyzers.rightsizing import anomalies
from kcost.analyzers.rightsizing.adaptive import AdaptiveStrategy
from kcost.analyzers.rightsizing.history import UsageHistory

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
    confidence.shipped()
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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def ml_overhead(repeats: int, as_json: bool) -> None:
    """The learned parts' cost: the demo analysis' sizing with rules only vs with anomaly screening and confidence."""
    from kcost.ml import artifacts

    histories = demo_histories(end_s=int(time.time()) // RESOLUTION_S * RESOLUTION_S)
    try:
        overhead = measure(histories, repeats)
    except artifacts.ArtifactError as error:
        raise click.ClickException(str(error)) from None
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[0]
    if as_json:
        click.echo(json.dumps({**overhead.to_json(), "loadavg_1m": float(load)}, indent=2))
        return
    figures = overhead.to_json()
    verdict = "within" if overhead.ratio <= BUDGET_RATIO else "OVER"
    click.echo(
        f"demo analysis sizing, {overhead.containers} containers, median of {repeats}: "
        f"rules only {figures['rules_median_s']}s, with anomaly screening and calibrated confidence "
        f"{figures['learned_median_s']}s: ×{figures['ratio']} ({verdict} the ×{BUDGET_RATIO:g} budget; "
        f"reads and writes, the same in both, left out). Model load once per process: {figures['model_load_s']}s. "
        f"Load average {load}."
    )
