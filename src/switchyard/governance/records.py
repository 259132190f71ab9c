"""Durable governance records: client keys, teams and the spend ledger.

:class:`Records` is the interface; :class:`SqliteRecords` keeps them in ``data_dir/governance.db``
(WAL; safe for several processes on one machine). A key is stored with its SHA-256 hash, never
its secret. The ledger holds the settled spend per (subject, budget window) — nano-dollars and a
request count — written in batches by the governance service. Each batch carries an id, recorded
in ``spend_batches`` in the batch's transaction: a batch retried after a failure that came after
its commit (PostgreSQL: the answer to COMMIT lost with the connection) is found there and skipped,
so no spend is added twice. Ids are kept a week (pruned when a process opens the records).
"""

from __future__ import annotations

import abc
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

from ..store._sqlite import SqliteWorker, transaction
from .model import Budget, ClientKey, Limits, Team

GOVERNANCE_DB = "governance.db"

MIGRATIONS = (
    """
    CREATE TABLE client_keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL
    );
    CREATE TABLE teams (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE spend (
        subject TEXT NOT NULL,
        window TEXT NOT NULL,
        nano INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (subject, window)
    )
    """,
    """
    CREATE TABLE spend_batches (
        id TEXT PRIMARY KEY,
        written_at REAL NOT NULL
    )
    """,
)
BATCH_IDS_KEPT = 7 * 86400
"""Seconds a spend batch's id is kept (a batch is retried within seconds of its first try)."""

SpendRow = tuple[str, str, int, int]
"""(subject, budget window, nano-dollars, requests)"""


def _subject_data(s: ClientKey | Team) -> dict[str, Any]:
    return {
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "budget": s.budget.to_json() if s.budget else None,
        "limits": s.limits.to_json(),
        "metadata": s.metadata,
    }


def key_data(key: ClientKey) -> bytes:
    data = _subject_data(key)
    data.update(
        id=key.id,
        name=key.name,
        hint=key.hint,
        team=key.team,
        models=key.models,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )
    return orjson.dumps(data)


def team_data(team: Team) -> bytes:
    return orjson.dumps({**_subject_data(team), "name": team.name})


def _subject_fields(data: dict[str, Any]) -> dict[str, Any]:
    budget = data.get("budget")
    return {
        "created_at": data["created_at"],
        "updated_at": data.get("updated_at", data["created_at"]),
        "budget": Budget(budget["usd"], budget["window"]) if budget else None,
        "limits": Limits(**(data.get("limits") or {})),
        "metadata": data.get("metadata") or {},
    }


def key_from(hash_: str, raw: bytes | str) -> ClientKey:
    data = orjson.loads(raw)
    return ClientKey(
        **_subject_fields(data),
        id=data["id"],
        name=data["name"],
        hash=hash_,
        hint=data.get("hint", ""),
        team=data.get("team"),
        models=data.get("models"),
        expires_at=data.get("expires_at"),
        revoked_at=data.get("revoked_at"),
    )


def team_from(raw: bytes | str) -> Team:
    data = orjson.loads(raw)
    return Team(**_subject_fields(data), name=data["name"])


class Records(abc.ABC):
    unavailable: tuple[type[BaseException], ...] = ()
    """What a call raises when the records are out of reach for now (a remote database): the
    governance service retries those instead of failing."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def load(self) -> tuple[list[ClientKey], list[Team]]:
        """Every key (revoked ones included) and every team."""

    @abc.abstractmethod
    async def put_key(self, key: ClientKey) -> None:
        """Insert or replace a key (by id)."""

    @abc.abstractmethod
    async def put_team(self, team: Team) -> None: ...

    @abc.abstractmethod
    async def delete_team(self, name: str) -> bool: ...

    @abc.abstractmethod
    async def add_spend(self, rows: list[SpendRow], batch_id: str) -> None:
        """Add settled spend to the ledger (one transaction). A retried batch — same ``batch_id``,
        after a failure that may have come after its commit — is added once."""

    @abc.abstractmethod
    async def spend(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        """(nano-dollars, requests) settled for each (subject, window) asked (absent: not listed)."""


def _load(conn: sqlite3.Connection) -> tuple[list[ClientKey], list[Team]]:
    keys = [key_from(h, d) for h, d in conn.execute("SELECT hash, data FROM client_keys")]
    teams = [team_from(d) for (d,) in conn.execute("SELECT data FROM teams")]
    return keys, teams


def _add_spend(conn: sqlite3.Connection, rows: list[SpendRow], batch_id: str) -> None:
    new = "INSERT INTO spend_batches (id, written_at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING true"
    if conn.execute(new, (batch_id, time.time())).fetchone() is None:
        return  # a retry of a batch already written
    conn.executemany(
        "INSERT INTO spend (subject, window, nano, requests) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (subject, window) DO UPDATE SET nano = nano + excluded.nano, requests = requests + excluded.requests",
        rows,
    )


def _prune(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM spend_batches WHERE written_at < ?", (time.time() - BATCH_IDS_KEPT,))


def _spend(conn: sqlite3.Connection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    out = {}
    for subject, window in pairs:
        row = conn.execute(
            "SELECT nano, requests FROM spend WHERE subject = ? AND window = ?", (subject, window)
        ).fetchone()
        if row is not None:
            out[(subject, window)] = (row[0], row[1])
    return out


class SqliteRecords(Records):
    def __init__(self, data_dir: Path | str, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(data_dir) / GOVERNANCE_DB
        self._db = SqliteWorker(self.path, MIGRATIONS, synchronous=synchronous)

    async def open(self) -> None:
        await self._db.open()
        await self._db.run(transaction, _prune)

    async def close(self) -> None:
        await self._db.close()

    async def load(self) -> tuple[list[ClientKey], list[Team]]:
        return await self._db.run(_load)

    async def put_key(self, key: ClientKey) -> None:
        sql = "INSERT INTO client_keys (id, hash, data) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, data = excluded.data"
        await self._db.run(lambda conn: conn.execute(sql, (key.id, key.hash, key_data(key))))

    async def put_team(self, team: Team) -> None:
        sql = "INSERT INTO teams (name, data) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET data = excluded.data"
        await self._db.run(lambda conn: conn.execute(sql, (team.name, team_data(team))))

    async def delete_team(self, name: str) -> bool:
        cursor = await self._db.run(lambda conn: conn.execute("DELETE FROM teams WHERE name = ?", (name,)))
        return cursor.rowcount > 0

    async def add_spend(self, rows: list[SpendRow], batch_id: str) -> None:
        await self._db.run(transaction, _add_spend, rows, batch_id)

    async def spend(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        return await self._db.run(_spend, pairs)
