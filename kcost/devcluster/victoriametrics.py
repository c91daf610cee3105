"""VictoriaMetrics (Debian's ``victoria-metrics`` package) serving the harness Prometheus' history.

kcost speaks the Prometheus HTTP API; VictoriaMetrics is the second backend the e2e tests
run the analyzers against. Its history is the Prometheus TSDB's, imported block by block
with ``vmctl prometheus`` (the same samples, not a second generation), so both backends
answer from identical data and any difference in recommendations is the engine's.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import urllib.request
from pathlib import Path

from kcost.devcluster import processes

# The backfilled history reaches back weeks; keep everything.
RETENTION = "100y"


class VictoriaMetricsMissingError(RuntimeError):
    """victoria-metrics or vmctl is not installed."""


def require_installed() -> None:
    missing = [tool for tool in ("victoria-metrics", "vmctl") if shutil.which(tool) is None]
    if missing:
        raise VictoriaMetricsMissingError(
            f"{' and '.join(missing)} not found on PATH: install Debian's package with "
            "`apt-get install victoria-metrics` (or run `make install`)"
        )


def start(data_dir: Path, port: int, log_dir: Path) -> int:
    """Start single-node VictoriaMetrics on 127.0.0.1:``port`` over ``data_dir``; returns its pid."""
    require_installed()
    data_dir.mkdir(parents=True, exist_ok=True)
    pid = processes.spawn(
        "victoria-metrics",
        [
            "victoria-metrics",
            f"-storageDataPath={data_dir}",
            f"-retentionPeriod={RETENTION}",
            f"-httpListenAddr=127.0.0.1:{port}",
            # Imported history is read at once, not 30 s later, and no answer is served from a cache
            # filled before the import.
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ],
        log_dir,
    )
    processes.wait_until(
        lambda: _healthy(port), what="victoria-metrics", timeout_s=60, pid=pid, log=log_dir / "victoria-metrics.log"
    )
    return pid


def _healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
        return int(response.status) == 200


def import_tsdb(tsdb_dir: Path, port: int) -> None:
    """Import every block of a Prometheus TSDB folder, then flush so that queries see all of it."""
    require_installed()
    command = [
        "vmctl",
        "prometheus",
        "-s",
        "--vm-disable-progress-bar",
        f"--prom-snapshot={tsdb_dir}",
        f"--vm-addr=http://127.0.0.1:{port}",
    ]
    # Debian's vmctl (1.79) fails without a terminal even with its progress bar off: ``script`` lends it one.
    result = subprocess.run(
        ["script", "-qec", shlex.join(command), "/dev/null"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise RuntimeError(f"vmctl could not import {tsdb_dir} into VictoriaMetrics on port {port}:\n{tail}")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/internal/force_flush", timeout=60) as response:
        if int(response.status) != 200:
            raise RuntimeError(f"VictoriaMetrics on port {port} did not flush: HTTP {response.status}")
