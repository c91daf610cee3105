"""A throwaway PostgreSQL cluster (Debian's ``postgresql``) on a free loopback port.

PostgreSQL refuses to run as root, so as root the data folder is handed to the
``postgres`` system user and the server runs as that user. The folder lives under
the system temp folder, which that user can reach (a root-owned home often is not).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kcost.devcluster import processes

SUPERUSER = "kcost"
DATABASE = "kcost"


class PostgresMissingError(RuntimeError):
    """No PostgreSQL server binaries were found."""


def server_bin_dir() -> Path:
    """The newest installed ``/usr/lib/postgresql/<major>/bin`` (or ``$KCOST_PG_BIN``)."""
    override = os.environ.get("KCOST_PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if not candidates:
        raise PostgresMissingError(
            "PostgreSQL server not found: install Debian's package with `apt-get install postgresql` "
            "(or run `make install`)"
        )
    return Path(candidates[-1]).parent


def _run_as() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


@dataclass
class ThrowawayPostgres:
    """Start with ``start()``, connect with ``url``, remove everything with ``stop()``."""

    port: int = field(default_factory=processes.free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kcost-pg-")))
    pid: int | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy async URL (asyncpg driver)."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """Plain libpq/asyncpg DSN."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> ThrowawayPostgres:
        bin_dir = server_bin_dir()
        data = self.root / "data"
        user = _run_as()
        self.root.chmod(0o755)
        if user is not None:
            shutil.chown(self.root, user=user, group=user)
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            user=user,
        )
        self.pid = processes.spawn(
            "postgres",
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                # A test database: durability is not worth the latency.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            self.root,
            user=user,
        )
        processes.wait_until(
            self._accepts_connections, what="postgres", timeout_s=30, pid=self.pid, log=self.root / "postgres.log"
        )
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, DATABASE],
            check=True,
            capture_output=True,
        )
        return self

    def _accepts_connections(self) -> bool:
        check = subprocess.run(
            [str(server_bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return check.returncode == 0

    def stop(self) -> None:
        if self.pid is not None:
            processes.stop(self.pid)
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)
