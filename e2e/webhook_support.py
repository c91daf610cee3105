"""A dev cluster of its own with kcost's admission webhook registered: the API server calls it over TLS.

Its own cluster, not the session's: a webhook with ``failurePolicy: Fail`` sees every write of
the admin user to kcost's kinds, and a test that kills it would block other modules' writes.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from e2e.conftest import REPO_ROOT, KcostProcess
from kcost.devcluster import binaries, processes
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes
from kcost.devcluster.processes import free_port

DEADLINE_S = 90.0
POLL_S = 0.2
KCOST_USER = "kcost"  # kcost's own identity here: in KCOST_WEBHOOK_TRUSTED_USERS, never sent to the webhook


def poll(what: str, check: Callable[[], Any], timeout_s: float = DEADLINE_S) -> Any:
    """``check()``'s first truthy answer; fails naming ``what`` and the last answer after the deadline."""
    deadline = time.monotonic() + timeout_s
    answer = check()
    while not answer:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not there after {timeout_s} s; last seen: {answer!r}")
        time.sleep(POLL_S)
        answer = check()
    return answer


@dataclass
class WebhookCluster:
    cluster: DevCluster
    work_dir: Path
    port: int = field(default_factory=free_port)
    process: KcostProcess | None = None
    started: list[KcostProcess] = field(default_factory=list)

    def kubectl(self, *args: str, input_text: str | None = None, kubeconfig: Path | None = None) -> Any:
        config = kubeconfig or self.cluster.require_state().admin_kubeconfig
        return subprocess.run(
            [binaries.kubectl(), f"--kubeconfig={config}", *args],
            input=input_text,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def apply(self, document: dict[str, Any] | str, *extra: str, kubeconfig: Path | None = None) -> Any:
        text = document if isinstance(document, str) else json.dumps(document)
        return self.kubectl("apply", *extra, "-f", "-", input_text=text, kubeconfig=kubeconfig)

    def kcost_kubeconfig(self) -> Path:
        return self.cluster.mint_user_kubeconfig(KCOST_USER, ["system:masters"])

    def start_webhook(self, env: dict[str, str] | None = None) -> KcostProcess:
        environment = {
            "KCOST_WEBHOOK_PORT": str(self.port),
            "KCOST_WEBHOOK_CERT_DIR": str(self.work_dir / "webhook-certs"),
            "KCOST_WEBHOOK_TRUSTED_USERS": KCOST_USER,
            **(env or {}),
        }
        self.process = KcostProcess(self.cluster, "webhook", ["webhook"], self.work_dir, environment)
        self.started.append(self.process)
        probe = {
            "apiVersion": "optimizer.kcost.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": "webhook-probe"},
            "spec": {"profileRef": {"name": "x"}, "schedule": "61 * * * *"},
        }
        poll(
            "the webhook answering the API server",
            lambda: "admission webhook" in self.apply(probe, "--dry-run=server").stderr,
            timeout_s=180,
        )
        return self.process

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> KcostProcess:
        """A kcost process running as kcost's own identity."""
        environment = {"KUBECONFIG": str(self.kcost_kubeconfig()), **(env or {})}
        process = KcostProcess(self.cluster, name, list(args), self.work_dir, environment)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            processes.stop(process.pid, timeout_s=10)


def webhook_cluster(work_dir: Path) -> Iterator[WebhookCluster]:
    """Generator for a module fixture: the cluster with CRDs and the webhook running."""
    cluster = DevCluster(work_dir / "cluster", Console(stderr=True))
    try:
        cluster.up(default_nodes())
        cluster.kubectl("apply", "--server-side", "-f", str(REPO_ROOT / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd", "-l", "app.kubernetes.io/part-of=kcost"
        )
        own = WebhookCluster(cluster, work_dir)
        own.start_webhook()
        try:
            yield own
        finally:
            own.stop_all()
    finally:
        cluster.down()
