"""How fast the analyzers decode Prometheus range answers into arrays: the bulk of an analysis's input.

A run at 10,000 workloads decodes ~20,000 series of ~2,016 points each (14 days at a 643 s step,
CPU and memory). This builds one answer shaped as Prometheus writes it (``[time, "value"]`` pairs,
no spaces, values in Go's shortest float form), then times the analyzers' decoder
(``_matrix_answer``) against msgspec's generic decode of the same bytes into Python lists and
strings, measured in the same rounds: the baseline that the ratio holds still on a noisy machine.
Rounds alternate the two; medians are printed with their ratio.

To compare two versions of the decoder, run this file with each tree first on PYTHONPATH.

Usage: python bench/decode.py [--series 500] [--points 2016] [--non-finite 0.0] [--rounds 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import msgspec
from rich.console import Console
from rich.table import Table

from kcost.analyzers.metrics.prometheus import _matrix_answer

START_S = 1_763_000_000
STEP_S = 643
NON_FINITE = ("NaN", "+Inf", "-Inf")


def answer(series: int, points: int, non_finite: float, seed: int = 7) -> bytes:
    """A range answer of ``series`` containers, ``points`` samples each, ``non_finite`` of them NaN or ±Inf."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    result = []
    for index in range(series):
        values = []
        for step in range(points):
            value = rng.choice(NON_FINITE) if rng.random() < non_finite else repr(round(rng.uniform(0, 4), 9))
            values.append([START_S + step * STEP_S, value])
        labels = {"namespace": "team-00", "pod": f"app-{index:05d}-7d9c6b5f4-x2x9q", "container": "app"}
        result.append({"metric": labels, "values": values})
    return msgspec.json.encode({"status": "success", "data": {"resultType": "matrix", "result": result}})


def _seconds(decode: Callable[[bytes], object], raw: bytes) -> float:
    started = time.perf_counter()
    decode(raw)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--points", type=int, default=2016)
    parser.add_argument("--non-finite", type=float, default=0.0, help="share of values that are NaN or ±Inf")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    raw = answer(args.series, args.points, args.non_finite)
    decoders: dict[str, Callable[[bytes], object]] = {
        "kcost: arrays per series": _matrix_answer,
        "msgspec: generic, to Python objects": msgspec.json.decode,
    }
    timings: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(args.rounds):
        for name, decode in decoders.items():
            timings[name].append(_seconds(decode, raw))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    baseline = medians["msgspec: generic, to Python objects"]
    table = Table(
        title=f"Range answer decode: {args.series:,} series × {args.points:,} points "
        f"({len(raw) / 2**20:.1f} MiB, {args.non_finite:.0%} non-finite), median of {args.rounds} rounds"
    )
    for header in ("decoder", "ms per answer", "µs per series", "ratio to generic"):
        table.add_column(header, justify="right")
    for name, seconds in medians.items():
        table.add_row(name, f"{seconds * 1e3:.1f}", f"{seconds / args.series * 1e6:.0f}", f"×{seconds / baseline:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
