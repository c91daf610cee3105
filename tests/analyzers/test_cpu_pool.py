"""Sizing in a worker process gives the analyzer's own answers; a dead worker fails its job, not the next."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kcost.analyzers.cpu_pool import CpuPool, WorkerDiedError
from kcost.analyzers.rightsizing import analyzer as rightsizing
from kcost.analyzers.rightsizing import remembered
from kcost.analyzers.rightsizing.analyzer import ChunkJob, ChunkSized, size_chunk
from kcost.api.v1alpha1.policy import Hysteresis
from kcost.cli import bench_sizing
from kcost.cli.bench_offline import offline_run
from kcost.devcluster import processes


def _die(code: int) -> int:
    os._exit(code)  # a worker killed mid-job (the OOM killer, say)


def _twice(value: int) -> int:
    return 2 * value


def _jobs(mode: bench_sizing.Mode, count: int, chunk: int) -> list[ChunkJob]:
    end = datetime.datetime.fromtimestamp(bench_sizing.END_S, datetime.UTC)
    window = datetime.timedelta(days=bench_sizing.DAYS)
    run = offline_run(mode.settings, end, window, datetime.timedelta(seconds=bench_sizing.STEP_S // 2))
    rates = dataclasses.replace(run.scope.rates, by_node=dict(run.scope.rates.by_node))
    found = list(bench_sizing.workloads(count, seed=3))
    settings_json = run.settings.model_dump_json(by_alias=True)
    return [
        ChunkJob(part, run.settings, settings_json, run.context, run.scope.plan, rates, [Hysteresis()] * len(part))
        for part in (found[first : first + chunk] for first in range(0, count, chunk))
    ]


def _comparable(sized: list[ChunkSized]) -> list[Any]:
    return [
        (
            [
                (
                    None if anomaly is None else anomaly.model_dump(mode="json"),
                    None if proposal is None else (proposal.namespace, proposal.name, proposal.spec_json),
                )
                for anomaly, proposal in one.answers
            ],
            one.skipped,
            one.scope_monthly_cost,
        )
        for one in sized
    ]


@pytest.fixture(scope="module")
def workers() -> Iterator[CpuPool]:
    """Two workers for the module's tests: each starts a Python and imports the analyzer once."""
    pool = CpuPool(2)
    yield pool
    pool.close()


@pytest.mark.parametrize("mode", bench_sizing.MODES, ids=lambda mode: mode.name)
async def test_a_worker_process_sizes_a_chunk_as_the_analyzers_own_thread_does(
    mode: bench_sizing.Mode, workers: CpuPool
) -> None:
    jobs = _jobs(mode, count=60, chunk=25)
    in_thread = [await CpuPool(0).submit(size_chunk, job) for job in jobs]
    in_workers = await asyncio.gather(*(workers.submit(size_chunk, job) for job in jobs))
    assert _comparable(list(in_workers)) == _comparable(in_thread)
    assert sum(proposal is not None for one in in_thread for _, proposal in one.answers) > 5


async def test_a_job_is_copied_when_submitted_so_the_caller_may_drop_its_data_at_once(workers: CpuPool) -> None:
    jobs = _jobs(bench_sizing.MODES[0], count=10, chunk=10)
    expected = await CpuPool(0).submit(size_chunk, jobs[0])
    answer = workers.submit(size_chunk, jobs[0])
    for workload in jobs[0].workloads:
        workload.forget_usage()  # what the analyzer does once it moves to the next namespace
    assert _comparable([await answer]) == _comparable([expected])


async def test_a_chunk_sized_again_with_the_same_usage_is_remembered_in_the_thread_and_in_a_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rightsizing, "REMEMBERED", remembered.Remembered())
    (job,) = _jobs(bench_sizing.MODES[0], count=20, chunk=20)
    containers = sum(len(workload.containers) for workload in job.workloads)
    first, again = [await CpuPool(0).submit(size_chunk, job) for _ in range(2)]
    assert (first.containers, first.remembered, again.remembered) == (containers, 0, containers)
    assert _comparable([again]) == _comparable([first])
    worker = CpuPool(1)  # a process of its own: it remembers what it sized, not what the thread did
    try:
        in_worker = [await worker.submit(size_chunk, job) for _ in range(2)]
    finally:
        worker.close()
    assert [one.remembered for one in in_worker] == [0, containers]
    assert _comparable(in_worker) == _comparable([first, first])


async def test_a_worker_that_dies_fails_its_job_and_the_next_job_gets_a_new_worker() -> None:
    workers = CpuPool(1)
    try:
        with pytest.raises(WorkerDiedError, match="ended while it held a job"):
            await workers.submit(_die, 3)
        assert await workers.submit(_twice, 21) == 42
    finally:
        workers.close()


def test_a_negative_number_of_processes_is_refused() -> None:
    with pytest.raises(ValueError, match="processes: expected 0 or more, got -1"):
        CpuPool(-1)


_PARENT = """
import asyncio, os, sys
from kcost.analyzers.cpu_pool import CpuPool

async def main():
    pool = CpuPool(1)
    print(await pool.submit(_pid, None), flush=True)
    await asyncio.sleep(600)

def _pid(_):
    return os.getpid()

if __name__ == "__main__":
    asyncio.run(main())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_a_worker_ends_with_the_analyzer_even_when_it_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    # Its resource tracker, killed with it, would warn of leaked semaphores on the test's stderr.
    errors = (tmp_path / "stderr").open("w")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), (tmp_path / "stderr").read_text()
        worker = int(line)
        assert worker != parent.pid
        assert processes.is_alive(worker)
        parent.kill()  # SIGKILL: no clean-up of its own runs
        parent.wait()
        processes.wait_until(
            lambda: not processes.is_alive(worker), what="the worker to end with the analyzer", timeout_s=30
        )
    finally:
        parent.kill()
        errors.close()
