"""How fast the status API answers a page of recommendations and a 30-day cost history.

The server runs in a process of its own (as `kcost api` does) over 10,000 recommendations in
50 namespaces injected into its watch cache, and 30 days of history for those 50 namespaces
in SQLite. The API server's reviews are stood in for by an in-memory answer, and warmed up
first: what is measured is the API with its auth caches warm, as the issue asks.

The machine may be shared: the last column, the server's own CPU time per request, is the
figure that does not depend on what else runs. The load comes from this process, pinned to
other cores than the server's when there are two or more, through plain keep-alive HTTP/1.1
connections (requests encoded once, answers read by Content-Length: the load generator must
cost far less than the server). Two kinds of load:

- closed loop: C clients each send their next request when the last is answered, for D
  seconds, at C = 50 and 200 (throughput at a given concurrency);
- open loop: requests issued on a fixed schedule (200 a second for the page, the issue's
  goal), each one's latency counted from the time it was due, so a slow answer that delays
  the requests behind it shows in their latency too (no coordinated omission). Run
  ``--repeat`` times; the table gives each run and the median.

Usage: python bench/api.py [--seconds 10] [--concurrency 50,200] [--rate 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime
import functools
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from rich.console import Console
from rich.table import Table

from kcost.history.models import DailyCost
from kcost.history.store import HistoryStore
from kcost.statusapi import app
from kcost.statusapi.auth import Access, Attributes, Identity, RateLimiter
from kcost.statusapi.cache import Caches
from kcost.statusapi.costs import HistoryReader
from kcost.statusapi.state import State

RECOMMENDATIONS = 10_000
NAMESPACES = 50
HISTORY_DAYS = 30
TOKEN = "bench"  # noqa: S105 - the stand-in reviews accept this one token
END_DAY = datetime.date(2026, 3, 31)
PAGE = "/api/v1/recommendations?limit=100"
HISTORY = (
    f"/api/v1/costs/history?cluster=bench&from={END_DAY - datetime.timedelta(days=HISTORY_DAYS - 1)}"
    f"&to={END_DAY}&step=day"
)


REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "config" / "samples" / "optimizer_v1alpha1_optimizationrecommendation.yaml"


class AnyoneMayRead:
    """Stands in for the API server's reviews: one known token, allowed everything (cached as real answers are)."""

    async def review_token(self, token: str) -> Identity | None:
        return Identity("bench") if token == TOKEN else None

    async def review_access(self, identity: Identity, attributes: Attributes) -> bool:  # noqa: ARG002
        return True


class NoWrites:
    """The bench only reads."""

    async def create(self, identity: Identity, kind: Any, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def merge_patch(
        self, identity: Identity, kind: Any, name: str, namespace: str | None, patch: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _history(database_url: str) -> HistoryStore:
    store = HistoryStore()
    await store.connect(database_url)
    await store.upsert_daily_costs(
        DailyCost(
            cluster="bench",
            namespace=f"ns-{n:02d}",
            day=END_DAY - datetime.timedelta(days=day),
            cpu_usd=1.0 + n / 10,
            memory_usd=0.5,
            total_usd=1.5 + n / 10,
        )
        for n in range(NAMESPACES)
        for day in range(HISTORY_DAYS)
    )
    return store


def _cores() -> tuple[set[int], set[int]]:
    """The cores for the server and for the load generator: apart when this process may use two or more."""
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[-1]}, set(cores[:-1])) if len(cores) > 1 else (set(cores), set(cores))


def _serve(port: int, database_url: str, cores: set[int]) -> None:
    """The server process, on ``cores``: the app over the injected cache and the history store, until killed."""
    os.sched_setaffinity(0, cores)

    async def main() -> None:
        store = await _history(database_url)
        caches = Caches()
        for cache in caches.kinds.values():
            cache.synced = True
        state = State(
            caches=caches,
            access=Access(AnyoneMayRead()),
            writes=NoWrites(),
            history=HistoryReader(store),
            limiter=RateLimiter(1e9, 1e9),
        )
        sample = yaml.safe_load(SAMPLE.read_text())
        recs = caches.kinds["OptimizationRecommendation"]
        for index in range(RECOMMENDATIONS):
            body = copy.deepcopy(sample)
            body["metadata"] = {"namespace": f"ns-{index % NAMESPACES:02d}", "name": f"rec-{index:05d}"}
            body["spec"]["estimatedMonthlySavings"] = float((index * 7) % 500)
            body["status"] = {"phase": "Proposed"}
            recs.observe("ADDED", body)
        runner = web.AppRunner(app.build(state), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


class Connection:
    """One keep-alive HTTP/1.1 connection sending one prepared GET at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """A connection to the server on ``port``."""
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, request: bytes) -> None:
        """Send ``request`` and read its whole answer; fails unless it is a 200."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        if head[9:12] != b"200":
            raise RuntimeError(f"GET answered {head.decode(errors='replace')}")

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()


async def _closed_loop(port: int, path: str, concurrency: int, seconds: float) -> list[float]:
    """Latencies of ``concurrency`` clients each sending its next request when the last is answered."""
    request, latencies = _request(path), []
    connections = [await Connection.open(port) for _ in range(concurrency)]
    deadline = time.perf_counter() + seconds

    async def client(connection: Connection) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await connection.get(request)
            latencies.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(client(connection) for connection in connections))
    finally:
        for connection in connections:
            connection.close()
    return latencies


async def _open_loop(port: int, path: str, rate_per_s: float, seconds: float) -> list[float]:
    """Latencies of requests due every 1/``rate_per_s`` seconds, each counted from when it was due.

    A request goes out on an idle connection, or a new one when all are busy, so the schedule
    never waits for an answer.
    """
    request, latencies = _request(path), []
    idle: list[Connection] = [await Connection.open(port) for _ in range(8)]
    busy: set[Connection] = set()

    async def one(due: float) -> None:
        connection = idle.pop() if idle else await Connection.open(port)
        busy.add(connection)
        await connection.get(request)
        latencies.append(time.perf_counter() - due)
        busy.discard(connection)
        idle.append(connection)

    tasks = []
    start = time.perf_counter()
    try:
        for index in range(int(rate_per_s * seconds)):
            due = start + index / rate_per_s
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    finally:
        for connection in [*idle, *busy]:
            connection.close()
    return latencies


def _p(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] * 1000 if len(values) > 1 else values[0] * 1000


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) the process has used: what a request costs, whatever else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_up(base: str) -> None:
    async def probe() -> bool:
        try:
            async with aiohttp.ClientSession() as session, session.get(f"{base}/readyz") as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return False

    deadline = time.monotonic() + 120
    while not asyncio.run(probe()):
        if time.monotonic() > deadline:
            raise SystemExit("the status API did not start within 120 s")
        time.sleep(0.2)


Run = tuple[str, str, Callable[[], list[float]]]


def _runs(port: int, options: argparse.Namespace) -> list[Run]:
    """Each closed loop, then the open loop on the page ``--repeat`` times."""
    runs: list[Run] = []
    for name, path in (("page of 100", PAGE), ("30-day history", HISTORY)):
        for concurrency in (int(c) for c in options.concurrency.split(",")):
            closed = functools.partial(_closed_loop, port, path, concurrency, options.seconds)
            runs.append((name, f"{concurrency} clients", functools.partial(asyncio.run, closed())))
    for attempt in range(1, options.repeat + 1):
        opened = functools.partial(_open_loop, port, PAGE, options.rate, options.seconds)
        runs.append(
            ("page of 100", f"{options.rate:g} req/s open #{attempt}", functools.partial(asyncio.run, opened()))
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--concurrency", default="50,200", help="comma-separated client counts")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second of the open loop")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the open loop (the median is reported)")
    options = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server_cores, client_cores = _cores()
    with tempfile.TemporaryDirectory() as work:
        database_url = f"sqlite+aiosqlite:///{Path(work) / 'history.db'}"
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(port, database_url, server_cores), daemon=True
        )
        server.start()
        os.sched_setaffinity(0, client_cores)
        try:
            _wait_until_up(base)
            # Warm the review caches, the sorted order and the rendered answers.
            asyncio.run(_closed_loop(port, PAGE, 4, 1.0))
            asyncio.run(_closed_loop(port, HISTORY, 4, 1.0))
            table = Table(
                title=f"status API: {RECOMMENDATIONS} recommendations, {HISTORY_DAYS} days × {NAMESPACES} namespaces",
                caption=f"server on cores {sorted(server_cores)}, load generator on {sorted(client_cores)}; "
                f"load average before: {Path('/proc/loadavg').read_text().split()[0]}",
            )
            for column in ("request", "load", "requests", "p50 ms", "p99 ms", "req/s", "server CPU ms/req"):
                table.add_column(column, justify="right" if column not in ("request", "load") else "left")
            open_p50s, open_p99s = [], []
            for name, load, run in _runs(port, options):
                started, cpu_before = time.perf_counter(), _cpu_s(server.pid)
                latencies = run()
                elapsed, cpu_used = time.perf_counter() - started, _cpu_s(server.pid) - cpu_before
                p50, p99 = _p(latencies, 0.5), _p(latencies, 0.99)
                if "open" in load:
                    open_p50s.append(p50)
                    open_p99s.append(p99)
                table.add_row(
                    name,
                    load,
                    str(len(latencies)),
                    f"{p50:.1f}",
                    f"{p99:.1f}",
                    f"{len(latencies) / elapsed:.0f}",
                    f"{cpu_used * 1000 / len(latencies):.2f}",
                )
            median = f"{options.rate:g} req/s open, median of {options.repeat}"
            p50, p99 = statistics.median(open_p50s), statistics.median(open_p99s)
            table.add_row("page of 100", median, "", f"{p50:.1f}", f"{p99:.1f}", "", "")
            Console().print(table)
            print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
        finally:
            server.kill()


if __name__ == "__main__":
    main()
