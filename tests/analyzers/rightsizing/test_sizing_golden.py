"""The sizing step gives the answers it gave before it was made cheaper, byte for byte.

The golden file holds what main's code answered (commit 7349b0a, before the sizing was reworked)
for the benchmark's generated workloads, a few edge cases and the demo scenario, in the three
modes (the defaults, classAware, learned: false): every proposal's spec as the write sends it,
the screening's evidence, the skip counts and the scope's cost. Regenerate it only for a change
that means to change answers: ``KCOST_WRITE_GOLDEN=1 pytest tests/analyzers/rightsizing/test_sizing_golden.py``.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kcost.analyzers.metrics.workloads import ContainerSeries, ContainerSpec, Workload
from kcost.cli import bench_sizing
from kcost.cli.bench_ml_overhead import demo_workloads

GOLDEN = Path(__file__).parent / "data" / "sizing-golden.json.gz"
GENERATED = 160
DEMO_END_S = bench_sizing.END_S + 37 * 300


def _edge(name: str, series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], **spec: Any) -> Workload:
    found = Workload(
        kind="Deployment",
        namespace="edges",
        name=name,
        replicas=1,
        container_specs=(ContainerSpec("app", spec.get("cpu", 0.5), spec.get("memory", 512.0 * 2**20), None, None),),
        hpa_cpu_target_pct=spec.get("hpa"),
    )
    for pod, (ts_s, cpu, memory) in series.items():
        container = found.containers.setdefault("app", ContainerSeries())
        container.add(pod, "cpu", ts_s, cpu)
        container.add(pod, "memory", ts_s, memory)
        found.pods_seen.add(pod)
        found.nodes_seen.append("node-0")
    return found


def _edges() -> list[Workload]:
    """What the generator does not make: not-measured resources, flat series, a lone sample, no series
    (no NaN: the read path keeps finite points only, and the evidence's statistics refuse NaN)."""
    rng = np.random.default_rng(5)
    steps = bench_sizing.DAYS * 144
    ts_s = np.arange(bench_sizing.END_S - steps * 600, bench_sizing.END_S, 600, dtype=np.float64)
    cpu = np.round(rng.gamma(2.0, 0.1, steps), 3)
    memory = np.round(rng.normal(400e6, 20e6, steps) / 4096) * 4096
    flat = np.full(steps, 0.25)
    return [
        _edge("cpu-not-measured", {"p": (ts_s, np.zeros(steps), memory)}),
        _edge("memory-not-measured", {"p": (ts_s, cpu, np.zeros(steps))}),
        _edge("flat", {"p": (ts_s, flat, np.full(steps, 300e6))}),
        _edge("flat-pooled", {"p": (ts_s, flat, np.full(steps, 3e8)), "q": (ts_s, flat, np.full(steps, 3e8))}),
        _edge("coarse", {"p": (ts_s, np.round(cpu, 1), np.round(memory / 1e8) * 1e8)}, hpa=70),
        _edge("lone-sample", {"p": (ts_s[-1:], cpu[-1:], memory[-1:])}),
        _edge("no-series", {}),
        _edge("no-requests", {"p": (ts_s, cpu, memory)}, cpu=None, memory=None),
    ]


def _answers() -> dict[str, list[dict[str, Any]]]:
    generated = list(bench_sizing.workloads(GENERATED, seed=3))
    inputs = {"generated": generated, "edges": _edges(), "demo": demo_workloads(DEMO_END_S)}
    return {
        f"{name}/{mode.name}": list(bench_sizing.sized(found, mode))
        for name, found in inputs.items()
        for mode in bench_sizing.MODES
    }


def test_the_sizing_step_answers_as_main_did() -> None:
    answers = json.loads(json.dumps(_answers()))  # as JSON holds it: tuples are lists, floats round-trip
    if os.environ.get("KCOST_WRITE_GOLDEN"):
        GOLDEN.write_bytes(gzip.compress(json.dumps(answers, sort_keys=True, indent=0).encode(), mtime=0))
        pytest.skip("golden written")
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    assert sorted(answers) == sorted(golden)
    for key, expected in golden.items():
        assert len(answers[key]) == len(expected), key
        for found, wanted in zip(answers[key], expected, strict=True):
            assert found == wanted, key
