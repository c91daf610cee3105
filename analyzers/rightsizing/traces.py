"""Usage traces for the benchmark: a gzipped CSV, one series per ``vm``.

Columns ``trace, vm, ts, cpu_cores, cpu_cores_provisioned, mem_mib, mem_mib_provisioned``
(``ts`` in Unix seconds). Values are parsed here, at the edge, into arrays with units in
their names (memory in bytes). An empty or NaN usage value reads as 0, so a trace that
measured only memory (or only CPU) still loads; rows of a VM are sorted by time.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kcost.analyzers.rightsizing.stats import FloatArray
from kcost.api.units import MIB

COLUMNS = ("trace", "vm", "ts", "cpu_cores", "cpu_cores_provisioned", "mem_mib", "mem_mib_provisioned")
_VALUE_COLUMNS = COLUMNS[2:]


class TraceFormatError(ValueError):
    """The file is not in the trace schema; the message names the file, line and column."""


@dataclass(frozen=True)
class TraceSeries:
    """One VM's samples in time order."""

    vm: str
    ts_s: FloatArray
    cpu_cores: FloatArray
    cpu_provisioned_cores: FloatArray
    memory_bytes: FloatArray
    memory_provisioned_bytes: FloatArray


def load(path: Path) -> dict[str, TraceSeries]:
    """Every series of a trace file, by VM; raises ``TraceFormatError`` on a malformed file."""
    rows_by_vm: dict[str, list[list[str]]] = {}
    with gzip.open(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise TraceFormatError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        vm_index = header.index("vm")
        value_indexes = [header.index(column) for column in _VALUE_COLUMNS]
        for row in reader:
            if row:
                rows_by_vm.setdefault(row[vm_index], []).append([row[i] for i in value_indexes])
    return {vm: _series(path, vm, rows) for vm, rows in rows_by_vm.items()}


def _series(path: Path, vm: str, rows: list[list[str]]) -> TraceSeries:
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        values = np.array([[_number(path, vm, row, i) for i in range(len(_VALUE_COLUMNS))] for row in rows])
    order = np.argsort(values[:, 0], kind="stable")
    values = values[order]
    ts_s = values[:, 0]
    if np.isnan(ts_s).any():
        raise TraceFormatError(f"{path}: vm {vm!r} has a row without a timestamp (column 'ts')")
    return TraceSeries(
        vm=vm,
        ts_s=ts_s,
        cpu_cores=np.nan_to_num(values[:, 1]),
        cpu_provisioned_cores=np.nan_to_num(values[:, 2]),
        memory_bytes=np.nan_to_num(values[:, 3]) * MIB,
        memory_provisioned_bytes=np.nan_to_num(values[:, 4]) * MIB,
    )


def _number(path: Path, vm: str, row: list[str], index: int) -> float:
    """One value, with an empty field as NaN (not measured); anything else unparseable is an error."""
    text = row[index].strip()
    if not text:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise TraceFormatError(
            f"{path}: vm {vm!r}, row {row!r}: column {_VALUE_COLUMNS[index]!r} is {text!r}, expected a number"
        ) from None
