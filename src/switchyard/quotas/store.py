"""Quota state: counted windows and blocks, behind one interface with three backends.

- **windows**: per (provider, key fingerprint, rule) — the current window's start and end and the
  requests and tokens counted in it.
- **blocks**: per (provider, key fingerprint, model, kind) — a time before which the key is not
  offered the model: ``learned`` (the upstream said it has nothing left until then) or ``spent``
  (a fair-cycle mark, see :mod:`switchyard.quotas.tracker`).

:meth:`QuotaStore.take` is the one operation that must be atomic: when no block named is in force
and every bucket has room, count one request in each. :class:`MemoryQuotaStore` (one process),
:class:`SqliteQuotaStore` (the same, written behind to ``data_dir/quotas.db`` so the counts
survive a restart) and ``RedisQuotaStore`` (``redis_store.py``: one Lua script, shared by every
process) keep the same rules; the tests run the same cases against each.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..store._sqlite import SqliteWorker, transaction

log = logging.getLogger("switchyard.quotas")

QUOTAS_DB = "quotas.db"
FLUSH_INTERVAL = 0.25
"""Seconds between writes of changed quota state to SQLite (a SIGKILL loses at most this much)."""


@dataclass(slots=True)
class Window:
    start: float
    end: float
    requests: int = 0
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Bucket:
    """One rule's budget for one key, as :meth:`QuotaStore.take` checks it."""

    id: str
    window: float
    end: float
    """The anchored window's end (0.0: the window starts at its first request)."""
    requests: int | None
    tokens: int | None

    def full(self, w: Window) -> bool:
        return (self.requests is not None and w.requests >= self.requests) or (
            self.tokens is not None and w.tokens >= self.tokens
        )

    def current(self, w: Window | None, now: float) -> Window:
        """``w`` if it is still running, else a fresh window starting now (or at the anchor)."""
        if w is not None and w.end > now:
            return w
        end = self.end if self.end > 0 else now + self.window
        return Window(end - self.window, end)


def count_in(windows: dict[str, Window], buckets: Sequence[Bucket], now: float) -> tuple[bool, list[Window]]:
    """Count one request in every bucket of ``windows`` if none is full; (counted, the windows)."""
    current = [b.current(windows.get(b.id), now) for b in buckets]
    ok = not any(b.full(w) for b, w in zip(buckets, current, strict=True))
    if ok:
        for bucket, window in zip(buckets, current, strict=True):
            window.requests += 1
            windows[bucket.id] = window
    return ok, current


@dataclass(slots=True)
class Block:
    until: float
    reason: str
    limit: int | None = None

    def to_json(self) -> bytes:
        return orjson.dumps({"until": self.until, "reason": self.reason, "limit": self.limit})

    @classmethod
    def from_json(cls, raw: bytes | str) -> Block:
        data = orjson.loads(raw)
        return cls(float(data["until"]), str(data["reason"]), data.get("limit"))


@dataclass(slots=True)
class Taken:
    ok: bool
    windows: list[Window]
    """The buckets' windows after the call (counted in when ``ok``)."""
    blocks: dict[str, Block]
    """The blocks named that are in force."""


class QuotaStore(abc.ABC):
    @abc.abstractmethod
    async def load(self, now: float) -> tuple[dict[str, Window], dict[str, Block]]:
        """Every window still running and every block still in force."""

    @abc.abstractmethod
    async def take(self, buckets: Sequence[Bucket], blocks: Sequence[str], now: float) -> Taken:
        """Atomically: when none of ``blocks`` is in force and no bucket is full, count one
        request in every bucket (starting a window where none runs)."""

    @abc.abstractmethod
    async def add_tokens(self, buckets: Sequence[Bucket], tokens: int, now: float) -> None:
        """Add ``tokens`` to the buckets' running windows."""

    def add_tokens_now(self, buckets: Sequence[Bucket], tokens: int, now: float) -> bool:
        """:meth:`add_tokens` at once when the store needs no I/O for it; False: await that instead."""
        return False

    @abc.abstractmethod
    async def put_block(self, name: str, block: Block) -> None: ...

    @abc.abstractmethod
    async def drop_blocks(self, names: Sequence[str]) -> None: ...

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release what the store holds (and write what is pending)."""


class MemoryQuotaStore(QuotaStore):
    """One process's quota state, in dicts."""

    def __init__(self) -> None:
        self.windows: dict[str, Window] = {}
        self.blocks: dict[str, Block] = {}

    async def load(self, now: float) -> tuple[dict[str, Window], dict[str, Block]]:
        windows = {k: w for k, w in self.windows.items() if w.end > now}
        blocks = {k: b for k, b in self.blocks.items() if b.until > now}
        return windows, blocks

    async def take(self, buckets: Sequence[Bucket], blocks: Sequence[str], now: float) -> Taken:
        held = {n: b for n in blocks if (b := self.blocks.get(n)) is not None and b.until > now}
        if held:
            ok, windows = False, [b.current(self.windows.get(b.id), now) for b in buckets]
        else:
            ok, windows = count_in(self.windows, buckets, now)
        if ok:
            for bucket in buckets:
                self._changed(bucket.id)
        return Taken(ok, [Window(w.start, w.end, w.requests, w.tokens) for w in windows], held)

    async def add_tokens(self, buckets: Sequence[Bucket], tokens: int, now: float) -> None:
        self.add_tokens_now(buckets, tokens, now)

    def add_tokens_now(self, buckets: Sequence[Bucket], tokens: int, now: float) -> bool:
        for bucket in buckets:
            window = self.windows.get(bucket.id)
            if window is not None and window.end > now:
                window.tokens += tokens
                self._changed(bucket.id)
        return True

    async def put_block(self, name: str, block: Block) -> None:
        self.blocks[name] = block
        self._changed(name)

    async def drop_blocks(self, names: Sequence[str]) -> None:
        for name in names:
            if self.blocks.pop(name, None) is not None:
                self._changed(name)

    def _changed(self, name: str) -> None:
        """A window or block changed (the SQLite store writes it behind)."""


_MIGRATIONS = (
    """
    CREATE TABLE quota_windows (
        bucket TEXT PRIMARY KEY,
        start REAL NOT NULL,
        end_at REAL NOT NULL,
        requests INTEGER NOT NULL,
        tokens INTEGER NOT NULL
    );
    CREATE TABLE quota_blocks (
        name TEXT PRIMARY KEY,
        until REAL NOT NULL,
        body BLOB NOT NULL
    )
    """,
)


class SqliteQuotaStore(MemoryQuotaStore):
    """The memory store, its changes written behind to SQLite every :data:`FLUSH_INTERVAL` and
    at close; loaded back at start-up. One process owns a data_dir's quota state."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._db = SqliteWorker(path, _MIGRATIONS)
        self._dirty: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None

    async def load(self, now: float) -> tuple[dict[str, Window], dict[str, Block]]:
        windows, blocks = await self._db.run(_read, now)
        self.windows, self.blocks = windows, blocks
        self._flusher = asyncio.get_running_loop().create_task(self._flush_loop(), name="switchyard-quotas")
        return await super().load(now)

    def _changed(self, name: str) -> None:
        self._dirty.add(name)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            if self._dirty:
                try:
                    await self.flush()
                except Exception as exc:
                    log.warning("could not write quota state to %s: %s", self._db.path, exc)

    async def flush(self) -> None:
        names, self._dirty = self._dirty, set()
        windows = [(n, w.start, w.end, w.requests, w.tokens) for n in names if (w := self.windows.get(n)) is not None]
        blocks = [(n, b.until, b.to_json()) for n in names if (b := self.blocks.get(n)) is not None]
        gone = [(n,) for n in names if n not in self.windows and n not in self.blocks]
        await self._db.run(transaction, _write, windows, blocks, gone)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._dirty:
            await self.flush()
        await self._db.close()


def _read(conn: sqlite3.Connection, now: float) -> tuple[dict[str, Window], dict[str, Block]]:
    conn.execute("DELETE FROM quota_windows WHERE end_at <= ?", (now,))
    conn.execute("DELETE FROM quota_blocks WHERE until <= ?", (now,))
    windows = {
        row[0]: Window(row[1], row[2], row[3], row[4])
        for row in conn.execute("SELECT bucket, start, end_at, requests, tokens FROM quota_windows")
    }
    blocks = {row[0]: Block.from_json(row[1]) for row in conn.execute("SELECT name, body FROM quota_blocks")}
    return windows, blocks


def _write(conn: sqlite3.Connection, windows: list[tuple], blocks: list[tuple], gone: list[tuple]) -> None:
    conn.executemany("INSERT OR REPLACE INTO quota_windows VALUES (?, ?, ?, ?, ?)", windows)
    conn.executemany("INSERT OR REPLACE INTO quota_blocks VALUES (?, ?, ?)", blocks)
    conn.executemany("DELETE FROM quota_blocks WHERE name = ?", gone)
