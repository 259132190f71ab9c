"""The usage-log rollups the dashboard reads: kept by the writer, filled by the migration, and
equal to the totals of the rows themselves; the request log's cursor pages."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from switchyard.observability import rollup
from switchyard.observability.usage_log import (
    COLUMNS,
    MIGRATIONS,
    USAGE_DB,
    UsageLog,
    UsageRecord,
    _insert,
    _row,
)
from switchyard.store._sqlite import migrate
from switchyard.ui import queries

NOW = time.time()


def records(n: int) -> list[UsageRecord]:
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
        for i in range(n)
    ]


def direct_totals(path: Path) -> dict[str, tuple]:
    with sqlite3.connect(path) as conn:
        return {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT model_served, COUNT(*), SUM(output_tokens), TOTAL(cost) FROM requests GROUP BY 1"
            )
        }


def test_rollups_written_with_the_rows_equal_the_rows_totals(tmp_path: Path) -> None:
    async def write() -> None:
        async with UsageLog(tmp_path, flush_interval=0.05) as log:
            for rec in records(120):
                log.record(rec)
            await log.flush()

    asyncio.run(write())
    expected = direct_totals(tmp_path / USAGE_DB)
    usage = {
        r["group"]: (r["requests"], r["output_tokens"], r["cost"]) for r in queries.usage(tmp_path, "24h", "model")
    }
    assert set(usage) == set(expected)
    for model, (count, tokens, cost) in expected.items():
        assert usage[model][:2] == (count, tokens) and usage[model][2] == pytest.approx(cost)
    overview = queries.overview(tmp_path, "1h", NOW + 60)
    assert overview["totals"]["requests"] == 120 and overview["totals"]["errors"] == 12
    assert 100 <= overview["totals"]["p50"] <= 1500


def test_migration_fills_the_rollups_from_rows_already_logged(tmp_path: Path) -> None:
    path = tmp_path / USAGE_DB
    conn = sqlite3.connect(path, isolation_level=None)
    before = MIGRATIONS.index(rollup.MIGRATION) - 1  # a log written before the dashboard
    migrate(conn, MIGRATIONS[:before], USAGE_DB)
    columns = ", ".join(COLUMNS[:-1])  # without attempt_log: not there yet
    rows = [_row(r)[:-1] for r in records(30)]
    conn.executemany(f"INSERT INTO requests ({columns}) VALUES ({', '.join('?' * len(rows[0]))})", rows)
    migrate(conn, MIGRATIONS, USAGE_DB)
    conn.close()
    totals = queries.usage(tmp_path, "24h", "provider")
    assert sum(r["requests"] for r in totals) == 30
    assert queries.overview(tmp_path, "1h", NOW + 60)["totals"]["requests"] == 30


def test_request_log_pages_with_a_cursor(tmp_path: Path) -> None:
    path = tmp_path / USAGE_DB
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS, USAGE_DB)
    _insert(conn, [_row(r) for r in records(queries.PAGE_SIZE + 20)])
    conn.close()
    first = queries.requests_page(tmp_path, {"range": "1h"})
    assert len(first["data"]) == queries.PAGE_SIZE and first["next"] is not None
    second = queries.requests_page(tmp_path, {"range": "1h", "before": repr(first["next"])})
    assert len(second["data"]) == 20 and second["next"] is None
    seen = [r["request_id"] for r in first["data"] + second["data"]]
    assert len(set(seen)) == queries.PAGE_SIZE + 20
    assert [r["ts"] for r in first["data"]] == sorted((r["ts"] for r in first["data"]), reverse=True)
