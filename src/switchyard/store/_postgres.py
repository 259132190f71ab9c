"""PostgreSQL for the durable shared records (usage log, governance): connecting and schema versioning.

Several gateway processes (and replicas) share one database. Each component (``usage``,
``governance``) has its own row in ``switchyard_schema``; migration ``i`` (0-based) takes a
component from version ``i`` to ``i + 1``. Migrations run in one transaction under an advisory
lock, so processes starting together migrate once. A database written by a newer Switchyard is
refused, never downgraded.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 60.0  # a statement on a connection that went silent fails rather than hangs
MIGRATION_LOCK = 0x5357_5944  # pg_advisory_xact_lock key: "SWYD"

UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
)
"""What a lost or refused connection raises: the server is (for now) out of reach."""


_FROM_SQLITE = (
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),  # SQLite's integers are 64-bit
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bwindow\b"), '"window"'),  # a reserved word in PostgreSQL
)


def from_sqlite(ddl: str) -> str:
    """A SQLite migration of ours, for PostgreSQL: one table definition for both databases, so a
    column added to one is added to the other."""
    for pattern, replacement in _FROM_SQLITE:
        ddl = pattern.sub(replacement, ddl)
    return ddl


def public_dsn(dsn: str) -> str:
    """``dsn`` without its password, for logs and errors."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


async def migrate(conn: asyncpg.Connection, component: str, migrations: Sequence[str]) -> int:
    """Bring ``component``'s tables to ``len(migrations)``; returns the version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS switchyard_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        version = await conn.fetchval("SELECT version FROM switchyard_schema WHERE component = $1", component)
        if version is None:
            version = 0
            await conn.execute("INSERT INTO switchyard_schema (component, version) VALUES ($1, 0)", component)
        if version > len(migrations):
            raise RuntimeError(
                f"{component} tables: schema version {version} is newer than this Switchyard understands "
                f"({len(migrations)}); upgrade Switchyard or use another database"
            )
        for script in migrations[version:]:
            await conn.execute(script)
        await conn.execute("UPDATE switchyard_schema SET version = $2 WHERE component = $1", component, len(migrations))
    return len(migrations)


async def connect(dsn: str, component: str, migrations: Sequence[str]) -> asyncpg.Connection:
    """One connection to ``dsn`` with ``component``'s schema migrated."""
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
    try:
        await migrate(conn, component, migrations)
    except BaseException:
        conn.terminate()
        raise
    return conn


class PgLink:
    """One connection to ``dsn``, opened (and migrated) on first use and opened again after it was
    lost. Calls are serialised: each runs alone on the connection."""

    def __init__(self, dsn: str, component: str, migrations: Sequence[str]) -> None:
        self.dsn = dsn
        self.where = public_dsn(dsn)
        self._component = component
        self._migrations = migrations
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def run(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``await fn(conn)``; a lost connection is dropped (the next call opens a new one) and its
        error raised. If the awaiting task is cancelled, the call still runs to its end."""
        return await asyncio.shield(self._run(fn))

    async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.where}: store is closed")
            if self._conn is None or self._conn.is_closed():
                self._conn = await connect(self.dsn, self._component, self._migrations)
            try:
                return await fn(self._conn)
            except UNAVAILABLE:
                self._conn.terminate()
                self._conn = None
                raise

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            if self._conn is not None:
                conn, self._conn = self._conn, None
                try:
                    await asyncio.wait_for(conn.close(), CONNECT_TIMEOUT)
                except (*UNAVAILABLE, asyncpg.PostgresError):
                    conn.terminate()
