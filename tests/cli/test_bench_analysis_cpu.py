"""The analysis benchmark's CPU line: each process, and the floor the services alone set on the wall time."""

from __future__ import annotations

from kcost.cli.bench_analysis import AnalysisRun, cpu_line


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

    assert line.startswith("10,000 workloads, fast first run, CPU seconds: analyzer 143, operator 150, prometheus 110")
    # kcost's own processes are not part of the floor: 110 + 331 + 42 = 483 CPU s over 2 cores.
    assert line.endswith("(prometheus, kube-apiserver, etcd): 483 CPU s, at least 242 s of wall on 2 cores")


def test_a_process_that_was_not_watched_counts_as_nothing() -> None:
    line = cpu_line(_run({"analyzer": 10.0, "prometheus": 30.0}), cores=4)

    assert line.endswith(": 30 CPU s, at least 8 s of wall on 4 cores")
