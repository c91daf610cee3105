"""The harness Prometheus (Debian's ``prometheus`` package) and history backfill.

History is written as OpenMetrics text and turned into TSDB blocks by
``promtool tsdb create-blocks-from openmetrics``; blocks are cached by content hash
and copied into the data folder, and Prometheus is restarted to load them.
"""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from pathlib import Path

from kcost.devcluster import processes

# Backfilled history reaches back weeks; keep it all.
RETENTION = "90d"
CONFIG = """\
global:
  scrape_interval: 60s
  evaluation_interval: 60s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


class PrometheusMissingError(RuntimeError):
    """Prometheus or promtool is not installed."""


def require_installed() -> None:
    missing = [tool for tool in ("prometheus", "promtool") if shutil.which(tool) is None]
    if missing:
        raise PrometheusMissingError(
            f"{' and '.join(missing)} not found on PATH: install Debian's package with "
            "`apt-get install prometheus` (or run `make install`)"
        )


def start(data_dir: Path, port: int, log_dir: Path) -> int:
    """Start Prometheus on 127.0.0.1:``port`` over ``data_dir``; returns its pid."""
    require_installed()
    (data_dir / "tsdb").mkdir(parents=True, exist_ok=True)
    config = data_dir / "prometheus.yml"
    config.write_text(CONFIG.format(port=port))
    pid = processes.spawn(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir / 'tsdb'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            # Backfilled history comes in one-day blocks; merging them after each load would
            # rewrite gigabytes in the background while tests and benchmarks measure.
            "--storage.tsdb.max-block-duration=1d",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ],
        log_dir,
    )
    processes.wait_until(lambda: _ready(port), what="prometheus", timeout_s=60, pid=pid, log=log_dir / "prometheus.log")
    return pid


def _ready(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response:
        return int(response.status) == 200


def create_blocks(openmetrics_path: Path, blocks_dir: Path) -> None:
    """Turn one OpenMetrics file into TSDB blocks under ``blocks_dir``."""
    require_installed()
    blocks_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            str(openmetrics_path),
            str(blocks_dir),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise RuntimeError(f"promtool could not create blocks from {openmetrics_path}:\n{tail}")


def install_blocks(blocks_dir: Path, data_dir: Path) -> int:
    """Copy the blocks (ULID folders) into the TSDB folder; returns how many were new."""
    tsdb = data_dir / "tsdb"
    tsdb.mkdir(parents=True, exist_ok=True)
    added = 0
    for block in sorted(blocks_dir.iterdir()):
        if block.is_dir() and (block / "meta.json").exists() and not (tsdb / block.name).exists():
            shutil.copytree(block, tsdb / block.name)
            added += 1
    return added
