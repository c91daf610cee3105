"""Real usage traces mapped onto workloads.

A trace file is a gzipped CSV with the columns
``trace, vm, ts, cpu_cores, cpu_cores_provisioned, mem_mib, mem_mib_provisioned``
(one series per ``vm``, rows of one VM in time order, ``ts`` in Unix seconds), as in
../shared/data/traces/. Each VM becomes a one-replica Deployment whose requests are
what the VM was provisioned with and whose usage is the recorded one, shifted so that
the trace ends at the scenario's end.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kcost.devcluster.scenario.model import TraceRef

from kcost.api.units import MIB

COLUMNS = ("trace", "vm", "ts", "cpu_cores", "cpu_cores_provisioned", "mem_mib", "mem_mib_provisioned")


class TraceFormatError(ValueError):
    """The file is not in the trace schema; the message names the file, row and column."""


@dataclass(frozen=True)
class VmSeries:
    """One VM's samples, in time order."""

    vm: str
    ts_s: np.ndarray
    cpu_cores: np.ndarray
    cpu_cores_provisioned: np.ndarray
    mem_mib: np.ndarray
    mem_mib_provisioned: np.ndarray


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=4)
def load(path: Path) -> dict[str, VmSeries]:
    """Read every VM of a trace file; raises ``TraceFormatError`` on a malformed one."""
    columns: dict[str, dict[str, list[float]]] = {}
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise TraceFormatError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            vm_columns = columns.setdefault(row["vm"], {column: [] for column in COLUMNS[2:]})
            for column in COLUMNS[2:]:
                try:
                    vm_columns[column].append(float(row[column]))
                except (TypeError, ValueError):
                    raise TraceFormatError(
                        f"{path}, line {line}: column {column!r} is {row[column]!r}, expected a number"
                    ) from None
    series: dict[str, VmSeries] = {}
    for vm, values in columns.items():
        arrays = {column: np.asarray(values[column], dtype=np.float64) for column in COLUMNS[2:]}
        order = np.argsort(arrays["ts"], kind="stable")
        series[vm] = VmSeries(
            vm=vm,
            ts_s=arrays["ts"][order],
            cpu_cores=np.nan_to_num(arrays["cpu_cores"][order]),
            cpu_cores_provisioned=arrays["cpu_cores_provisioned"][order],
            mem_mib=np.nan_to_num(arrays["mem_mib"][order]),
            mem_mib_provisioned=arrays["mem_mib_provisioned"][order],
        )
    return series


def resample(ref: TraceRef, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CPU cores and memory bytes of ``ref`` at ``times``, the trace's end aligned to the last time.

    Each time takes the latest trace sample at or before it; times before the trace
    starts repeat its first sample.
    """
    series = load(Path(ref.path))[ref.vm]
    shifted = series.ts_s - series.ts_s[-1] + float(times[-1])
    index = np.clip(np.searchsorted(shifted, times, side="right") - 1, 0, len(shifted) - 1)
    return series.cpu_cores[index], series.mem_mib[index] * MIB
