"""The usage log on PostgreSQL: the same ``requests`` table as usage.db, shared by every gateway
process that has the same ``dsn``.

A batch is one transaction: its id goes into ``usage_batches``, its rows are COPYed into a
temporary table (created by each session that needs it), inserted from there into ``requests``
and added to the dashboard's rollups (:mod:`.rollup`). A batch whose COMMIT was sent but whose
answer was lost (the connection died) is retried with the same id, finds it there and is skipped:
no row is written or counted twice. Batch ids older than a week are pruned when a process starts.

When the server cannot be reached at start-up the gateway starts anyway (logged as an error):
rows wait in the writer's memory (bounded by ``max_pending``) and are written when it returns.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from ..store._postgres import UNAVAILABLE, PgLink, from_sqlite
from . import rollup
from .usage_log import COLUMNS, UsageSink
from .usage_log import MIGRATIONS as SQLITE_MIGRATIONS

log = logging.getLogger("switchyard.usage")

COMPONENT = "usage"
MIGRATIONS = (
    from_sqlite(SQLITE_MIGRATIONS[0])
    + """;
    CREATE TABLE usage_batches (
        id TEXT PRIMARY KEY,
        written_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )
    """,
    *(rollup.POSTGRES_MIGRATION if m == rollup.MIGRATION else from_sqlite(m) for m in SQLITE_MIGRATIONS[1:]),
)
"""usage.db's migrations (the same ``requests`` table and rollups), plus the ids of the batches written."""

_NAMES = ", ".join(COLUMNS)
_BATCH_TABLE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {rollup.BATCH_TABLE} ON COMMIT DELETE ROWS AS "
    f"SELECT {_NAMES} FROM requests WITH NO DATA"
)
_FROM_BATCH = f"INSERT INTO requests ({_NAMES}) SELECT {_NAMES} FROM {rollup.BATCH_TABLE}"


async def _prune(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM usage_batches WHERE written_at < now() - interval '7 days'")


class PostgresSink(UsageSink):
    def __init__(self, dsn: str) -> None:
        self._link = PgLink(dsn, COMPONENT, MIGRATIONS)
        self.where = self._link.where

    async def open(self) -> None:
        try:
            await self._link.run(_prune)
        except UNAVAILABLE as exc:
            log.error(
                "usage log: PostgreSQL at %s is unreachable (%s: %s); serving anyway, rows wait in memory "
                "and are written when it answers",
                self.where,
                type(exc).__name__,
                exc,
            )

    async def write(self, batch_id: str, rows: list[tuple[Any, ...]]) -> None:
        async def copy(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                new = await conn.fetchval(
                    "INSERT INTO usage_batches (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", batch_id
                )
                if new:
                    await conn.execute(_BATCH_TABLE)
                    await conn.copy_records_to_table(rollup.BATCH_TABLE, records=rows, columns=COLUMNS)
                    await conn.execute(_FROM_BATCH)
                    for statement in rollup.POSTGRES_BATCH:
                        await conn.execute(statement)

        await self._link.run(copy)

    async def close(self) -> None:
        await self._link.close()


def query_postgres(dsn: str, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of one read-only query (for the CLI); [] when the log's tables do not exist yet."""

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return [tuple(row) for row in await conn.fetch(sql, *args)]
        except asyncpg.exceptions.UndefinedTableError:
            return []
        finally:
            await conn.close()

    return asyncio.run(run())
