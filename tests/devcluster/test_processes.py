from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcost.devcluster import processes


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    # A parent that starts a child which ignores SIGTERM: both must be gone after stop.
    script = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']); time.sleep(60)"
    )
    pid = processes.spawn("family", [sys.executable, "-c", script], tmp_path)
    processes.wait_until(lambda: len(processes.group_members(pid)) == 2, what="child", timeout_s=10)
    processes.stop(pid, timeout_s=1)
    assert not processes.is_alive(pid)
    assert processes.group_members(pid) == []


def test_wait_until_reports_a_dead_process_with_its_log(tmp_path: Path) -> None:
    pid = processes.spawn("crasher", [sys.executable, "-c", "print('bad flag --x'); raise SystemExit(3)"], tmp_path)
    with pytest.raises(RuntimeError, match=r"(?s)crasher: the process exited while starting.*bad flag --x"):
        processes.wait_until(lambda: False, what="crasher", timeout_s=10, pid=pid, log=tmp_path / "crasher.log")


def test_wait_until_times_out() -> None:
    with pytest.raises(TimeoutError, match="never: not ready"):
        processes.wait_until(lambda: False, what="never", timeout_s=0.3)


def test_port_is_free_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not processes.port_is_free(sock.getsockname()[1])
    assert processes.port_is_free(processes.free_port())


def test_free_port_is_below_the_ephemeral_range() -> None:
    # Outgoing connections draw their local ports from the ephemeral range; a server port from
    # there can be taken by any client between the check and the server's bind.
    ephemeral_low = int(processes.EPHEMERAL_RANGE_FILE.read_text().split()[0])
    ports = {processes.free_port() for _ in range(20)}
    assert all(processes.SERVER_PORT_FLOOR <= port < ephemeral_low for port in ports)
    assert len(ports) > 1, "ports are drawn at random, so two clusters starting at once rarely meet"
    assert all(processes.port_is_free(port) for port in ports)


def test_a_process_that_lost_its_port_says_so(tmp_path: Path) -> None:
    script = "print('listen tcp 127.0.0.1:4001: bind: address already in use'); raise SystemExit(1)"
    pid = processes.spawn("loser", [sys.executable, "-c", script], tmp_path)
    with pytest.raises(processes.ProcessExitedError) as raised:
        processes.wait_until(lambda: False, what="loser", timeout_s=10, pid=pid, log=tmp_path / "loser.log")
    assert raised.value.port_taken
    other = processes.spawn("other", [sys.executable, "-c", "raise SystemExit(2)"], tmp_path)
    with pytest.raises(processes.ProcessExitedError) as raised:
        processes.wait_until(lambda: False, what="other", timeout_s=10, pid=other, log=tmp_path / "other.log")
    assert not raised.value.port_taken


# A child that holds 64 MiB and has used at least 0.15 CPU s when it writes the file it is given.
_HOLDER = """
import pathlib, sys, time
held = bytearray(64 * 1024 * 1024)
for i in range(len(held) // 4096): held[i * 4096] = 1
while time.process_time() < 0.15: pass
pathlib.Path(sys.argv[1]).write_text("ok")
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[int]:
    """The pid of a child of the test's process that holds memory and has used CPU."""
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ready)])
    try:
        processes.wait_until(ready.exists, what="the child to hold its memory", timeout_s=60, pid=child.pid)
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_process_tree_holds_the_descendants(holder: int) -> None:
    tree = processes.process_tree(os.getpid())
    assert tree[0] == os.getpid()
    assert holder in tree
    assert processes.process_tree(holder) == [holder]


def test_a_process_s_peak_memory_counts_its_children(holder: int) -> None:
    """The analyzer's sizing workers are its children: their memory is the analyzer's."""
    own_mib = processes.tree_peak_rss_mib(holder)
    assert own_mib >= 64
    assert processes.tree_peak_rss_mib(os.getpid()) >= own_mib + 10, "the child's peak is added to its parent's"
    # A process alone: the bench adds each worker's own peak, so a worker's child would not count twice.
    assert processes.peak_rss_mib(os.getpid()) <= processes.tree_peak_rss_mib(os.getpid()) - own_mib


def test_a_process_s_cpu_counts_its_children(holder: int) -> None:
    own = os.times()
    own_s = own.user + own.system
    used_s = processes.tree_cpu_s([os.getpid(), holder])
    assert used_s[holder] >= 0.1  # user + system are each truncated to a clock tick
    half_tick_s = 0.5 / os.sysconf("SC_CLK_TCK")
    assert used_s[os.getpid()] >= own_s + used_s[holder] - half_tick_s, "the child's CPU is added to its parent's"


def test_a_process_that_has_ended_counts_as_nothing() -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert processes.process_tree(ended.pid) == [ended.pid]
    assert processes.tree_cpu_s([ended.pid]) == {ended.pid: 0.0}
    assert processes.tree_peak_rss_mib(ended.pid) == 0.0
    assert processes.peak_rss_mib(ended.pid) == 0.0
