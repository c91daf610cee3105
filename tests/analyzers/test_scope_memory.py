"""A run's memory holds a couple of namespaces' samples, never the cluster's: each batch's usage is dropped."""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import AsyncGenerator
from typing import Any, cast

import numpy as np
import pytest

from kcost.analyzers import memory, scope
from kcost.analyzers.cost.unit_rates import ClusterRates
from kcost.analyzers.metrics.prometheus import PrometheusClient
from kcost.analyzers.metrics.workloads import ContainerSeries, QueryPlan, Workload

END = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def _loaded(namespace: str) -> Workload:
    workload = Workload("Deployment", namespace, "web", 1)
    workload.containers["app"] = ContainerSeries(oom_kills=1)
    workload.containers["app"].add("web-1", "cpu", np.array([0.0, 1.0, 2.0]), np.ones(3))
    return workload


async def test_a_namespace_s_samples_are_dropped_and_freed_memory_released_before_the_next_is_handed_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workloads = [_loaded("a"), _loaded("b")]
    released: list[int] = []

    async def batches(*_: Any, **__: Any) -> AsyncGenerator[list[Workload], None]:
        for workload in workloads:
            yield [workload]

    monkeypatch.setattr(scope, "usage_by_namespace", batches)
    monkeypatch.setattr(scope, "release_freed_memory", lambda: released.append(1))
    plan = QueryPlan.for_window(END - datetime.timedelta(days=1), END, datetime.timedelta(minutes=5))
    in_scope = scope.Scope(workloads, cast(PrometheusClient, None), plan, ClusterRates.defaults("test"))
    seen: list[Workload] = []
    async for batch in in_scope.with_usage_batches():
        # The batch in hand has its samples; every one before it has none left, and was released.
        assert batch[0].containers["app"].arrays()[0].size == 3
        assert all(not w.containers["app"].by_pod["cpu"] for w in seen)
        assert len(released) == len(seen)
        seen.extend(batch)
    assert len(released) == len(workloads)
    assert all(w.containers["app"].oom_kills == 1 for w in workloads)  # what sizing reads later stays


def test_releasing_freed_memory_is_safe_to_call_anywhere() -> None:
    memory.release_freed_memory()


# ``platform.libc_ver`` reads the interpreter's binary: the analyzer looks for ``malloc_trim`` at first use,
# once, not as it imports. Checked in a fresh interpreter, where nothing has imported the scope yet.
LIBC_LOOKUP = """
import platform
calls = []
looked_up = platform.libc_ver
platform.libc_ver = lambda *args: calls.append(1) or looked_up(*args)
from kcost.analyzers import memory, scope
assert calls == [], "looked up at import"
memory.release_freed_memory()
memory.release_freed_memory()
assert calls == [1], calls
"""


def test_the_c_library_is_looked_up_at_the_first_release_not_at_import() -> None:
    subprocess.run([sys.executable, "-c", LIBC_LOOKUP], capture_output=True, text=True, check=True)
