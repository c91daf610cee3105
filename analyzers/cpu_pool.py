"""CPU-bound work of an analyzer off its event loop: in a thread of its own, or in worker processes.

With ``processes`` = 0 (the default of KCOST_ANALYZER_SIZING_PROCESSES) a job runs in a thread
of the analyzer's process: no more processes or memory, but the thread shares the interpreter
with the loop (Python runs one thread at a time), and sizing 10,000 workloads is most of a
run's CPU. With ``processes`` > 0 jobs go to worker processes, on cores to spare, while the
analyzer's own process reads the next namespaces, decodes answers and writes.

A job for a worker is pickled when it is submitted, not later: the caller may drop or reuse
what it handed over as soon as ``submit`` returns. Workers are fresh interpreters (spawned,
never forked from a process with threads and open connections), started at the first job and
kept: each imports what its jobs need once. A worker that dies (killed for memory, say) fails
the jobs it held with ``WorkerDiedError``, and the next job starts a new pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from kcost.analyzers.memory import release_freed_memory

log = logging.getLogger("kcost.analyzers.cpu_pool")
JobT = TypeVar("JobT")
ResultT = TypeVar("ResultT")
# prctl(2): the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1


class WorkerDiedError(Exception):
    """A worker process ended while it held a job."""


def _end_with(parent_pid: int) -> None:
    """In a new worker: end when the analyzer's process ends, even by SIGKILL (else it lives on, holding memory)."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # it ended before the line above took effect
        os._exit(1)


def _call(fn: Callable[[Any], Any], job: bytes) -> Any:
    """In a worker: the job, then its freed arrays given back (else the worker's RSS keeps every job's holes)."""
    answer = fn(pickle.loads(job))  # noqa: S301 - the analyzer's own process pickled it, a moment ago
    release_freed_memory()
    return answer


class CpuPool:
    """Runs ``fn(job)`` for picklable module-level ``fn`` and ``job``; see the module's docstring."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError(f"processes: expected 0 or more, got {processes}")
        self.processes = processes
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    @property
    def in_flight(self) -> int:
        """Jobs worth keeping submitted beyond the one awaited: each worker busy, and one queued for it."""
        return self.processes

    def submit(self, fn: Callable[[JobT], ResultT], job: JobT) -> asyncio.Future[ResultT]:
        """Start ``fn(job)``; await the answer. Must be called from the event loop."""
        loop = asyncio.get_running_loop()
        if self.processes == 0:
            return asyncio.ensure_future(asyncio.to_thread(fn, job))
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        running = loop.run_in_executor(self._workers(), _call, fn, payload)
        return asyncio.ensure_future(self._answer(running))

    async def _answer(self, running: asyncio.Future[Any]) -> Any:
        try:
            return await running
        except BrokenProcessPool as error:
            self._forget_broken()
            raise WorkerDiedError(f"a worker process ended while it held a job ({error})") from None

    def _workers(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.processes, mp_context=context, initializer=_end_with, initargs=(os.getpid(),)
            )
            log.info("started %d worker process(es) for CPU-bound work", self.processes)
        return self._pool

    def _forget_broken(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the workers (they also exit on their own when this process ends)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
