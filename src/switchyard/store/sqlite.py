"""SQLite backends: the embedded default (``data_dir/state.db``), surviving restarts and SIGKILL.

Each store owns one connection on one dedicated thread (:class:`~._sqlite.SqliteWorker`); WAL
mode lets other processes read while one writes. Why ``synchronous=NORMAL`` is enough for
"nothing lost on SIGKILL once ``put`` returned" is written down in :mod:`._sqlite`.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ._sqlite import SqliteWorker, transaction
from .base import MAX_LINEAGE, KVStore, ResponseStore, StoredResponse, with_item_ids

STATE_DB = "state.db"

MIGRATIONS = (
    # 1: responses and the bounded key-value table
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        parent_id TEXT,
        created_at REAL NOT NULL,
        body BLOB NOT NULL
    );
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL,
        size INTEGER NOT NULL,
        expires_at REAL,
        touched INTEGER NOT NULL
    );
    CREATE INDEX kv_touched ON kv (touched);
    CREATE INDEX kv_expires ON kv (expires_at) WHERE expires_at IS NOT NULL
    """,
    # 2: item id -> response id (item_reference input items), filled for the responses already kept
    """
    CREATE TABLE response_items (
        item_id TEXT PRIMARY KEY,
        response_id TEXT NOT NULL
    );
    INSERT OR REPLACE INTO response_items (item_id, response_id)
        SELECT json_extract(item.value, '$.id'), responses.id
        FROM responses, json_each(responses.body, '$.input_items') AS item
        WHERE json_extract(item.value, '$.id') IS NOT NULL;
    INSERT OR REPLACE INTO response_items (item_id, response_id)
        SELECT json_extract(item.value, '$.id'), responses.id
        FROM responses, json_each(responses.body, '$.output') AS item
        WHERE json_extract(item.value, '$.id') IS NOT NULL
    """,
)

_LINEAGE_SQL = """
WITH RECURSIVE chain (id, parent_id, body, depth) AS (
    SELECT id, parent_id, body, 0 FROM responses WHERE id = ?
    UNION ALL
    SELECT r.id, r.parent_id, r.body, chain.depth + 1
    FROM responses AS r JOIN chain ON r.id = chain.parent_id
    WHERE chain.depth + 1 < ?
)
SELECT body FROM chain ORDER BY depth DESC
"""


class SqliteResponseStore(ResponseStore):
    """Responses as JSON rows; ``lineage`` is one recursive query."""

    def __init__(self, path: Path | str, *, synchronous: str = "NORMAL") -> None:
        self._db = SqliteWorker(path, MIGRATIONS, synchronous=synchronous)

    @property
    def path(self) -> Path:
        return self._db.path

    async def open(self) -> SqliteResponseStore:
        await self._db.open()
        return self

    async def put(self, record: StoredResponse) -> None:
        rec = with_item_ids(record)
        body = rec.to_json()  # serialised here: a snapshot, and non-JSON fails in the caller
        await self._db.run(transaction, _put, rec.id, rec.previous_response_id, rec.created_at, body, rec.item_ids())

    async def get(self, response_id: str) -> StoredResponse | None:
        return await self._db.run(_get, response_id)

    async def delete(self, response_id: str) -> bool:
        return await self._db.run(_delete, response_id)

    async def lineage(self, response_id: str) -> list[StoredResponse]:
        return await self._db.run(_lineage, response_id)

    async def item_owner(self, item_id: str) -> str | None:
        return await self._db.run(_item_owner, item_id)

    async def close(self) -> None:
        await self._db.close()


def _put(conn: sqlite3.Connection, rid: str, parent: str | None, created: float, body: bytes, items: list[str]) -> None:
    # In one transaction: the row and its item index are there whole or not at all.
    conn.execute(
        "INSERT INTO responses (id, parent_id, created_at, body) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, "
        "created_at = excluded.created_at, body = excluded.body",
        (rid, parent, created, body),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO response_items (item_id, response_id) VALUES (?, ?)", [(i, rid) for i in items]
    )


def _item_owner(conn: sqlite3.Connection, item_id: str) -> str | None:
    row = conn.execute("SELECT response_id FROM response_items WHERE item_id = ?", (item_id,)).fetchone()
    return row[0] if row else None


def _get(conn: sqlite3.Connection, rid: str) -> StoredResponse | None:
    row = conn.execute("SELECT body FROM responses WHERE id = ?", (rid,)).fetchone()
    return StoredResponse.from_json(row[0]) if row else None


def _delete(conn: sqlite3.Connection, rid: str) -> bool:
    return conn.execute("DELETE FROM responses WHERE id = ?", (rid,)).rowcount > 0


def _lineage(conn: sqlite3.Connection, rid: str) -> list[StoredResponse]:
    rows = conn.execute(_LINEAGE_SQL, (rid, MAX_LINEAGE)).fetchall()
    return [StoredResponse.from_json(r[0]) for r in rows]


class SqliteKVStore(KVStore):
    """The bounded key-value store as a table; LRU order is a per-database access counter.

    Expiry uses wall-clock time (entries survive restarts). Bounds are enforced inside the same
    transaction as the write, so several processes sharing the file keep them too.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        default_ttl: float | None = None,
        synchronous: str = "NORMAL",
    ) -> None:
        self._bound(max_entries, max_bytes, default_ttl)
        self._db = SqliteWorker(path, MIGRATIONS, synchronous=synchronous)

    async def open(self) -> SqliteKVStore:
        await self._db.open()
        return self

    async def get(self, key: str) -> bytes | None:
        return await self._db.run(transaction, _kv_get, key, time.time())

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError("KVStore values are bytes")
        ttl = self.default_ttl if ttl is None else ttl
        return await self._db.run(
            transaction, _kv_set, key, bytes(value), ttl, time.time(), self.max_entries, self.max_bytes
        )

    async def delete(self, key: str) -> bool:
        return await self._db.run(transaction, _kv_delete, key, time.time())

    async def close(self) -> None:
        await self._db.close()


def _next_touch(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COALESCE(MAX(touched), 0) + 1 FROM kv").fetchone()[0]


def _purge(conn: sqlite3.Connection, now: float) -> None:
    conn.execute("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))


def _kv_get(conn: sqlite3.Connection, key: str, now: float) -> bytes | None:
    row = conn.execute("SELECT value, expires_at FROM kv WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    if row[1] is not None and row[1] <= now:
        conn.execute("DELETE FROM kv WHERE key = ?", (key,))
        return None
    conn.execute("UPDATE kv SET touched = ? WHERE key = ?", (_next_touch(conn), key))
    return bytes(row[0])


def _kv_set(
    conn: sqlite3.Connection,
    key: str,
    value: bytes,
    ttl: float | None,
    now: float,
    max_entries: int,
    max_bytes: int,
) -> bool:
    _purge(conn, now)
    conn.execute("DELETE FROM kv WHERE key = ?", (key,))
    size = len(key.encode()) + len(value)
    if size > max_bytes:
        return False
    conn.execute(
        "INSERT INTO kv (key, value, size, expires_at, touched) VALUES (?, ?, ?, ?, ?)",
        (key, value, size, now + ttl if ttl is not None else None, _next_touch(conn)),
    )
    count, total = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM kv").fetchone()
    while count > max_entries or total > max_bytes:
        victims = conn.execute("SELECT key, size FROM kv ORDER BY touched LIMIT 64").fetchall()
        for victim, vsize in victims:
            if count <= max_entries and total <= max_bytes:
                break
            conn.execute("DELETE FROM kv WHERE key = ?", (victim,))
            count -= 1
            total -= vsize
    return True


def _kv_delete(conn: sqlite3.Connection, key: str, now: float) -> bool:
    row = conn.execute("SELECT expires_at FROM kv WHERE key = ?", (key,)).fetchone()
    conn.execute("DELETE FROM kv WHERE key = ?", (key,))
    return row is not None and (row[0] is None or row[0] > now)
