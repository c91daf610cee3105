"""Containers sized by an earlier run are not sized again, and their answers are those sizing gives.

Against the sizing benchmark's generated workloads (the golden file's), in the three modes: a
second pass over the same usage sizes nothing and answers byte for byte what a pass without
memory answers; a change to one container's samples or requests, other settings, or a window
that now ends in the hour of the last samples, sizes that container again.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from kcost.analyzers.contract import AnalyzerResult
from kcost.analyzers.metrics.workloads import ContainerSeries, ContainerSpec, Workload
from kcost.analyzers.rightsizing import analyzer as rightsizing
from kcost.analyzers.rightsizing import remembered
from kcost.analyzers.rightsizing.analyzer import CHUNK_WORKLOADS
from kcost.analyzers.rightsizing.history import CurrentResources, UsageHistory
from kcost.analyzers.rightsizing.recommendation import NotEnoughData, Recommendation
from kcost.api.v1alpha1.policy import Hysteresis
from kcost.cli import bench_sizing
from kcost.cli.bench_offline import offline_run

WORKLOADS = 96


@pytest.fixture
def sized_containers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many containers each call of the strategy sized."""
    calls: list[int] = []
    size = rightsizing._size

    def counted(strategy: Any, histories: Sequence[UsageHistory], learned: bool) -> list[Recommendation]:
        calls.append(len(histories))
        return size(strategy, histories, learned)

    monkeypatch.setattr(rightsizing, "_size", counted)
    return calls


def _answers(
    found: list[Workload],
    settings_given: dict[str, Any],
    known: remembered.Remembered | None,
    end_s: float = bench_sizing.END_S,
) -> Iterator[str]:
    """The proposals, anomalies, skip counts and scope cost of one pass, as the write and status would have them."""
    end = datetime.datetime.fromtimestamp(end_s, datetime.UTC)
    run = offline_run(settings_given, end, datetime.timedelta(days=bench_sizing.DAYS), datetime.timedelta(seconds=300))
    settings_json = run.settings.model_dump_json(by_alias=True)
    result = AnalyzerResult()
    for first in range(0, len(found), CHUNK_WORKLOADS):
        chunk = found[first : first + CHUNK_WORKLOADS]
        for anomaly, proposal in run.analyzer._screen_and_propose(
            chunk,
            run.strategy,
            run.settings,
            run.context,
            result,
            in_scope=run.scope,
            bands=[Hysteresis()] * len(chunk),
            remembering=None if known is None else (known, settings_json),
        ):
            yield json.dumps(
                {
                    "spec": None if proposal is None else proposal.spec.model_dump(mode="json", by_alias=True),
                    "anomaly": None if anomaly is None else anomaly.model_dump(mode="json"),
                },
                sort_keys=True,
            )
    yield json.dumps({"skipped": result.skipped, "cost": result.scope_monthly_cost}, sort_keys=True)


def _containers(found: list[Workload]) -> int:
    return sum(len(workload.containers) for workload in found)


@pytest.mark.parametrize("given", [{}, {"classAware": True}, {"learned": False}])
def test_a_second_pass_over_the_same_usage_sizes_nothing_and_answers_the_same(
    given: dict[str, Any], sized_containers: list[int]
) -> None:
    found = list(bench_sizing.workloads(WORKLOADS))
    without = list(_answers(found, given, None))
    known = remembered.Remembered()
    sized_containers.clear()
    first = list(_answers(found, given, known))
    assert sum(sized_containers) == _containers(found) == len(known)
    sized_containers.clear()
    again = list(_answers(found, given, known))
    assert sum(sized_containers) == 0
    assert first == without
    assert again == without
    assert sum('"spec": {' in one for one in without) > 10  # proposals, not only skips
    if given.get("learned", True):  # screened for anomalies, and some found
        assert sum('"anomaly": {' in one for one in without) > 0


def _with_memory_request(workload: Workload, memory_bytes: float) -> Workload:
    specs = tuple(
        dataclasses.replace(spec, memory_request=memory_bytes) if spec.name == "app" else spec
        for spec in workload.container_specs
    )
    return dataclasses.replace(workload, container_specs=specs)


def _with_cpu_scaled(workload: Workload, factor: float) -> Workload:
    changed = dataclasses.replace(workload, containers={})
    for name, series in workload.containers.items():
        copy = changed.containers.setdefault(name, ContainerSeries(oom_kills=series.oom_kills))
        for resource, pods in series.by_pod.items():
            for pod, (ts_s, values) in pods.items():
                scaled = values * factor if resource == "cpu" and name == "app" else values
                copy.add(pod, resource, ts_s, scaled)
    return changed


def test_a_changed_container_or_other_settings_are_sized_again(sized_containers: list[int]) -> None:
    found = list(bench_sizing.workloads(8))
    known = remembered.Remembered()
    list(_answers(found, {}, known))
    sized_containers.clear()

    changed = [_with_cpu_scaled(found[0], 3.0), _with_memory_request(found[1], 2**30), *found[2:]]
    again = list(_answers(changed, {}, known))
    assert sum(sized_containers) == 2  # the two "app" containers, nothing else
    assert again == list(_answers(changed, {}, None))

    sized_containers.clear()
    list(_answers(found, {"classAware": True}, known))
    assert sum(sized_containers) == _containers(found)


def _history(ts_s: np.ndarray) -> UsageHistory:
    rng = np.random.default_rng(3)
    return UsageHistory(
        ts_s,
        rng.gamma(2.0, 0.1, ts_s.size),
        rng.normal(4e8, 1e7, ts_s.size),
        current=CurrentResources(0.5, None, 5e8, None),
    )


def test_the_digest_follows_what_the_screening_judges_not_the_clock() -> None:
    ts_s = np.arange(0.0, 86_400.0, 60.0)
    history = _history(ts_s)
    same = _history(ts_s.copy())
    assert remembered.digest("{}", history, ts_s.size) == remembered.digest("{}", same, ts_s.size)
    assert remembered.digest("{}", history, ts_s.size) != remembered.digest("{}", history, ts_s.size - 60)
    assert remembered.digest("{}", history, ts_s.size) != remembered.digest('{"strategy":"vpa"}', history, ts_s.size)
    fewer_cpu = dataclasses.replace(history, cpu_cores=history.cpu_cores * 0.5)
    assert remembered.digest("{}", history, ts_s.size) != remembered.digest("{}", fewer_cpu, ts_s.size)
    other_limit = dataclasses.replace(history, current=CurrentResources(0.5, None, 5e8, 6e8))
    assert remembered.digest("{}", history, ts_s.size) != remembered.digest("{}", other_limit, ts_s.size)


def test_a_window_ending_in_the_hour_of_the_last_samples_sizes_again(sized_containers: list[int]) -> None:
    found = list(bench_sizing.workloads(4))
    known = remembered.Remembered()
    list(_answers(found, {}, known, end_s=bench_sizing.END_S))
    sized_containers.clear()
    # Hours later, past the samples: nothing the screening judges has changed.
    list(_answers(found, {}, known, end_s=bench_sizing.END_S + 5 * 3600))
    assert sum(sized_containers) == 0
    # Ending inside the hour of a container's last samples: that hour is no longer judged, so it is sized again.
    end_s = bench_sizing.END_S - 1200
    hour_s = end_s // 3600 * 3600
    inside = list(_answers(found, {}, known, end_s=end_s))
    reaching = [
        name
        for workload in found
        for name in workload.containers
        if rightsizing.history_of(workload, name).ts_s[-1] >= hour_s
    ]
    assert sum(sized_containers) == len(reaching) > 0
    assert inside == list(_answers(found, {}, None, end_s=end_s))


def test_the_least_recently_used_are_forgotten_beyond_the_bound() -> None:
    known = remembered.Remembered(max_containers=2)
    one = remembered.Sized(NotEnoughData(reason="too short", sample_count=1, history_hours=0.0), None, None, (), False)
    known.put(b"a", one)
    known.put(b"b", one)
    assert known.get(b"a") is one  # a is now the most recent
    known.put(b"c", one)
    assert (known.get(b"a"), known.get(b"b"), known.get(b"c")) == (one, None, one)
    assert len(known) == 2


def test_an_unmeasured_container_spec_does_not_break_the_digest() -> None:
    workload = Workload(
        kind="Deployment",
        namespace="edges",
        name="empty",
        replicas=1,
        container_specs=(ContainerSpec("app", 0.5, 512.0 * 2**20, None, None),),
    )
    workload.containers["app"] = ContainerSeries()
    history = rightsizing.history_of(workload, "app")
    assert remembered.digest("{}", history, 0) == remembered.digest("{}", rightsizing.history_of(workload, "app"), 0)


def test_a_container_known_from_another_workload_gets_the_sparkline_it_needs_as_a_first(
    sized_containers: list[int],
) -> None:
    # The sparkline is its workload's first container's; a container seen second elsewhere has none kept.
    two = next(workload for workload in bench_sizing.workloads(40) if len(workload.containers) >= 2)
    second = sorted(two.containers)[1]
    alone = dataclasses.replace(
        two,
        name="alone",
        containers={second: two.containers[second]},
        container_specs=tuple(spec for spec in two.container_specs if spec.name == second),
    )
    known = remembered.Remembered()
    list(_answers([two], {}, known))
    sized_containers.clear()
    answers = list(_answers([two, alone], {}, known))
    assert sum(sized_containers) == 1  # the container, again, for its sparkline
    assert answers == list(_answers([two, alone], {}, None))
    assert '"usageSparkline": [0' in answers[1]
