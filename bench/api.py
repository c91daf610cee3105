"""How fast the status API answers a page of recommendations and a 30-day cost history.

The server runs in a process of its own (as `kcost api` does) over 10,000 recommendations in
50 namespaces injected into its watch cache, and 30 days of history for those 50 namespaces
in SQLite. The API server's reviews are stood in for by an in-memory answer, and warmed up
first: what is measured is the API with its auth caches warm, as the issue asks.

The machine may be shared: the last column, the server's own CPU time per request, is the
figure that does not depend on what else runs. The load comes from this process: C clients
in a closed loop (each sends its next request when the last one is answered) for D seconds,
at C = 50 and 200; and an open loop of 200 requests a second for the page, where latency is
not inflated by the clients' own queue.

Usage: python bench/api.py [--seconds 10] [--concurrency 50,200]
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


def _serve(port: int, database_url: str) -> None:
    """The server process: the app over the injected cache and the history store, until killed."""

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


async def _closed_loop(url: str, concurrency: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Bearer {TOKEN}"}) as session:

        async def client() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url) as answer:
                    await answer.read()
                    assert answer.status == 200, answer.status
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def _open_loop(url: str, rate_per_s: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector, headers={"Authorization": f"Bearer {TOKEN}"}) as session:

        async def one() -> None:
            started = time.perf_counter()
            async with session.get(url) as answer:
                await answer.read()
                assert answer.status == 200, answer.status
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        for index in range(int(rate_per_s * seconds)):
            await asyncio.sleep(max(0.0, start + index / rate_per_s - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--concurrency", default="50,200", help="comma-separated client counts")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second of the open loop")
    options = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as work:
        database_url = f"sqlite+aiosqlite:///{Path(work) / 'history.db'}"
        server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, database_url), daemon=True)
        server.start()
        try:
            _wait_until_up(base)
            # Warm the review caches and the sorted order.
            asyncio.run(_closed_loop(base + PAGE, 4, 1.0))
            asyncio.run(_closed_loop(base + HISTORY, 4, 1.0))
            table = Table(
                title=f"status API: {RECOMMENDATIONS} recommendations, {HISTORY_DAYS} days × {NAMESPACES} namespaces"
            )
            for column in ("request", "load", "requests", "p50 ms", "p99 ms", "req/s", "server CPU ms/req"):
                table.add_column(column, justify="right" if column not in ("request", "load") else "left")
            runs: list[tuple[str, str, Callable[[], list[float]]]] = []
            for name, path in (("page of 100", PAGE), ("30-day history", HISTORY)):
                for concurrency in (int(c) for c in options.concurrency.split(",")):
                    closed = functools.partial(_closed_loop, base + path, concurrency, options.seconds)
                    runs.append((name, f"{concurrency} clients", functools.partial(asyncio.run, closed())))
            opened = functools.partial(_open_loop, base + PAGE, options.rate, options.seconds)
            runs.append(("page of 100", f"{options.rate:g} req/s open", functools.partial(asyncio.run, opened())))
            for name, load, run in runs:
                started, cpu_before = time.perf_counter(), _cpu_s(server.pid)
                latencies = run()
                elapsed, cpu_used = time.perf_counter() - started, _cpu_s(server.pid) - cpu_before
                table.add_row(
                    name,
                    load,
                    str(len(latencies)),
                    f"{_p(latencies, 0.5):.1f}",
                    f"{_p(latencies, 0.99):.1f}",
                    f"{len(latencies) / elapsed:.0f}",
                    f"{cpu_used * 1000 / len(latencies):.2f}",
                )
            Console().print(table)
        finally:
            server.kill()


if __name__ == "__main__":
    main()
