"""`kcost bench promql` against the session cluster's real Prometheus and the smoke history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.scenario.model import Scenario

KCOST = str(Path(sys.executable).with_name("kcost"))


def test_every_form_is_measured_and_the_fast_path_reads_as_many_points_as_the_bare_counter(
    dev_cluster: DevCluster, smoke: Scenario, smoke_end_s: int
) -> None:
    # 10-minute steps: windows longer than the lookback, ending on the hour where the smoke history ends.
    window = ["--days", "3", "--resolution-minutes", "10"]
    # The smoke scenario's own namespaces: other tests load histories whose pods end mid-step.
    namespaces = sorted({workload.namespace for workload in smoke.workloads})
    chosen = [option for namespace in namespaces for option in ("--namespace", namespace)]
    command = [KCOST, "bench", "promql", "--dir", str(dev_cluster.work_dir), *window, *chosen, "--repeats", "2"]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found["namespaces"] == namespaces
    forms = {row["form"]: row for row in found["forms"]}
    assert len(forms) == 6
    for row in forms.values():
        assert len(row["cpu_s"]) == 2, row
        assert min(row["cpu_s"]) >= 0, row
        assert row["points"] > 0, row
        assert row["answer_bytes"] > 0, row
    # The smoke history has no gap and ends on a step: the last sample of each step is the one the bare
    # selector picks.
    assert forms["CPU, last sample (fast path)"]["points"] == forms["CPU, bare counter (before)"]["points"]
    assert forms["CPU, per_second (last samples)"]["points"] == forms["CPU, c - c offset W (bare)"]["points"]
    assert "last_over_time(" in forms["CPU, last sample (fast path)"]["promql"]
