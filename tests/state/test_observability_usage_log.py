"""The usage log: batching, flush on close (and on SIGTERM), no row lost, query grouping — the
contract on both sinks (SQLite and PostgreSQL, see the ``sink`` fixture)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pg_support import fetch_sync
from switchyard.core.model import Usage
from switchyard.observability import usage_log
from switchyard.observability.usage_log import UsageLog, UsageRecord, format_table, parse_since, query_usage
from switchyard.store._sqlite import migrate


def rec(rid: str, **kw) -> UsageRecord:
    base = {
        "request_id": rid,
        "ts": time.time(),
        "client_protocol": "anthropic",
        "provider": "openai",
        "model_requested": "sonnet",
        "model_served": "gpt-4o",
        "key_id": "sk-...a1b2",
        "status": 200,
    }
    return UsageRecord(**{**base, **kw})


ROWS_SQL = "SELECT request_id, status, input_tokens, cost, client_key_id, client_key_name, team, stream FROM requests ORDER BY id"


def rows(data_dir: Path) -> list[tuple]:
    conn = sqlite3.connect(data_dir / "usage.db")
    try:
        return conn.execute(ROWS_SQL).fetchall()
    finally:
        conn.close()


class Sink:
    """One backend of the usage log: makes logs on it, reads its rows back, queries it."""

    def __init__(self, data_dir: Path, dsn: str | None) -> None:
        self.data_dir = data_dir
        self.dsn = dsn

    def log(self, **kw) -> UsageLog:
        return UsageLog(self.data_dir, dsn=self.dsn, **kw)

    def rows(self) -> list[tuple]:
        if self.dsn is None:
            return rows(self.data_dir)
        return [tuple(r) for r in fetch_sync(self.dsn, ROWS_SQL)]

    def query(self, **kw) -> list[dict]:
        return query_usage(self.data_dir, dsn=self.dsn, **kw)


@pytest.fixture(params=["sqlite", "postgres"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Sink:
    return Sink(tmp_path, request.getfixturevalue("pg_dsn") if request.param == "postgres" else None)


async def _until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


def test_a_full_batch_triggers_a_write(sink):
    async def main():
        log = await sink.log(batch_size=50, flush_interval=30).start()
        for i in range(49):
            log.record(rec(f"r{i}"))
        assert log.pending == 49  # record() only queues
        await asyncio.sleep(0.1)
        assert log.written == 0  # neither a full batch nor the interval yet
        log.record(rec("r49"))
        await _until(lambda: log.written == 50)
        assert log.written == 50 and log.batches == 1 and len(sink.rows()) == 50
        for i in range(50, 120):
            log.record(rec(f"r{i}"))
        await _until(lambda: log.written >= 100)
        assert log.written >= 100
        await log.close()
        assert log.written == 120 and log.pending == 0

    asyncio.run(main())
    assert [r[0] for r in sink.rows()] == [f"r{i}" for i in range(120)]


def test_rows_are_written_after_flush_interval_without_a_full_batch(sink):
    async def main():
        log = await sink.log(batch_size=1000, flush_interval=0.05).start()
        for i in range(5):
            log.record(rec(f"r{i}"))
        await _until(lambda: log.written == 5)
        assert log.written == 5
        assert len(sink.rows()) == 5  # stored before close
        await log.close()

    asyncio.run(main())


def test_close_flushes_everything_pending(sink):
    async def main():
        async with sink.log(batch_size=10_000, flush_interval=60) as log:
            for i in range(37):
                log.record(rec(f"r{i}"))
            assert log.written == 0
        log.record(rec("after-close"))  # dropped and counted, never raised into a request
        assert log.dropped == 1

    asyncio.run(main())
    assert len(sink.rows()) == 37


def test_no_row_lost_under_concurrent_record_calls(sink):
    async def main():
        log = await sink.log(batch_size=64, flush_interval=0.01).start()

        async def client(c: int) -> None:
            for i in range(40):
                log.record(rec(f"c{c}-{i}", input_tokens=i))
                if random.random() < 0.3:
                    await asyncio.sleep(random.random() / 1000)

        await asyncio.gather(*(client(c) for c in range(50)))
        await log.close()
        return log

    log = asyncio.run(main())
    got = sink.rows()
    assert len(got) == 2000 == log.written
    assert {r[0] for r in got} == {f"c{c}-{i}" for c in range(50) for i in range(40)}
    assert log.batches > 1


def test_failed_write_keeps_rows_and_retries(tmp_path, monkeypatch):
    real = usage_log._insert
    calls = {"n": 0}

    def flaky(conn, batch):
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        return real(conn, batch)

    monkeypatch.setattr(usage_log, "_insert", flaky)

    async def main():
        log = await UsageLog(tmp_path, batch_size=5, flush_interval=0.02).start()
        for i in range(5):
            log.record(rec(f"r{i}"))
        await _until(lambda: log.written == 5)
        assert log.written == 5  # retried by the background writer, before close
        await log.close()

    asyncio.run(main())
    assert calls["n"] >= 2
    assert [r[0] for r in rows(tmp_path)] == [f"r{i}" for i in range(5)]


SIGTERM_CHILD = textwrap.dedent(
    """
    import asyncio, signal, sys, time
    from switchyard.observability.usage_log import UsageLog, UsageRecord

    async def main(data_dir):
        log = await UsageLog(data_dir, batch_size=100_000, flush_interval=3600).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # as the server does
        for i in range(500):
            log.record(UsageRecord(f"r{i}", time.time(), "openai-chat", "p", "m", "m", None, 200))
        print("recorded", flush=True)
        await stop.wait()
        await log.close()

    asyncio.run(main(sys.argv[1]))
    """
)


def test_graceful_shutdown_on_sigterm_loses_nothing(tmp_path):
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "recorded"
        assert len(rows(tmp_path)) == 0  # nothing written yet: all 500 rows are pending in memory
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert len(rows(tmp_path)) == 500


def _seed(sink: Sink, now: float) -> None:
    day = 86400
    records = [
        rec("a", ts=now - 10, provider="openai", model_served="gpt-4o", key_id="k1", input_tokens=100, output_tokens=10, cost=0.5, latency_ms=100),
        rec("b", ts=now - 20, provider="openai", model_served="gpt-4o", key_id="k2", input_tokens=50, cache_read_tokens=5, output_tokens=5, reasoning_tokens=2, cost=0.25, latency_ms=300),
        rec("c", ts=now - day - 10, provider="anthropic", model_served="claude-sonnet-4-5", key_id="k9", input_tokens=10, output_tokens=1, cost=None),
        rec("d", ts=now - 3 * day, provider="anthropic", model_served=None, model_requested="claude-x", key_id=None, status=502, error="upstream_error"),
        rec("e", ts=now - 30, provider="gemini", model_served="gemini-2.5-pro", key_id="g1", status=200, error="in_band_error", input_tokens=1, cost=0.001),
    ]  # fmt: skip

    async def main():
        async with sink.log() as log:
            for r in records:
                log.record(r)

    asyncio.run(main())


def test_query_totals_and_grouping(sink):
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    _seed(sink, now)
    query_usage = sink.query

    (total,) = query_usage()
    assert total["group"] == "total" and total["requests"] == 5 and total["errors"] == 2
    assert total["input_tokens"] == 161 and total["cache_read_tokens"] == 5 and total["reasoning_tokens"] == 2
    assert total["cost"] == pytest.approx(0.751) and total["unpriced"] == 1

    by_model = {r["group"]: r for r in query_usage(by="model")}
    assert set(by_model) == {"gpt-4o", "claude-sonnet-4-5", "claude-x", "gemini-2.5-pro"}
    assert by_model["gpt-4o"]["requests"] == 2 and by_model["gpt-4o"]["cost"] == pytest.approx(0.75)
    assert by_model["gpt-4o"]["avg_latency_ms"] == pytest.approx(200)
    assert by_model["claude-sonnet-4-5"]["cost"] is None  # unknown stays unknown, never 0
    assert by_model["claude-x"]["unpriced"] == 0  # no tokens used: nothing to price

    by_provider = query_usage(by="provider")
    assert by_provider[0]["group"] == "openai"  # dearest first
    assert {r["group"]: r["requests"] for r in by_provider} == {"openai": 2, "anthropic": 2, "gemini": 1}

    by_key = {r["group"]: r["requests"] for r in query_usage(by="key")}
    assert by_key == {"openai k1": 1, "openai k2": 1, "anthropic k9": 1, "anthropic -": 1, "gemini g1": 1}

    by_day = query_usage(by="day")
    assert [(r["group"], r["requests"]) for r in by_day] == [("2027-01-12", 1), ("2027-01-14", 1), ("2027-01-15", 3)]

    recent = query_usage(since=now - 3600, by="model")
    assert {r["group"] for r in recent} == {"gpt-4o", "gemini-2.5-pro"}
    assert query_usage(since=now + 1) == []
    with pytest.raises(ValueError):
        query_usage(by="color")


def test_query_without_a_log_is_empty(tmp_path, pg_dsn):
    assert query_usage(tmp_path) == []
    assert not (tmp_path / "usage.db").exists()
    assert query_usage(tmp_path, dsn=pg_dsn) == []  # no tables in that schema yet
    assert format_table([]) == "no requests logged in this period"


def test_format_table(sink):
    now = time.time()
    _seed(sink, now)
    text = format_table(sink.query(by="model"), by="model")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "REQUESTS", "ERRORS"]
    assert "COST (USD)" in lines[0] and "UNPRICED" in lines[0]
    assert any(line.startswith("gpt-4o") and "$0.7500" in line for line in lines)
    assert any(line.startswith("claude-sonnet-4-5") and "unknown" in line for line in lines)
    total = next(line for line in lines if line.startswith("total"))
    assert "$0.7510" in total and " 5 " in total
    assert len({len(line) for line in lines[:3]}) == 1  # aligned columns


def test_client_key_columns_are_written_and_grouped(sink):
    async def main():
        async with sink.log() as log:
            log.record(rec("a", client_key_id="ck_1", client_key_name="ana", team="web", cost=0.5))
            log.record(rec("b", client_key_id="ck_1", client_key_name="ana", team="web", cost=0.25, stream=True))
            log.record(rec("c", client_key_id="ck_2", client_key_name="ci", cost=0.125))
            log.record(rec("d"))

    asyncio.run(main())
    assert [r[4:] for r in sink.rows()] == [("ck_1", "ana", "web", 0), ("ck_1", "ana", "web", 1), ("ck_2", "ci", None, 0), (None, None, None, 0)]  # fmt: skip
    by_client = {r["group"]: (r["requests"], r["cost"]) for r in sink.query(by="client")}
    assert by_client == {"ana (ck_1)": (2, 0.75), "ci (ck_2)": (1, 0.125), "-": (1, None)}
    assert {r["group"]: r["requests"] for r in sink.query(by="team")} == {"web": 2, "-": 2}


def test_set_usage_copies_the_buckets():
    r = rec("x").set_usage(
        Usage(input_tokens=3, output_tokens=9, cache_read_tokens=4, cache_write_tokens=5, reasoning_tokens=2)
    )
    assert (r.input_tokens, r.cache_read_tokens, r.cache_write_tokens, r.output_tokens, r.reasoning_tokens) == (
        3,
        4,
        5,
        9,
        2,
    )


def test_parse_since():
    now = 1_000_000.0
    assert parse_since("24h", now) == now - 86400
    assert parse_since("7d", now) == now - 7 * 86400
    assert parse_since("90m", now) == now - 5400
    assert parse_since("2w", now) == now - 14 * 86400
    assert parse_since("2025-06-01") == 1748736000.0  # UTC midnight
    assert parse_since("2025-06-01T02:00:00+02:00") == 1748736000.0
    assert parse_since("2025-06-01T00:00:00Z") == 1748736000.0
    assert parse_since("1748736000") == 1748736000.0
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")


def test_usage_estimated_is_copied_and_migrated(tmp_path):
    """A log written before the usage_estimated column gets it (0 for its old rows)."""
    r = rec("x").set_usage(Usage(input_tokens=3, output_tokens=9, estimated=True))
    assert r.usage_estimated is True
    conn = sqlite3.connect(tmp_path / "usage.db", isolation_level=None)
    migrate(conn, usage_log.MIGRATIONS[:1], "usage.db")
    conn.execute("INSERT INTO requests (request_id, ts, status) VALUES ('old', 1.0, 200)")
    conn.close()

    async def write() -> None:
        async with UsageLog(tmp_path) as log:
            log.record(r)

    asyncio.run(write())
    with sqlite3.connect(tmp_path / "usage.db") as conn:
        got = dict(conn.execute("SELECT request_id, usage_estimated FROM requests").fetchall())
    assert got == {"old": 0, "x": 1}
