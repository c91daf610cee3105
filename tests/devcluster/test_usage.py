from __future__ import annotations

import numpy as np

from kcost.devcluster.scenario import library, usage
from kcost.devcluster.scenario.model import UsagePattern

END_S = 1_800_000_000


def test_same_seed_same_history_other_seed_other_history() -> None:
    scenario = library.smoke()
    first = usage.pods(scenario, END_S)
    again = usage.pods(scenario, END_S)
    assert [p.name for p in first] == [p.name for p in again]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.containers[0].cpu_cores, b.containers[0].cpu_cores)
    other = usage.pods(scenario.model_copy(update={"seed": 8}), END_S)
    assert [p.name for p in other] != [p.name for p in first]


def test_timeline_ends_at_end_and_has_the_step() -> None:
    scenario = library.smoke()
    times = usage.timeline(scenario, END_S)
    assert times[-1] == END_S
    assert len(times) == scenario.days * 86400 / scenario.step_s
    assert set(np.diff(times).tolist()) == {scenario.step_s}


def test_patterns_have_their_shape() -> None:
    scenario = library.smoke()
    by_workload: dict[str, usage.PodHistory] = {}
    for pod in usage.pods(scenario, END_S):
        by_workload.setdefault(pod.workload.name, pod)
    steady = by_workload["web"].containers[0].cpu_cores
    assert abs(steady.mean() - 0.1) < 0.01
    assert steady.std() / steady.mean() < 0.1
    bursty = by_workload["search"].containers[0].cpu_cores
    assert bursty.max() > 2.5 * np.median(bursty), "bursts reach several times the base"
    idle = by_workload["old-prototype"]
    assert idle.workload.pattern is UsagePattern.IDLE
    assert idle.containers[0].cpu_cores.max() < 0.01
    assert not idle.network_rx_bytes_per_s.any()
    diurnal = by_workload["api"].containers[0].cpu_cores
    assert diurnal.max() > 2 * diurnal.min()


def test_memory_leak_is_killed_at_the_limit_and_restarts() -> None:
    scenario = library.smoke()
    leaky = next(p for p in usage.pods(scenario, END_S) if p.workload.name == "leaky").containers[0]
    limit = leaky.spec.memory_limit_bytes
    assert limit is not None
    assert len(leaky.oom_kill_offsets) >= 2
    assert leaky.memory_bytes.max() < limit
    for kill in leaky.oom_kill_offsets:
        assert leaky.memory_bytes[kill] < leaky.memory_bytes[kill - 1], "memory drops after each kill"


def test_cronjob_runs_follow_the_schedule_and_rollouts_split_pods() -> None:
    scenario = library.smoke()
    history = usage.pods(scenario, END_S)
    runs = [p for p in history if p.workload.name == "nightly-report"]
    times = usage.timeline(scenario, END_S)
    assert len(runs) == 8
    for run in runs:
        assert times[run.start] % (6 * 3600) == 0
        assert (run.stop - run.start) * scenario.step_s == 30 * 60
        assert run.name.startswith(usage.job_name(run.workload, int(times[run.start])))
    api = [p for p in history if p.workload.name == "api"]
    assert len({p.owner_name for p in api}) == 2
    assert {p.start for p in api} == {0, len(times) // 2}
    daemons = [p for p in history if p.workload.name == "log-agent"]
    assert sorted(p.node for p in daemons) == sorted(n.name for n in scenario.nodes)
