"""The harness Prometheus (Debian's ``prometheus`` package), its Alertmanager, and history backfill.

History is written as OpenMetrics text and turned into TSDB blocks by
``promtool tsdb create-blocks-from openmetrics``; blocks are cached by content hash
and copied into the data folder, and Prometheus is restarted to load them.

Prometheus also scrapes the kcost processes (job ``kcost``), evaluates rule files and
sends alerts to Alertmanagers; all three are files in its data folder
(``targets/``, ``rules/``, ``alertmanagers/``) that the demo and the tests write:
targets and Alertmanagers are picked up within seconds, rules on ``reload``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from kcost.devcluster import processes

# Backfilled history reaches back weeks; keep it all.
RETENTION = "90d"
CONFIG = """\
global:
  scrape_interval: 60s
  evaluation_interval: 60s
rule_files: ["{data_dir}/rules/*.yaml"]
alerting:
  alertmanagers:
    - file_sd_configs: [{{files: ["{data_dir}/alertmanagers/*.json"], refresh_interval: 2s}}]
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{port}"]
  - job_name: kcost
    scrape_interval: 5s
    file_sd_configs: [{{files: ["{data_dir}/targets/*.json"], refresh_interval: 2s}}]
"""
KCOST_JOB = "kcost"
ALERTMANAGER_CONFIG = """\
route:
  receiver: webhook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: "{webhook_url}"
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


def start(data_dir: Path, port: int, log_dir: Path, listen_host: str = "127.0.0.1") -> int:
    """Start Prometheus on ``listen_host``:``port`` over ``data_dir``; returns its pid."""
    require_installed()
    (data_dir / "tsdb").mkdir(parents=True, exist_ok=True)
    for folder in ("targets", "rules", "alertmanagers"):
        (data_dir / folder).mkdir(exist_ok=True)
    config = data_dir / "prometheus.yml"
    config.write_text(CONFIG.format(port=port, data_dir=data_dir))
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
            f"--web.listen-address={listen_host}:{port}",
            "--web.enable-lifecycle",
            # A reload forgets the discovered Alertmanagers for a few seconds; an alert fired then would
            # reach them a minute later by default.
            "--rules.alert.resend-delay=2s",
            "--log.level=warn",
        ],
        log_dir,
    )
    processes.wait_until(lambda: _ready(port), what="prometheus", timeout_s=60, pid=pid, log=log_dir / "prometheus.log")
    return pid


def _ready(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as response:
        return int(response.status) == 200


def _write_json(path: Path, document: object) -> None:
    # Written aside, then renamed: Prometheus watches the folder and must never read half a file.
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(document))
    partial.replace(path)


def scrape(data_dir: Path, name: str, targets: Mapping[str, str]) -> None:
    """Scrape ``targets`` (process name → ``host:port``) in job ``kcost``; ``name`` identifies the set."""
    groups = [{"targets": [address], "labels": {"process": process}} for process, address in targets.items()]
    _write_json(data_dir / "targets" / f"{name}.json", groups)


def stop_scraping(data_dir: Path, name: str) -> None:
    """Forget the targets registered as ``name``."""
    (data_dir / "targets" / f"{name}.json").unlink(missing_ok=True)


def install_rules(data_dir: Path, port: int, name: str, rules_yaml: str) -> None:
    """Evaluate a rules file (checked by promtool first) from now on."""
    path = data_dir / "rules" / f"{name}.yaml"
    partial = path.with_suffix(".tmp")
    partial.write_text(rules_yaml)
    result = subprocess.run(["promtool", "check", "rules", str(partial)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        partial.unlink()
        raise ValueError(f"rules {name!r} are invalid: {(result.stdout + result.stderr).strip()}")
    partial.replace(path)
    reload(port)


def remove_rules(data_dir: Path, port: int, name: str) -> None:
    (data_dir / "rules" / f"{name}.yaml").unlink(missing_ok=True)
    reload(port)


def reload(port: int) -> None:
    """Make Prometheus read its configuration and rule files again."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        if int(response.status) != 200:
            raise RuntimeError(f"Prometheus on port {port} refused to reload: HTTP {response.status}")


def alert_to(data_dir: Path, name: str, address: str) -> None:
    """Send alerts to the Alertmanager at ``host:port`` too."""
    _write_json(data_dir / "alertmanagers" / f"{name}.json", [{"targets": [address]}])


def stop_alerting(data_dir: Path, name: str) -> None:
    (data_dir / "alertmanagers" / f"{name}.json").unlink(missing_ok=True)


def start_alertmanager(work_dir: Path, port: int, webhook_url: str, log_dir: Path) -> int:
    """Debian's Alertmanager on 127.0.0.1:``port``, sending every alert to ``webhook_url`` at once; returns its pid."""
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        raise PrometheusMissingError(
            "prometheus-alertmanager not found on PATH: install Debian's package with "
            "`apt-get install prometheus-alertmanager` (or run `make install`)"
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    config = work_dir / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG.format(webhook_url=webhook_url))
    pid = processes.spawn(
        "alertmanager",
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={work_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # a single instance: no gossip port
            "--log.level=warn",
        ],
        log_dir,
    )
    processes.wait_until(
        lambda: _ready(port), what="alertmanager", timeout_s=30, pid=pid, log=log_dir / "alertmanager.log"
    )
    return pid


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
