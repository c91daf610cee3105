"""`kcost run`'s supervision: one process ending stops the rest and names it; a signal stops all quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kcost.cli.run import _child_env
from kcost.devcluster import processes

WAIT_S = 120.0


def _supervisor(commands: dict[str, list[str]]) -> subprocess.Popen[str]:
    """`supervise(commands)` in a process of its own: it installs signal handlers, which pytest's process keeps."""
    program = f"import json, sys; from kcost.cli.run import supervise; supervise(json.loads({json.dumps(commands)!r}))"
    env = {k: v for k, v in os.environ.items() if k != "KCOST_METRICS_PORT"}
    return subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _sleeper(pid_file: Path) -> list[str]:
    """A long-running process that says it has started by writing its pid."""
    return [
        sys.executable,
        "-c",
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)",
    ]


def _wait_for_pid(pid_file: Path) -> int:
    deadline = time.monotonic() + WAIT_S
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, f"{pid_file} never written: the supervised process did not start"
        time.sleep(0.05)
    return int(pid_file.read_text())


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_S
    while processes.is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_process_that_ends_by_itself_stops_the_others_and_is_named_with_its_code(tmp_path: Path) -> None:
    pid_file = tmp_path / "operator.pid"
    # The failing one waits for the long one to have started, so the test sees the long one stopped.
    failing = f"import os, time\nwhile not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\nraise SystemExit(3)"
    supervisor = _supervisor({"kcost operator": _sleeper(pid_file), "kcost webhook": [sys.executable, "-c", failing]})
    try:
        _, stderr = supervisor.communicate(timeout=WAIT_S)
    finally:
        supervisor.kill()
    assert supervisor.returncode == 1, stderr
    assert "`kcost webhook` exited with code 3; stopped the other processes" in stderr
    assert _wait_gone(_wait_for_pid(pid_file)), "the operator kept running after the webhook ended"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_process_without_an_error(tmp_path: Path, signum: signal.Signals) -> None:
    pid_files = [tmp_path / "operator.pid", tmp_path / "api.pid"]
    supervisor = _supervisor({"kcost operator": _sleeper(pid_files[0]), "kcost api": _sleeper(pid_files[1])})
    try:
        pids = [_wait_for_pid(pid_file) for pid_file in pid_files]
        supervisor.send_signal(signum)
        _, stderr = supervisor.communicate(timeout=WAIT_S)
    finally:
        supervisor.kill()
    assert supervisor.returncode == 0, stderr
    assert "exited with code" not in stderr
    assert all(_wait_gone(pid) for pid in pids)


def test_kcost_run_gives_its_analyzers_a_range_cache_in_the_users_cache_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KCOST_ANALYZER_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _child_env(1)["KCOST_ANALYZER_CACHE_DIR"] == str(tmp_path / "kcost" / "analyzer-ranges")
    monkeypatch.setenv("KCOST_ANALYZER_CACHE_DIR", "")
    assert _child_env(1)["KCOST_ANALYZER_CACHE_DIR"] == "", "set to empty, it stays off"
