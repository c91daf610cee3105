"""Several processes opening one fresh SQLite file at once, as the chart's Pod does at start."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

# Before the schema lock covered SQLite, every such start had some fail with "table … already exists".
PROCESSES = 6

# Each process imports first, then waits for the go file, so that their migrations start together.
OPEN_WHEN_TOLD = """
import asyncio, os, sys, time
from kcost.history.store import HistoryStore

async def main() -> None:
    store = HistoryStore()
    await store.connect(f"sqlite+aiosqlite:///{sys.argv[1]}")
    await store.close()

open(sys.argv[2] + ".ready." + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
asyncio.run(main())
"""


def _open_together(database: Path, go: Path) -> list[subprocess.CompletedProcess[str]]:
    environment = {**os.environ, "PYTHONSAFEPATH": "1"}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, str(database), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(go.parent.glob(f"{go.name}.ready.*"))) < PROCESSES:
        assert time.monotonic() < deadline, "the processes did not get ready to open the database"
        assert all(process.poll() is None for process in started), [p.communicate() for p in started]
        time.sleep(0.05)
    go.touch()
    finished = []
    for process in started:
        out, err = process.communicate(timeout=120)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return finished


def test_processes_migrating_one_new_file_together_all_start(tmp_path: Path) -> None:
    finished = _open_together(tmp_path / "history.db", tmp_path / "go")
    failed = [result.stderr.strip().splitlines()[-1] for result in finished if result.returncode != 0]
    assert not failed, failed
    tables = sqlite3.connect(tmp_path / "history.db").execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert {"alembic_version", "clusters"} <= {name for (name,) in tables}
