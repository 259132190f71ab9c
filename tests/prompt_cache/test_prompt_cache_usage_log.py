"""``cache_origin`` in the usage log, on both sinks: a log written before the column gains it (its
old rows NULL), and each origin is written and read back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from pg_support import fetch_sync
from switchyard.observability import usage_log, usage_pg
from switchyard.observability.usage_log import UsageLog, UsageRecord
from switchyard.store._postgres import PgLink
from switchyard.store._sqlite import migrate

SQL = "SELECT request_id, cache_origin FROM requests ORDER BY id"


def rec(rid: str, origin: str | None) -> UsageRecord:
    return UsageRecord(rid, time.time(), "anthropic", "an", "m", "m", None, 200, cache_origin=origin)


async def _insert_old_row(conn) -> None:
    await conn.execute("INSERT INTO requests (request_id, ts, status) VALUES ('old', 1.0, 200)")


def _old_log(tmp_path: Path, dsn: str | None) -> None:
    """A log with every migration but the last (cache_origin), and one row."""
    if dsn is None:
        conn = sqlite3.connect(tmp_path / usage_log.USAGE_DB, isolation_level=None)
        migrate(conn, usage_log.MIGRATIONS[:-1], usage_log.USAGE_DB)
        conn.execute("INSERT INTO requests (request_id, ts, status) VALUES ('old', 1.0, 200)")
        conn.close()
        return

    async def run() -> None:
        link = PgLink(dsn, usage_pg.COMPONENT, usage_pg.MIGRATIONS[:-1])
        await link.run(_insert_old_row)
        await link.close()

    asyncio.run(run())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_cache_origin_is_migrated_and_written(request, tmp_path, backend):
    dsn = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
    _old_log(tmp_path, dsn)

    async def write() -> None:
        async with UsageLog(tmp_path, dsn=dsn) as log:
            for origin in ("gateway", "client", "none", None):
                log.record(rec(f"r-{origin}", origin))

    asyncio.run(write())
    if dsn is None:
        with sqlite3.connect(tmp_path / usage_log.USAGE_DB) as conn:
            got = conn.execute(SQL).fetchall()
    else:
        got = [tuple(r) for r in fetch_sync(dsn, SQL)]
    assert got == [
        ("old", None),
        ("r-gateway", "gateway"),
        ("r-client", "client"),
        ("r-none", "none"),
        ("r-None", None),
    ]
