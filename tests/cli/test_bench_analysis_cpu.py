"""The analysis benchmark's CPU line: each process, and the floor the services alone set on the wall time."""

from __future__ import annotations

import dataclasses

from kcost.cli import bench_analysis
from kcost.cli.bench_analysis import AnalysisRun, cpu_line, remembered_of, usage_of


def _run(cpu_s: dict[str, float]) -> AnalysisRun:
    return AnalysisRun(
        workloads=10_000,
        namespaces=50,
        read_path="fast",
        run="first",
        wall_s=700.0,
        analyzer_s=640.0,
        peak_rss_mib=480.0,
        analyze_s=400.0,
        read_wait_s=100.0,
        size_s=280.0,
        write_s=240.0,
        analyzer_prometheus_requests=200,
        prometheus_requests_all_clients=400,
        cpu_s=cpu_s,
        recommendations=7_217,
        recommendations_changed=None,
        phase="Succeeded",
    )


def test_the_services_cpu_spread_over_the_cores_is_the_floor() -> None:
    cpu_s = {"analyzer": 143.0, "operator": 150.0, "prometheus": 110.0, "kube-apiserver": 331.0, "etcd": 42.0}

    line = cpu_line(_run(cpu_s), cores=2)

    assert line.startswith(
        "10,000 workloads, fast first run (0 sizing processes), CPU seconds: analyzer 143, operator 150, prometheus 110"
    )
    # kcost's own processes are not part of the services' floor: 110 + 331 + 42 = 483 CPU s over 2 cores;
    # with them, 776 CPU s.
    assert line.endswith(
        "(prometheus, kube-apiserver, etcd): 483 CPU s, at least 242 s of wall on 2 cores; "
        "every process: 776 CPU s, at least 388 s"
    )


def test_a_process_that_was_not_watched_counts_as_nothing() -> None:
    line = cpu_line(_run({"analyzer": 10.0, "prometheus": 30.0}), cores=4)

    assert line.endswith(": 30 CPU s, at least 8 s of wall on 4 cores; every process: 40 CPU s, at least 10 s")


def test_the_usage_split_and_range_reads_come_from_the_last_runs_line() -> None:
    cached = (
        "a usage of 10 workloads: 7.5 s waiting for Prometheus, 3.25 s analyzing "
        "(fast read path; range reads: 0 new steps only, 100 whole window)\n"
        "b usage of 10 workloads: 0.5 s waiting for Prometheus, 2.0 s analyzing "
        "(fast read path; range reads: 100 new steps only, 0 whole window)\n"
    )
    assert usage_of(cached) == (0.5, 2.0, (100, 0))
    uncached = cached + "c usage of 10 workloads: 1.0 s waiting for Prometheus, 4.0 s analyzing (fast read path)\n"
    assert usage_of(uncached) == (1.0, 4.0, None), "a run without a cache has no counts, not the last run's"
    assert usage_of("no run yet\n") == (0.0, 0.0, None)


def test_the_containers_sized_and_remembered_come_from_the_last_runs_sizing_line() -> None:
    first = (
        "a usage of 10 workloads: 7.5 s waiting for Prometheus, 3.25 s analyzing (fast read path)\n"
        "sized 12 containers: 0 as an earlier run sized them (the same usage, requests and settings)\n"
    )
    again = (
        "b usage of 10 workloads: 0.5 s waiting for Prometheus, 2.0 s analyzing (fast read path)\n"
        "sized 12 containers: 11 as an earlier run sized them (the same usage, requests and settings)\n"
    )
    assert remembered_of(first) == (12, 0)
    assert remembered_of(first + again) == (12, 11)
    failed = "c usage of 10 workloads: 1.0 s waiting for Prometheus, 4.0 s analyzing (fast read path)\n"
    assert remembered_of(first + again + failed) is None, "a run that did not size has no counts, not the last run's"
    assert remembered_of("no run yet\n") is None


def test_sizing_settings_are_compared_run_by_run_against_the_first() -> None:
    one = dataclasses.replace(_run({"analyzer": 40.0}), sizing_processes=1)
    threaded = dataclasses.replace(one, sizing_processes=0, wall_s=1400.0, size_s=560.0, peak_rss_mib=240.0)
    lines = bench_analysis._sizing_ratios([threaded, one])
    assert lines == [
        "10,000 workloads, first run, 1 ÷ 0 sizing processes: "
        "wall ×0.50, size ×0.50, analyzer CPU ×1.00, peak RSS ×2.00"
    ]
    assert bench_analysis._sizing_ratios([one]) == [], "one setting: nothing to compare"
