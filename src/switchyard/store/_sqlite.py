"""One SQLite connection owned by one dedicated thread, and schema versioning.

Every call runs on the worker thread, so the event loop never blocks on disk and the connection
is never shared between threads. Calls are serialised: a caller sees the effects of all calls
that completed before it.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A transaction's COMMIT
appends its frames to the ``-wal`` file with write(2) before it returns; from then on the data
is in the kernel's page cache, which outlives the process, so a SIGKILL (or any crash of the
gateway process) loses nothing that was committed: the next opener replays the WAL. What NORMAL
does not cover is an OS crash or power loss, where the last commits before the next checkpoint
may be lost (never corrupted). ``synchronous="FULL"`` adds an fsync of the WAL per commit to
cover that too, at the price of one fsync per write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SYNCHRONOUS = ("NORMAL", "FULL")


def connect(path: Path | str, synchronous: str = "NORMAL", busy_timeout_ms: int = 10_000) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS}")
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = _wal(conn, busy_timeout_ms / 1000)
    if str(mode).lower() != "wal":
        conn.close()
        raise RuntimeError(f"{path}: could not switch to WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def _wal(conn: sqlite3.Connection, patience: float) -> str:
    """Switch to WAL mode. Several processes creating one database at once can find it locked
    while another makes that switch, without SQLite's busy handler waiting: retry for a while."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(conn: sqlite3.Connection, migrations: Sequence[str], name: str) -> int:
    """Bring the schema to ``len(migrations)``; returns the version. Safe across processes.

    ``schema_version`` holds one row. Migration ``i`` (0-based) takes version ``i`` to ``i + 1``.
    A database written by a newer Switchyard (higher version) is refused, never downgraded.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        if version > len(migrations):
            raise RuntimeError(
                f"{name}: schema version {version} is newer than this Switchyard understands "
                f"({len(migrations)}); upgrade Switchyard or use another data_dir"
            )
        for script in migrations[version:]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = ?", (len(migrations),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(migrations)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class SqliteWorker:
    """Runs functions ``fn(conn, *args)`` on a dedicated thread that owns the connection."""

    def __init__(self, path: Path | str, migrations: Sequence[str], *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self._migrations = migrations
        self._synchronous = synchronous
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sqlite-{self.path.name}")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, self._synchronous)
        try:
            migrate(conn, self._migrations, str(self.path))
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._conn is None:
            self._open()
        assert self._conn is not None
        return fn(self._conn, *args)

    async def open(self) -> None:
        """Open the database and migrate its schema (raises on problems)."""
        await self.run(lambda conn: None)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the worker thread.

        If the awaiting task is cancelled, the call still runs to its end (a write is never cut
        in half); only its result is lost.
        """
        if self._closed:
            raise RuntimeError(f"{self.path}: store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(self._call, fn, args))

    def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the worker thread and wait for it (no event loop needed)."""
        return self._executor.submit(self._call, fn, args).result()

    def _shutdown(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._shutdown)
        self._executor.shutdown(wait=False)


def transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(conn, *args)`` inside BEGIN IMMEDIATE ... COMMIT (rolled back on error)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
