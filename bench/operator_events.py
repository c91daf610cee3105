"""The operator's own CPU per recommendation watch event, without kopf's share.

A first run at 10,000 workloads creates ~7,200 recommendations, each one watch event for the
operator (born Proposed: nothing to write). This feeds the operator's handler of the
recommendations' stream (``_recommendation_event``: the metrics cache, the recommendation
controller, the rollout worker) the ADDED events of N such recommendations, made by the sizing
step from generated workloads and shaped as the analyzer writes them and the API server sends
them. The baseline, measured in the same rounds: one pydantic parse of each object, the least a
handler that reads the objects must spend. Rounds alternate the two; medians are printed with
their ratio.

To compare two versions of the operator, run this file with each tree first on PYTHONPATH.

Usage: python bench/operator_events.py [--events 2000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any, cast

import kopf
from rich.console import Console
from rich.table import Table

from kcost.analyzers.contract.plugin import Proposal
from kcost.analyzers.contract.recommendations import Write, body_of
from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.common import GROUP, VERSION
from kcost.api.v1alpha1.recommendation import OptimizationRecommendation, recommendation_name
from kcost.cli import bench_sizing
from kcost.observability import caches
from kcost.operator import leadership, main, retry
from kcost.operator.rollout.worker import RolloutWorker

NAMESPACE = "bench"


def analysis() -> Analysis:
    return Analysis.model_validate(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Analysis",
            "metadata": {"name": "bench", "uid": str(uuid.uuid4())},
            "spec": {"profileRef": {"name": "default"}},
            "status": {"runId": "20261201-000000"},
        }
    )


def events(count: int, console: Console) -> list[kopf.RawEvent]:
    """ADDED events of ``count`` new recommendations: the analyzer's body, as the API server completes it."""
    run = analysis()
    made = []
    with console.status(f"sizing generated workloads for {count:,} proposals…"):
        specs = bench_sizing.proposal_specs(count, lambda _: True)
    for index, spec in enumerate(specs):
        name = recommendation_name(spec.target_ref.kind, spec.target_ref.name, spec.type.value)
        body = body_of(run, "rightsizing", Write(Proposal(NAMESPACE, spec), name))
        body.update(apiVersion=f"{GROUP}/{VERSION}", kind="OptimizationRecommendation")
        body["metadata"].update(
            uid=str(uuid.uuid4()),
            resourceVersion=str(1000 + index),
            generation=1,
            creationTimestamp="2026-12-01T00:00:00Z",
        )
        body["status"] = {"phase": "Proposed"}  # the CRD's default
        made.append(cast(kopf.RawEvent, {"type": "ADDED", "object": body}))
    return made


async def _leading() -> bool:
    return True


def memo() -> kopf.Memo:
    """What the operator's startup puts in the memo, minus the API server: a born-Proposed recommendation needs none."""
    held = kopf.Memo()
    held.kube = None
    held.leadership = leadership.Leadership(_leading)
    held.rollouts = RolloutWorker(cast(Any, None), cast(Any, None), cast(Any, None), _leading)
    held.recommendation_retries = retry.RetryQueue(lambda _: asyncio.sleep(0))
    held.telemetry = caches.Caches()
    return held


async def handled_s(stream: list[kopf.RawEvent], held: kopf.Memo) -> float:
    started = time.process_time()
    for event in stream:
        await main._recommendation_event(event, held)
    return time.process_time() - started


def parsed_s(stream: list[kopf.RawEvent]) -> float:
    started = time.process_time()
    for event in stream:
        OptimizationRecommendation.model_validate(event["object"])
    return time.process_time() - started


async def bench(count: int, rounds: int, console: Console) -> None:
    stream = events(count, console)
    handled, parsed = [], []
    for _ in range(rounds):
        handled.append(await handled_s(stream, memo()))
        parsed.append(parsed_s(stream))
    per_event_us = statistics.median(handled) / count * 1e6
    per_parse_us = statistics.median(parsed) / count * 1e6
    table = Table(title=f"Operator CPU per recommendation event: {count:,} ADDED events, median of {rounds} rounds")
    for header in ("work", "µs per event", "ratio to one parse"):
        table.add_column(header, justify="right")
    table.add_row("the operator's handler", f"{per_event_us:.0f}", f"×{per_event_us / per_parse_us:.2f}")
    table.add_row("one pydantic parse (baseline)", f"{per_parse_us:.0f}", "×1.00")
    console.print(table)


def run() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(bench(args.events, args.rounds, Console()))


if __name__ == "__main__":
    run()
