"""The governance records on PostgreSQL (``client_keys``, ``teams``, ``spend``): the same tables and
semantics as :class:`~switchyard.governance.records.SqliteRecords`, shared by every gateway
process and replica with the same ``dsn``.

A lost connection is opened again on the next call; an unreachable server raises one of
:data:`~switchyard.store._postgres.UNAVAILABLE` (the governance service retries: the ledger keeps
its failed batches, and until the records are first loaded, requests are refused with retry-after).

A spend batch whose COMMIT was sent but whose answer was lost (the connection died) is retried
with the same id, finds it in ``spend_batches`` and is skipped (see ``records.py``).
"""

from __future__ import annotations

import contextlib
import time

import asyncpg

from ..store._postgres import UNAVAILABLE, PgLink, from_sqlite
from .model import ClientKey, Team
from .records import BATCH_IDS_KEPT, Records, SpendRow, key_data, key_from, team_data, team_from
from .records import MIGRATIONS as SQLITE_MIGRATIONS

COMPONENT = "governance"
NEW_BATCH = "INSERT INTO spend_batches (id, written_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true"
MIGRATIONS = tuple(map(from_sqlite, SQLITE_MIGRATIONS))


async def _prune(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM spend_batches WHERE written_at < $1", time.time() - BATCH_IDS_KEPT)


class PostgresRecords(Records):
    unavailable = UNAVAILABLE

    def __init__(self, dsn: str) -> None:
        self._link = PgLink(dsn, COMPONENT, MIGRATIONS)
        self.where = self._link.where

    async def open(self) -> None:
        """Connect and migrate; an unreachable server is not an error here (the service retries)."""
        with contextlib.suppress(*UNAVAILABLE):
            await self._link.run(_prune)

    async def close(self) -> None:
        await self._link.close()

    async def load(self) -> tuple[list[ClientKey], list[Team]]:
        async def load(conn: asyncpg.Connection) -> tuple[list[ClientKey], list[Team]]:
            keys = [key_from(r["hash"], r["data"]) for r in await conn.fetch("SELECT hash, data FROM client_keys")]
            teams = [team_from(r["data"]) for r in await conn.fetch("SELECT data FROM teams")]
            return keys, teams

        return await self._link.run(load)

    async def put_key(self, key: ClientKey) -> None:
        sql = (
            "INSERT INTO client_keys (id, hash, data) VALUES ($1, $2, $3) "
            "ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, data = excluded.data"
        )
        await self._link.run(lambda conn: conn.execute(sql, key.id, key.hash, key_data(key).decode()))

    async def put_team(self, team: Team) -> None:
        sql = "INSERT INTO teams (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = excluded.data"
        await self._link.run(lambda conn: conn.execute(sql, team.name, team_data(team).decode()))

    async def delete_team(self, name: str) -> bool:
        status = await self._link.run(lambda conn: conn.execute("DELETE FROM teams WHERE name = $1", name))
        return status != "DELETE 0"

    async def add_spend(self, rows: list[SpendRow], batch_id: str) -> None:
        sql = (
            'INSERT INTO spend (subject, "window", nano, requests) VALUES ($1, $2, $3, $4) '
            'ON CONFLICT (subject, "window") DO UPDATE '
            "SET nano = spend.nano + excluded.nano, requests = spend.requests + excluded.requests"
        )

        async def add(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                if await conn.fetchval(NEW_BATCH, batch_id, time.time()):
                    await conn.executemany(sql, rows)

        await self._link.run(add)

    async def spend(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        sql = (
            'SELECT s.subject, s."window", s.nano, s.requests FROM spend s '
            'JOIN unnest($1::text[], $2::text[]) AS q (subject, "window") USING (subject, "window")'
        )
        subjects = [s for s, _ in pairs]
        windows = [w for _, w in pairs]
        rows = await self._link.run(lambda conn: conn.fetch(sql, subjects, windows))
        return {(r["subject"], r["window"]): (r["nano"], r["requests"]) for r in rows}
