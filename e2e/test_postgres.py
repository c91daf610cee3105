"""The throwaway PostgreSQL that history-store tests run against."""

from __future__ import annotations

import asyncpg

from kcost.devcluster import processes
from kcost.devcluster.postgres import ThrowawayPostgres


async def test_postgres_accepts_queries_over_tcp(postgres: ThrowawayPostgres) -> None:
    connection = await asyncpg.connect(postgres.dsn)
    try:
        version = await connection.fetchval("show server_version_num")
        assert int(version) >= 150000
        await connection.execute("create table if not exists probe (id int primary key)")
        await connection.execute("insert into probe values (1) on conflict do nothing")
        assert await connection.fetchval("select count(*) from probe") == 1
    finally:
        await connection.close()
    assert postgres.url.startswith("postgresql+asyncpg://kcost@127.0.0.1:")


def test_stop_removes_the_server_and_its_files() -> None:
    server = ThrowawayPostgres().start()
    pid, root = server.pid, server.root
    assert pid is not None
    assert (root / "data" / "PG_VERSION").exists()
    server.stop()
    assert not processes.is_alive(pid)
    assert not root.exists()
    assert processes.port_is_free(server.port)
