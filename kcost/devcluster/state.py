"""What a running dev cluster looks like on disk: ``<work dir>/state.json``."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_WORK_DIR = Path(".kcost") / "dev-cluster"


def default_work_dir() -> Path:
    """``$KCOST_DEV_DIR``, else ``.kcost/dev-cluster`` under the current directory."""
    return Path(os.environ.get("KCOST_DEV_DIR", DEFAULT_WORK_DIR)).absolute()


def dir_flag(work_dir: Path) -> str:
    """`` --dir <work dir>`` (shell-quoted) for a hint that names this cluster; empty for the default folder."""
    return "" if work_dir.absolute() == default_work_dir() else f" --dir {shlex.quote(str(work_dir))}"


class Ports(BaseModel):
    """Loopback ports, chosen free at first start and kept across restarts when possible."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int
    prometheus: int


class RealNodeState(BaseModel):
    """The real node (``up --real-node``): the host address pods reach it by, its ports."""

    host_ip: str
    kubelet_port: int
    kubelet_healthz_port: int
    proxy_healthz_port: int
    proxy_metrics_port: int


class ClusterState(BaseModel):
    """Persisted so that ``status``, ``env`` and ``down`` work from any later process."""

    work_dir: Path
    ports: Ports
    pids: dict[str, int] = Field(default_factory=dict, description="process name → pid")
    scenario_ends: dict[str, int] = Field(
        default_factory=dict,
        description="scenario name → end of its loaded history (Unix s); reloads reuse it so samples never mix",
    )
    api_url: str | None = Field(None, description="the status API `kcost demo` started (KCOST_API_URL)")
    real_node: RealNodeState | None = Field(None, description="set when the cluster runs a real kubelet")

    @property
    def path(self) -> Path:
        return self.work_dir / "state.json"

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def pod_prometheus_url(self) -> str:
        """Prometheus as pods on the real node reach it: at the host's address."""
        host = self.real_node.host_ip if self.real_node else "127.0.0.1"
        return f"http://{host}:{self.ports.prometheus}"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def database_url(self) -> str:
        """SQLite in the work folder: the default history store."""
        return f"sqlite+aiosqlite:///{self.work_dir / 'kcost.db'}"

    def save(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(self.model_dump_json(indent=2))
        temporary.replace(self.path)

    @classmethod
    def load(cls, work_dir: Path) -> ClusterState | None:
        path = work_dir / "state.json"
        if not path.exists():
            return None
        return cls.model_validate_json(path.read_text())

    def exports(self) -> dict[str, str]:
        """The environment a client needs to reach this cluster."""
        exports = {
            "KUBECONFIG": str(self.admin_kubeconfig),
            "KCOST_PROMETHEUS_URL": self.prometheus_url,
            "KCOST_DATABASE_URL": self.database_url,
        }
        return {**exports, "KCOST_API_URL": self.api_url} if self.api_url else exports
