"""The benchmark's synthetic cluster: deterministic, every workload's series present, requests at or above use."""

from __future__ import annotations

import numpy as np

from kcost.devcluster import scale
from kcost.devcluster.scenario.model import UsagePattern

SCENARIO = scale.ScaleScenario(200, namespaces=7, days=1, step_s=60)
END_S = 1_795_000_000 // 86400 * 86400


def test_workloads_are_deterministic_and_spread_over_every_namespace() -> None:
    first, again = list(scale.workloads(SCENARIO)), list(scale.workloads(SCENARIO))
    assert first == again
    assert len(first) == 200
    assert {w.namespace for w in first} == set(SCENARIO.namespace_names())
    assert len(SCENARIO.namespace_names()) == 7
    assert len({w.pod for w in first}) == 200, "pod names are unique"
    assert all(w.pod.startswith(w.replicaset + "-") and w.replicaset.startswith(w.name + "-") for w in first)
    assert all(w.cpu_request_cores >= w.cpu_cores and w.memory_request_bytes >= w.memory_bytes for w in first)
    assert {w.pattern for w in first} == {p for p, _ in scale.PATTERNS}


def test_each_workload_has_its_six_series_and_idle_ones_no_traffic() -> None:
    series = list(scale.series(SCENARIO))
    assert len(series) == scale.SERIES_PER_WORKLOAD * SCENARIO.workloads
    names = [s.labels["__name__"] for s in series[: scale.SERIES_PER_WORKLOAD]]
    assert names == [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_network_receive_bytes_total",
        "kube_pod_owner",
        "kube_replicaset_owner",
        "kube_pod_container_status_restarts_total",
    ]
    idle = next(w for w in scale.workloads(SCENARIO) if w.pattern is UsagePattern.IDLE)
    traffic = series[idle.index * scale.SERIES_PER_WORKLOAD + 2]
    assert traffic.profile is None
    assert traffic.constant == 0


def test_profiles_are_counters_and_levels_of_the_right_length() -> None:
    profiles = scale.profiles(SCENARIO, END_S)
    kinds = len(scale.PATTERNS) * SCENARIO.profiles_per_pattern
    assert len(profiles) == 3 * kinds
    assert all(p.size == SCENARIO.samples for p in profiles)
    cpu_counter, memory_level = profiles[0], profiles[kinds]
    assert bool(np.all(np.diff(cpu_counter) >= 0)), "a CPU counter never goes down"
    assert 0.5 <= float(memory_level.mean()) <= 1.5
