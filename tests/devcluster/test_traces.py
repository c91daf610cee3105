from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from kcost.api.units import MIB
from kcost.devcluster.scenario import library, traces
from kcost.devcluster.scenario.model import TraceRef

HEADER = "trace,vm,ts,cpu_cores,cpu_cores_provisioned,mem_mib,mem_mib_provisioned\n"


def _write(path: Path, body: str, header: str = HEADER) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.write(header + body)
    traces.load.cache_clear()
    return path


def test_loads_series_per_vm_in_time_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv.gz", "t,1,600,0.5,2,100,1024\nt,1,300,0.25,2,50,1024\nt,2,300,1,4,10,2048\n")
    series = traces.load(path)
    assert sorted(series) == ["1", "2"]
    assert series["1"].ts_s.tolist() == [300, 600]
    assert series["1"].cpu_cores.tolist() == [0.25, 0.5]


def test_missing_column_and_bad_number_name_the_place(tmp_path: Path) -> None:
    bad_header = _write(tmp_path / "a.csv.gz", "t,1,300,1\n", header="trace,vm,ts,cpu_cores\n")
    with pytest.raises(traces.TraceFormatError, match=r"missing column.*cpu_cores_provisioned"):
        traces.load(bad_header)
    bad_value = _write(tmp_path / "b.csv.gz", "t,1,300,lots,2,100,1024\n")
    with pytest.raises(traces.TraceFormatError, match=r"line 2: column 'cpu_cores' is 'lots', expected a number"):
        traces.load(bad_value)


def test_resample_aligns_the_trace_end_to_the_timeline_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv.gz", "t,1,0,0.1,2,100,1024\nt,1,300,0.2,2,200,1024\nt,1,600,0.3,2,300,1024\n")
    ref = TraceRef(path=str(path), vm="1", file_sha256="x")
    times = np.array([9_000, 9_150, 9_300, 9_450, 9_600])
    cpu, memory = traces.resample(ref, times)
    assert cpu.tolist() == [0.1, 0.1, 0.2, 0.2, 0.3]
    assert memory.tolist() == [100 * MIB, 100 * MIB, 200 * MIB, 200 * MIB, 300 * MIB]


def test_scenario_from_trace_sizes_requests_and_nodes(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.csv.gz", "".join(f"t,{vm},{i * 300},0.5,16,100,65536\n" for vm in range(4) for i in range(3))
    )
    scenario = library.from_trace(path, vms=3)
    assert [w.name for w in scenario.workloads] == ["vm-0", "vm-1", "vm-2"]
    assert scenario.workloads[0].containers[0].cpu_request_cores == 16
    assert sum(n.cpu_cores for n in scenario.nodes) >= 48
