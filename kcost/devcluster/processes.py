"""Start, watch and stop the dev cluster's processes; measure a process with its descendants.

Each process runs in its own session (process group), so that stopping it also stops
whatever it started, and it survives the ``kcost dev-cluster up`` command that
launched it. Output goes to one log file per process in the work folder.

The benchmarks count a process's descendants as its own (the analyzer's sizing workers):
``process_tree``, ``tree_cpu_s`` and ``tree_peak_rss_mib`` read them from /proc.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# Ports handed to the dev cluster's servers are drawn from here up to the kernel's ephemeral range.
SERVER_PORT_FLOOR = 20000
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# The log line Go, etcd and Prometheus print when their listen address is taken.
PORT_TAKEN_MARKER = "address already in use"


class ProcessExitedError(RuntimeError):
    """A process died while starting; ``log_tail`` is the end of its log."""

    def __init__(self, what: str, log_tail: str) -> None:
        super().__init__(f"{what}: the process exited while starting{log_tail}")
        self.log_tail = log_tail

    @property
    def port_taken(self) -> bool:
        """Whether it died because another process held one of its ports."""
        return PORT_TAKEN_MARKER in self.log_tail.lower()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now, below the kernel's ephemeral range.

    A port from ``bind(0)`` comes from the ephemeral range, which every outgoing connection on
    the machine draws from too: one of them could take it between this check and the server's
    bind. Random ports below that range are only ever taken by servers.
    """
    ephemeral_low = _ephemeral_range_low()
    if ephemeral_low - SERVER_PORT_FLOOR >= 1000:
        for _ in range(200):
            port = SERVER_PORT_FLOOR + secrets.randbelow(ephemeral_low - SERVER_PORT_FLOOR)
            if port_is_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_range_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def spawn(
    name: str, argv: Sequence[str], log_dir: Path, *, user: str | None = None, env: dict[str, str] | None = None
) -> int:
    """Start ``argv`` detached, logging to ``log_dir/name.log``; returns its pid."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            env={**os.environ, **(env or {})},
        )
    return process.pid


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        return _stat_fields(pid)[0] != "Z"
    return True


def stop(pid: int, *, timeout_s: float = 15.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL what is left after ``timeout_s``."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not is_alive(pid) and not group_members(pid):
                return
            time.sleep(0.05)


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = _stat_fields(int(entry.name))
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def wait_until(
    check: Callable[[], bool], *, what: str, timeout_s: float, pid: int | None = None, log: Path | None = None
) -> None:
    """Poll ``check`` until it holds; fail early when ``pid`` died, quoting its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        if pid is not None and not is_alive(pid):
            raise ProcessExitedError(what, _log_tail(log))
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not ready after {timeout_s:.0f} s{_log_tail(log)}")


def _log_tail(log: Path | None, lines: int = 25) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(tail)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants, ``pid`` first."""
    return _tree(pid, _children_by_parent(_process_table()))


def tree_cpu_s(pids: Iterable[int]) -> dict[int, float]:
    """For each of ``pids``: user + system CPU seconds so far of it and its live descendants.

    One read of /proc serves all of them (each process's stat is read once).
    """
    table = _process_table()
    children = _children_by_parent(table)
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    return {
        pid: sum(table[one].cpu_ticks for one in _tree(pid, children) if one in table) / ticks_per_s for pid in pids
    }


def tree_peak_rss_mib(pid: int) -> float:
    """The sum of the peak RSS (VmHWM) of ``pid`` and of each live descendant: at most what they held at once."""
    return sum(peak_rss_mib(one) for one in process_tree(pid))


def peak_rss_mib(pid: int) -> float:
    """The peak RSS (VmHWM) of ``pid`` alone; 0 when it has ended."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0  # ended meanwhile
    return next((int(line.split()[1]) for line in lines if line.startswith("VmHWM:")), 0) / 1024


@dataclass(frozen=True)
class _ProcessStat:
    parent_pid: int
    cpu_ticks: int  # user + system, in clock ticks (SC_CLK_TCK a second)


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (which may hold spaces and parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _process_table() -> dict[int, _ProcessStat]:
    """Every process's parent and CPU ticks, from one pass over /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
            # After the name: state [0], parent [1], user ticks [11], system ticks [12].
            table[int(entry.name)] = _ProcessStat(int(fields[1]), int(fields[11]) + int(fields[12]))
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return table


def _children_by_parent(table: dict[int, _ProcessStat]) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.parent_pid, []).append(pid)
    return children


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        found += frontier
    return found
