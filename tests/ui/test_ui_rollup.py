"""The usage-log rollups the dashboard reads, on either backend (``data_dir/usage.db`` and the
PostgreSQL usage log): kept by the writer, filled by the migration, equal to the totals of the rows
themselves, not counted twice for a retried batch; the request log's cursor pages."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from pg_support import fresh_schema
from switchyard.observability import rollup, usage_pg
from switchyard.observability.usage_log import COLUMNS, MIGRATIONS, USAGE_DB, UsageLog, UsageRecord, _row
from switchyard.store import _postgres, _sqlite
from switchyard.ui import queries
from switchyard.ui.usage_reader import NoLog, PostgresReader, SqliteReader, UsageReader

NOW = time.time()


def records(n: int, start: int = 0) -> list[UsageRecord]:
    return [
        UsageRecord(
            request_id=f"req_{i:04d}",
            ts=NOW - 3000 + i * 20,
            client_protocol="openai_chat",
            provider="p" + str(i % 2),
            model_requested="m" + str(i % 3),
            model_served="m" + str(i % 3),
            key_id="…000" + str(i % 2),
            status=500 if i % 10 == 0 else 200,
            input_tokens=100,
            output_tokens=10 + i,
            cost=0.01 if i % 4 else None,
            ttfb_ms=50.0 + i,
            latency_ms=100.0 + 10 * i,
            overhead_ms=1.0,
            error="server" if i % 10 == 0 else None,
            client_key_id="ck_" + str(i % 5),
            client_key_name="c" + str(i % 5),
            team="t",
        )
        for i in range(start, start + n)
    ]


class Backend:
    """One usage log (``sqlite``: a data_dir; ``postgres``: a fresh schema) with its writer and reader."""

    def __init__(self, data_dir: Path, dsn: str | None) -> None:
        self.data_dir = data_dir
        self.dsn = dsn

    def writer(self) -> UsageLog:
        return UsageLog(self.data_dir, dsn=self.dsn, flush_interval=0.05)

    def reader(self) -> UsageReader:
        return SqliteReader(self.data_dir) if self.dsn is None else PostgresReader(self.dsn)

    def read(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        async def run() -> Any:
            reader = self.reader()
            try:
                return await fn(reader, *args)
            finally:
                await reader.close()

        return asyncio.run(run())

    def write(self, rows: list[UsageRecord]) -> None:
        async def run() -> None:
            async with self.writer() as log:
                for row in rows:
                    log.record(row)

        asyncio.run(run())

    def direct_totals(self) -> dict[str, tuple]:
        """Requests, output tokens and cost per model, summed from the rows themselves."""
        sql = "SELECT model_served, COUNT(*), CAST(SUM(output_tokens) AS BIGINT), SUM(cost) FROM requests GROUP BY 1"
        (rows,) = self.read(lambda reader: reader.fetch((sql, ())))
        return {row[0]: row[1:] for row in rows}

    def log_before_the_rollups(self, rows: list[UsageRecord]) -> None:
        """A log written before the dashboard existed (without the columns added since), holding ``rows``."""
        old = [i for i, c in enumerate(COLUMNS) if c not in ("attempt_log", "cache_origin")]  # not there yet
        columns = [COLUMNS[i] for i in old]
        values = [tuple(_row(r)[i] for i in old) for r in rows]
        if self.dsn is None:
            conn = sqlite3.connect(self.data_dir / USAGE_DB, isolation_level=None)
            _sqlite.migrate(conn, MIGRATIONS[: MIGRATIONS.index(rollup.MIGRATION) - 1], USAGE_DB)
            placeholders = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO requests ({', '.join(columns)}) VALUES ({placeholders})", values)
            conn.close()
            return

        async def run(dsn: str) -> None:
            conn = await asyncpg.connect(dsn)
            before = usage_pg.MIGRATIONS.index(rollup.POSTGRES_MIGRATION) - 1
            await _postgres.migrate(conn, usage_pg.COMPONENT, usage_pg.MIGRATIONS[:before])
            await conn.copy_records_to_table("requests", records=values, columns=columns)
            await conn.close()

        asyncio.run(run(self.dsn))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend(tmp_path, None)
        return
    with fresh_schema(request.getfixturevalue("pg_database")) as dsn:
        yield Backend(tmp_path, dsn)


def assert_usage_equals_the_rows(backend: Backend) -> None:
    expected = backend.direct_totals()
    usage = backend.read(queries.usage, "24h", "model")
    assert {r["group"]: (r["requests"], r["output_tokens"]) for r in usage} == {m: t[:2] for m, t in expected.items()}
    for row in usage:
        assert row["cost"] == pytest.approx(expected[row["group"]][2])


def test_rollups_written_with_the_rows_equal_the_rows_totals(backend: Backend) -> None:
    backend.write(records(120))
    assert_usage_equals_the_rows(backend)
    overview = backend.read(queries.overview, "1h", NOW + 60)
    assert overview["totals"]["requests"] == 120 and overview["totals"]["errors"] == 12
    assert 100 <= overview["totals"]["p50"] <= 1500
    by_day = backend.read(queries.usage, "24h", "day")
    assert sum(r["requests"] for r in by_day) == 120 and all(len(r["group"]) == 10 for r in by_day)


def test_migration_fills_the_rollups_from_rows_already_logged(backend: Backend) -> None:
    backend.log_before_the_rollups(records(30))
    backend.write(records(10, start=30))  # the writer migrates the log, then adds its own rows
    totals = backend.read(queries.usage, "24h", "provider")
    assert sum(r["requests"] for r in totals) == 40
    assert backend.read(queries.overview, "1h", NOW + 60)["totals"]["requests"] == 40
    assert_usage_equals_the_rows(backend)


def test_request_log_pages_with_a_cursor(backend: Backend) -> None:
    backend.write(records(queries.PAGE_SIZE + 20))
    first = backend.read(queries.requests_page, {"range": "1h"})
    assert len(first["data"]) == queries.PAGE_SIZE and first["next"] is not None
    second = backend.read(queries.requests_page, {"range": "1h", "before": repr(first["next"])})
    assert len(second["data"]) == 20 and second["next"] is None
    seen = [r["request_id"] for r in first["data"] + second["data"]]
    assert len(set(seen)) == queries.PAGE_SIZE + 20
    assert [r["ts"] for r in first["data"]] == sorted((r["ts"] for r in first["data"]), reverse=True)
    errors = backend.read(queries.requests_page, {"range": "1h", "status": "500", "model": "m0"})["data"]
    assert errors and all(r["status"] == 500 and r["model_served"] == "m0" for r in errors)
    assert backend.read(queries.request_row, "req_0007")["output_tokens"] == 17


def test_a_retried_batch_is_not_counted_twice_in_the_postgres_rollups(pg_dsn: str, tmp_path: Path) -> None:
    async def main() -> None:
        sink = usage_pg.PostgresSink(pg_dsn)
        await sink.open()
        rows = [_row(r) for r in records(40)]
        await sink.write("batch-1", rows[:30])
        await sink.write("batch-1", rows[:30])  # the answer to the first COMMIT was lost: sent again
        await sink.write("batch-2", rows[30:])
        await sink.close()

    asyncio.run(main())
    backend = Backend(tmp_path, pg_dsn)
    assert backend.read(queries.overview, "1h", NOW + 60)["totals"]["requests"] == 40
    assert_usage_equals_the_rows(backend)


def test_the_dashboard_without_a_usage_log_says_so(backend: Backend) -> None:
    with pytest.raises(NoLog):
        backend.read(queries.usage, "24h", "model")


def test_batches_written_at_once_by_several_processes_are_each_counted_once(pg_dsn: str, tmp_path: Path) -> None:
    """Four writers (connections) at once, adding to the same rollup rows: each counts its own
    batch's rows only, whatever the others commit meanwhile, and none fails."""

    async def main() -> None:
        sinks = [usage_pg.PostgresSink(pg_dsn) for _ in range(4)]
        for sink in sinks:
            await sink.open()
        rows = [_row(r) for r in records(400)]

        async def write(n: int, sink: usage_pg.PostgresSink) -> None:
            for start in range(n * 100, n * 100 + 100, 10):
                await sink.write(
                    f"batch-{start}", rows[start : start + 10][::-1] if n % 2 else rows[start : start + 10]
                )

        await asyncio.gather(*(write(n, sink) for n, sink in enumerate(sinks)))
        for sink in sinks:
            await sink.close()

    asyncio.run(main())
    backend = Backend(tmp_path, pg_dsn)
    assert backend.read(queries.overview, "24h", NOW + 60)["totals"]["requests"] == 400
    assert_usage_equals_the_rows(backend)
