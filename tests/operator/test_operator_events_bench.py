"""bench/operator_events.py runs: the handler's events are the ones a run makes, and both rows are printed."""

from __future__ import annotations

import io
import re

from rich.console import Console

from bench import operator_events
from kcost.api.labels import LABEL_MANAGED_BY


def test_the_events_are_new_recommendations_as_the_api_server_sends_them() -> None:
    stream = operator_events.events(5, Console(file=io.StringIO()))
    assert len(stream) == 5
    for event in stream:
        body = event["object"]
        assert event["type"] == "ADDED"
        assert body["status"] == {"phase": "Proposed"}
        assert body["metadata"]["labels"][LABEL_MANAGED_BY] == "kcost"
        assert body["spec"]["analysisRef"]["analyzer"] == "rightsizing"


async def test_every_event_goes_through_the_operators_handler() -> None:
    stream = operator_events.events(5, Console(file=io.StringIO()))
    held = operator_events.memo()
    assert await operator_events.handled_s(stream, held) >= 0
    assert len(held.telemetry.recommendations.items) == 5, "the metrics cache saw each new recommendation"
    assert len(held.recommendation_retries) == 0, "born Proposed: nothing failed, nothing to retry"


async def test_the_bench_prints_both_rows() -> None:
    out = io.StringIO()
    await operator_events.bench(5, 1, Console(file=out, width=120))
    printed = out.getvalue()
    handler = re.search(r"the operator's handler\s*│\s*(\d+)\s*│\s*×([\d.]+)", printed)
    assert handler is not None, printed
    assert int(handler[1]) > 0
    assert "one pydantic parse (baseline)" in printed
