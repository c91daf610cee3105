"""``kcost bench sizing``: the rightsizing analyzer's sizing step, in process, CPU seconds per 1,000 workloads.

The sizing step is everything the analyzer does per workload once Prometheus' answers are
decoded: pooling each container's pods, anomaly screening, the strategy's values, the class and
confidence models, and the proposal. Here it runs on generated workloads as the read path hands
them over (each pod's series, 14 days at 10-minute steps: the default 5m resolution of a 14-day
window), chunk by chunk as in a run, without a cluster. The workloads are a realistic mix (steady,
diurnal, bursty, idle, batch and leaking shapes; one to three containers and pods, a rolled pod,
HPA-scaled ones, OOM kills, a gap, short histories) and deterministic from the seed, so the same
generator also proves that a change leaves the proposals as they were (``--digest``, and
``tests/analyzers/rightsizing/test_sizing_golden.py``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click
import numpy as np

from kcost.analyzers.metrics.workloads import ContainerSeries, ContainerSpec, Workload
from kcost.analyzers.rightsizing.remembered import Remembered
from kcost.api.units import MIB
from kcost.api.v1alpha1.recommendation import OptimizationRecommendationSpec
from kcost.cli.bench_offline import offline_run

STEP_S = 600  # a 14-day window at the default 5m resolution is read at 10-minute steps
DAYS = 14
DAY_S = 86_400
# A fixed end (a Monday 00:00 UTC), so that the generated workloads and their proposals never change.
END_S = 1_764_547_200
SHAPES = ("steady", "diurnal", "bursty", "idle", "batch", "leaking")
SHAPE_SHARES = (0.3, 0.3, 0.2, 0.05, 0.1, 0.05)
CONTAINER_NAMES = ("app", "sidecar", "metrics")


def _level(shape: str, rng: np.random.Generator, ts_s: np.ndarray) -> np.ndarray:
    """A relative CPU level over time, mean about 1."""
    noise = rng.normal(0.0, 0.05, ts_s.size)
    if shape == "diurnal":
        hour = (ts_s % DAY_S) / 3600.0
        daily = 1.0 + 0.7 * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
        weekend = np.where(((ts_s // DAY_S) + 4) % 7 >= 5, 0.6, 1.0)
        diurnal: np.ndarray = np.clip(daily * weekend + noise, 0.02, None)
        return diurnal
    if shape == "bursty":
        level = 0.6 + noise
        for begin in np.flatnonzero(rng.random(ts_s.size) < 0.01):
            level[begin : begin + 2] *= rng.uniform(3.0, 5.0)
        return np.clip(level, 0.02, None)
    if shape == "idle":
        return np.clip(0.02 + 0.005 * rng.standard_normal(ts_s.size), 0.0, None)
    if shape == "batch":  # runs of an hour or two every few hours, nearly nothing between
        on = ((ts_s // 3600) % 6) < 2
        return np.where(on, 1.5 + noise, 0.01)
    return np.clip(1.0 + noise, 0.02, None)


def _memory(shape: str, rng: np.random.Generator, level: np.ndarray, base_bytes: float) -> tuple[np.ndarray, int]:
    """Memory bytes (working set, 4 KiB pages: ties) and the OOM kills of a leak that restarts at its limit."""
    memory = base_bytes * np.clip(1.0 + rng.normal(0.0, 0.02, level.size), 0.5, None)
    if shape == "diurnal":
        memory *= 0.8 + 0.2 * level / max(float(level.mean()), 1e-9)
    kills = 0
    if shape == "leaking":
        period = int(rng.integers(300, 900))  # steps between two kills
        memory = memory * (1.0 + 1.5 * (np.arange(level.size) % period) / period)
        kills = level.size // period
    return np.round(memory / 4096) * 4096, kills


@dataclass(frozen=True)
class _Pod:
    name: str
    first: int  # index of its first and one past its last step
    stop: int
    node: str


def _pods(rng: np.random.Generator, name: str, replicas: int, steps: int) -> list[_Pod]:
    """Each replica's pods: one for the whole window, or two when it was rolled part-way."""
    pods = []
    for replica in range(replicas):
        node = f"node-{int(rng.integers(0, 6))}"
        if rng.random() < 0.2:
            cut = int(rng.integers(steps // 4, 3 * steps // 4))
            pods += [_Pod(f"{name}-{replica}a", 0, cut, node), _Pod(f"{name}-{replica}b", cut, steps, node)]
        else:
            pods.append(_Pod(f"{name}-{replica}", 0, steps, node))
    return pods


def _history_steps(rng: np.random.Generator, steps: int) -> int:
    """How many of the window's last steps a workload has: most all, some only hours or days."""
    draw = rng.random()
    if draw < 0.03:
        return int(rng.integers(3, 80))  # too short to size
    if draw < 0.08:
        return int(rng.integers(144, 6 * 144))  # one to six days: short-history rules, some unclassed
    return steps


def workload(index: int, seed: int) -> Workload:
    """The ``index``-th generated workload (deterministic from ``seed`` and ``index``)."""
    rng = np.random.default_rng([seed, index])
    steps = DAYS * DAY_S // STEP_S
    all_ts_s = np.arange(END_S - steps * STEP_S, END_S, STEP_S, dtype=np.float64)
    ts_s = all_ts_s[steps - _history_steps(rng, steps) :]
    shape = str(rng.choice(SHAPES, p=SHAPE_SHARES))
    containers = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    replicas = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    name = f"svc-{index:05d}"
    hpa = int(rng.choice([60, 80])) if rng.random() < 0.08 else None
    specs, levels = [], []
    for container in CONTAINER_NAMES[:containers]:
        cpu = float(np.clip(rng.lognormal(np.log(0.15), 0.9), 0.005, 4.0)) * (0.2 if container != "app" else 1.0)
        memory = float(np.clip(rng.lognormal(np.log(300 * MIB), 0.8), 32 * MIB, 8192 * MIB))
        over = float(rng.choice([1.0, 1.5, 2.0, 3.0, 4.0]))
        cpu_request = None if rng.random() < 0.05 else max(0.01, round(cpu * over * 1.2, 3))
        memory_request = float(np.ceil(memory * over * 1.1 / MIB) * MIB)
        limit = float(np.ceil(memory * 2.5 / MIB) * MIB) if shape == "leaking" or rng.random() < 0.5 else None
        specs.append(ContainerSpec(container, cpu_request, memory_request, None, limit))
        levels.append((cpu, memory))
    found = Workload(
        kind="StatefulSet" if index % 7 == 0 else "Deployment",
        namespace=f"ns-{index % 50:02d}",
        name=name,
        replicas=replicas,
        container_specs=tuple(specs),
        hpa_cpu_target_pct=hpa,
    )
    gap = (int(rng.integers(0, ts_s.size)), int(rng.integers(36, 400))) if rng.random() < 0.05 else None
    # Rates of nanosecond counters rarely tie; an idle container's and, here, a few others' do.
    cpu_decimals = 6 if shape == "idle" or rng.random() < 0.1 else None
    for pod in _pods(rng, name, replicas, ts_s.size):
        at = np.arange(pod.first, pod.stop)
        if gap is not None:  # the scrapes of a few hours or days lost
            at = at[(at < gap[0]) | (at >= gap[0] + gap[1])]
        for (container, (cpu, memory)), spec in zip(zip(CONTAINER_NAMES, levels, strict=False), specs, strict=True):
            level = _level(shape, rng, ts_s[at])
            memory_bytes, kills = _memory(shape, rng, level, memory)
            series = found.containers.setdefault(container, ContainerSeries())
            cpu_cores = cpu * level if cpu_decimals is None else np.round(cpu * level, cpu_decimals)
            series.add(pod.name, "cpu", ts_s[at], cpu_cores)
            series.add(pod.name, "memory", ts_s[at], memory_bytes)
            if at.size > 1 and rng.random() < 0.1:  # no rate at the pod's first sample: memory starts a step earlier
                series.add(pod.name, "cpu", ts_s[at][1:], cpu_cores[1:])
            series.oom_kills += kills if spec.memory_limit is not None else 0
        found.pods_seen.add(pod.name)
        found.nodes_seen.append(pod.node)
    return found


def workloads(count: int, seed: int = 1) -> Iterator[Workload]:
    """``count`` generated workloads."""
    for index in range(count):
        yield workload(index, seed)


@dataclass(frozen=True)
class Mode:
    """One way the analyzer is set up: its settings as an Analysis gives them."""

    name: str
    settings: dict[str, Any]


MODES = (
    Mode("default", {}),
    Mode("class-aware", {"classAware": True}),
    Mode("rules", {"learned": False}),
)


def sized(found: list[Workload], mode: Mode) -> Iterator[dict[str, Any]]:
    """What the analyzer's sizing step makes of each workload, chunk by chunk as in a run: the proposal's
    spec as the write sends it, the screening's evidence, and the run's skip counts and scope cost at the end."""
    from kcost.analyzers.contract import AnalyzerResult

    analyzer, strategy, settings, context, in_scope = _analyzer(mode)
    from kcost.analyzers.rightsizing.analyzer import CHUNK_WORKLOADS
    from kcost.api.v1alpha1.policy import Hysteresis

    result = AnalyzerResult()
    for first in range(0, len(found), CHUNK_WORKLOADS):
        chunk = found[first : first + CHUNK_WORKLOADS]
        answers = analyzer._screen_and_propose(
            chunk, strategy, settings, context, result, in_scope=in_scope, bands=[Hysteresis()] * len(chunk)
        )
        for one, (anomaly, proposal) in zip(chunk, answers, strict=True):
            yield {
                "workload": f"{one.namespace}/{one.name}",
                "spec": None
                if proposal is None
                else proposal.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                "anomaly": None if anomaly is None else anomaly.model_dump(mode="json", by_alias=True),
            }
    yield {"skipped": dict(sorted(result.skipped.items())), "scopeMonthlyCost": result.scope_monthly_cost}


def proposal_specs(
    count: int, wanted: Callable[[OptimizationRecommendationSpec], bool], *, workloads_per_proposal: float = 2.0
) -> list[OptimizationRecommendationSpec]:
    """The first ``count`` proposals' specs that are ``wanted``, as the sizing step makes them (the defaults'
    mode) from generated workloads, ``workloads_per_proposal`` of them per proposal wanted."""
    found = list(workloads(int(count * workloads_per_proposal) + 50))
    specs: list[OptimizationRecommendationSpec] = []
    for answer in sized(found, MODES[0]):
        if answer.get("spec") and len(specs) < count:
            spec = OptimizationRecommendationSpec.model_validate(answer["spec"])
            if wanted(spec):
                specs.append(spec)
    if len(specs) < count:
        raise ValueError(f"only {len(specs)} proposals from {len(found)} generated workloads, {count} wanted")
    return specs


def _analyzer(mode: Mode) -> tuple[Any, Any, Any, Any, Any]:
    """The analyzer, its strategy and settings, a run's context and a scope that reads nothing."""
    end = datetime.datetime.fromtimestamp(END_S, datetime.UTC)
    run = offline_run(mode.settings, end, datetime.timedelta(days=DAYS), datetime.timedelta(seconds=STEP_S // 2))
    return run.analyzer, run.strategy, run.settings, run.context, run.scope


def digest(found: list[Workload], mode: Mode) -> str:
    """A digest of everything ``sized`` answers: equal digests, byte-identical answers."""
    hashed = hashlib.sha256()
    for answer in sized(found, mode):
        hashed.update(json.dumps(answer, sort_keys=True).encode())
    return hashed.hexdigest()


def cpu_s(found: list[Workload], mode: Mode, known: Remembered | None = None) -> float:
    """CPU seconds (all threads) of the sizing step over ``found``; serialising the answers is left out.
    With ``known``, containers sized before are taken from it, and those sized now are kept in it."""
    analyzer, strategy, settings, context, in_scope = _analyzer(mode)
    from kcost.analyzers.contract import AnalyzerResult
    from kcost.analyzers.rightsizing.analyzer import CHUNK_WORKLOADS
    from kcost.api.v1alpha1.policy import Hysteresis

    remembering = None if known is None else (known, settings.model_dump_json(by_alias=True))
    result = AnalyzerResult()
    started = time.process_time()
    for first in range(0, len(found), CHUNK_WORKLOADS):
        chunk = found[first : first + CHUNK_WORKLOADS]
        analyzer._screen_and_propose(
            chunk,
            strategy,
            settings,
            context,
            result,
            in_scope=in_scope,
            bands=[Hysteresis()] * len(chunk),
            remembering=remembering,
        )
    return time.process_time() - started


@click.command("sizing")
@click.option("--workloads", "count", default=2000, show_default=True, type=click.IntRange(min=1))
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(min=1), help="Timed runs.")
@click.option(
    "--mode",
    "mode_name",
    type=click.Choice([mode.name for mode in MODES]),
    default="default",
    show_default=True,
    help="The analyzer's settings: the defaults, classAware: true, or learned: false.",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--digest", "with_digest", is_flag=True, help="Also print a digest of the answers in every mode (same answers?)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def sizing(count: int, repeats: int, mode_name: str, seed: int, with_digest: bool, as_json: bool) -> None:
    """The rightsizing analyzer's sizing step on generated workloads, in process: CPU s per 1,000 workloads."""
    from kcost.ml import artifacts

    started = time.perf_counter()
    found = list(workloads(count, seed))
    generated_s = time.perf_counter() - started
    mode = next(mode for mode in MODES if mode.name == mode_name)
    containers = sum(len(one.containers) for one in found)
    try:
        cpu_s(found[: min(count, 256)], mode)  # load the models and warm the caches before timing
        runs, first_runs, unchanged_runs = [], [], []
        for _ in range(repeats):  # interleaved, so that the machine's load falls on all three alike
            runs.append(cpu_s(found, mode) * 1000 / count)
            known = Remembered()
            first_runs.append(cpu_s(found, mode, known) * 1000 / count)
            unchanged_runs.append(cpu_s(found, mode, known) * 1000 / count)
        digests = {one.name: digest(found, one) for one in MODES} if with_digest else {}
    except artifacts.ArtifactError as error:
        raise click.ClickException(str(error)) from None
    median = statistics.median(runs)
    first_median, unchanged_median = statistics.median(first_runs), statistics.median(unchanged_runs)
    if as_json:
        figures = {
            "workloads": count,
            "containers": containers,
            "mode": mode.name,
            "repeats": repeats,
            "cpu_s_per_1000_median": round(median, 3),
            "cpu_s_per_1000": [round(run, 3) for run in runs],
            "remembering_first_cpu_s_per_1000_median": round(first_median, 3),
            "remembering_unchanged_cpu_s_per_1000_median": round(unchanged_median, 3),
            "digests": digests,
        }
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(
        f"sizing {count} workloads ({containers} containers, {DAYS} days at {STEP_S // 60}-minute steps, "
        f"mode {mode.name}; generated in {generated_s:.1f}s): {median:.2f} CPU s per 1,000 workloads, "
        f"median of {repeats} ({', '.join(f'{run:.2f}' for run in runs)})"
    )
    click.echo(
        f"remembering what was sized: first pass {first_median:.2f} CPU s per 1,000 (x{first_median / median:.2f}), "
        f"the same usage again {unchanged_median:.2f} (x{unchanged_median / median:.2f})"
    )
    for name, value in digests.items():
        click.echo(f"digest {name}: {value}")
