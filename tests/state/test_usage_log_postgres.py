"""The usage log on PostgreSQL: outages (at start and mid-run, through a proxy that closes its port
and cuts every connection) lose and duplicate nothing while the buffer holds; the buffer is bounded;
a batch whose commit is in doubt is written once; the schema is versioned and migrated once."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
import pytest
from test_observability_usage_log import rec

from pg_support import TcpProxy, fetch
from switchyard.cli import usage_command
from switchyard.config import load_config
from switchyard.observability.usage_log import COLUMNS, UsageLog, _row
from switchyard.observability.usage_pg import MIGRATIONS, PostgresSink


@pytest.fixture
def proxy():
    made = TcpProxy()
    yield made
    made.close()


async def _ids(dsn: str) -> list[str]:
    return [r["request_id"] for r in await fetch(dsn, "SELECT request_id FROM requests ORDER BY id")]


async def _until(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def test_postgres_down_at_start_rows_wait_and_are_written_when_it_returns(pg_dsn, proxy, caplog):
    caplog.set_level(logging.ERROR, "switchyard.usage")

    async def main():
        log = await UsageLog("unused", dsn=proxy.dsn(pg_dsn), batch_size=50, flush_interval=0.05).start()
        assert "unreachable" in caplog.text  # started anyway, and said why rows wait
        for i in range(500):
            log.record(rec(f"r{i}"))
        await asyncio.sleep(1.0)
        assert log.written == 0 and log.pending == 500 and log.dropped == 0
        proxy.up()
        assert await _until(lambda: log.written == 500)
        assert await _ids(pg_dsn) == [f"r{i}" for i in range(500)]
        await log.close()

    asyncio.run(main())


def test_outage_mid_run_loses_and_duplicates_nothing(pg_dsn, proxy):
    proxy.up()

    async def main():
        log = await UsageLog("unused", dsn=proxy.dsn(pg_dsn), batch_size=40, flush_interval=0.02).start()

        async def produce() -> None:  # 3000 rows over about 2.4 s
            for i in range(3000):
                log.record(rec(f"r{i}"))
                if i % 25 == 0:
                    await asyncio.sleep(0.02)

        async def outages() -> None:
            for _ in range(3):
                await asyncio.sleep(0.5)
                proxy.down()  # connections cut, the port refuses new ones
                await asyncio.sleep(0.3)
                proxy.up()

        await asyncio.gather(produce(), outages())
        await log.close()
        return log

    log = asyncio.run(main())
    ids = asyncio.run(_ids(pg_dsn))
    assert len(ids) == 3000 == log.written and log.dropped == 0
    assert ids == [f"r{i}" for i in range(3000)]  # none lost, none twice, in order
    assert proxy.connections >= 4  # it connected again after each cut


def test_buffer_is_bounded_during_an_outage(pg_dsn, proxy):
    async def main():
        log = UsageLog("unused", dsn=proxy.dsn(pg_dsn), batch_size=10, flush_interval=0.05, max_pending=100)
        await log.start()
        for i in range(150):
            log.record(rec(f"r{i}"))
        assert log.pending == 100 and log.dropped == 50  # counted and logged, never raised
        proxy.up()
        assert await _until(lambda: log.written == 100)
        await log.close()

    asyncio.run(main())
    assert asyncio.run(_ids(pg_dsn)) == [f"r{i}" for i in range(100)]


def test_close_while_postgres_is_down_returns(pg_dsn, proxy, caplog):
    async def main():
        log = await UsageLog("unused", dsn=proxy.dsn(pg_dsn), flush_interval=0.05).start()
        log.record(rec("r0"))
        started = time.monotonic()
        await log.close()
        return time.monotonic() - started, log

    took, log = asyncio.run(main())
    assert took < 10 and log.pending == 1
    assert "could not be written" in caplog.text


def test_a_batch_retried_after_a_commit_in_doubt_is_written_once(pg_dsn):
    async def main():
        sink = PostgresSink(pg_dsn)
        await sink.open()
        rows = [_row(rec(f"r{i}")) for i in range(30)]
        await sink.write("batch-1", rows)
        await sink.write("batch-1", rows)  # the answer to the first COMMIT was lost: sent again
        await sink.write("batch-2", rows[:5])
        await sink.close()

    asyncio.run(main())
    assert len(asyncio.run(_ids(pg_dsn))) == 35


def test_schema_is_migrated_once_by_processes_starting_together(pg_dsn):
    async def main():
        logs = [UsageLog("unused", dsn=pg_dsn) for _ in range(6)]
        await asyncio.gather(*(log.start() for log in logs))
        for log in logs:
            await log.close()
        return await fetch(pg_dsn, "SELECT component, version FROM switchyard_schema")

    assert [tuple(r) for r in asyncio.run(main())] == [("usage", len(MIGRATIONS))]


def test_a_first_version_schema_gains_the_client_key_columns(pg_dsn):
    async def main():
        conn = await asyncpg.connect(pg_dsn)
        await conn.execute(MIGRATIONS[0])
        await conn.execute("CREATE TABLE switchyard_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        await conn.execute("INSERT INTO switchyard_schema VALUES ('usage', 1)")
        old = [
            c
            for c in COLUMNS
            if c not in ("client_key_id", "client_key_name", "team", "usage_estimated", "attempt_log", "cache_origin")
        ]
        await conn.copy_records_to_table("requests", records=[_row(rec("old"))[: len(old)]], columns=old)
        await conn.close()
        async with UsageLog("unused", dsn=pg_dsn) as log:
            log.record(rec("new", client_key_id="ck_1", client_key_name="ana", team="web"))
        return await fetch(pg_dsn, "SELECT request_id, client_key_name, team FROM requests ORDER BY id")

    assert [tuple(r) for r in asyncio.run(main())] == [("old", None, None), ("new", "ana", "web")]


def test_a_schema_from_a_newer_switchyard_is_refused(pg_dsn):
    async def main():
        async with UsageLog("unused", dsn=pg_dsn):
            pass
        conn = await asyncpg.connect(pg_dsn)
        await conn.execute("UPDATE switchyard_schema SET version = 99 WHERE component = 'usage'")
        await conn.close()
        log = UsageLog("unused", dsn=pg_dsn)
        with pytest.raises(RuntimeError, match="newer than this Switchyard"):
            await log.start()
        await log.close()

    asyncio.run(main())


def test_usage_command_says_when_postgres_is_out_of_reach(tmp_path, capsys):
    config = load_config(write_config(tmp_path, "postgresql://postgres@127.0.0.1:1/nowhere"))
    assert usage_command(config, None, "client", False) == 1
    assert "cannot read the usage log" in capsys.readouterr().err


def write_config(tmp_path, dsn: str):
    path = tmp_path / "switchyard.yaml"
    path.write_text(f'observability: {{usage_log: {{backend: postgres, dsn: "{dsn}"}}}}\n')
    return path
