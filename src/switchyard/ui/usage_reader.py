"""Where the dashboard reads the usage log: ``data_dir/usage.db`` or the PostgreSQL usage log
shared by several gateway processes, as ``observability.usage_log`` configures the writer.

One narrow interface, :class:`UsageReader`: run a few read-only statements (written once, in the
SQL both databases speak, with ``?`` placeholders; ``usage_log.DAY`` spells the one expression
they spell differently) and return their rows as tuples. :mod:`.queries` builds the statements and
shapes the rows. SQLite reads on a worker thread, PostgreSQL natively (asyncpg, a small pool
opened on first use). A log that does not exist yet raises :class:`NoLog`; a PostgreSQL server out
of reach raises :class:`Unreachable`.
"""

from __future__ import annotations

import abc
import asyncio
import re
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg

from ..config import Config
from ..observability.usage_log import USAGE_DB
from ..store._postgres import COMMAND_TIMEOUT, CONNECT_TIMEOUT, UNAVAILABLE, public_dsn

Statement = tuple[str, Sequence[Any]]
Rows = list[tuple[Any, ...]]


class NoLog(Exception):
    """The usage log does not exist (yet, or it is turned off)."""


class Unreachable(Exception):
    """The usage log's PostgreSQL server does not answer."""


class UsageReader(abc.ABC):
    dialect: str
    """``sqlite`` or ``postgres`` (a key of :data:`~switchyard.observability.usage_log.DAY`)."""

    @abc.abstractmethod
    async def fetch(self, *statements: Statement) -> list[Rows]:
        """The rows of each statement, in order (one connection for all of them)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Let go of the connections (idempotent)."""


class SqliteReader(UsageReader):
    """``data_dir/usage.db``, read-only, on a worker thread."""

    dialect = "sqlite"

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / USAGE_DB

    async def fetch(self, *statements: Statement) -> list[Rows]:
        return await asyncio.to_thread(self._fetch, statements)

    async def close(self) -> None:
        """Nothing to let go of: each fetch opens and closes its own connection."""

    def _fetch(self, statements: Sequence[Statement]) -> list[Rows]:
        if not self.path.exists():
            raise NoLog(str(self.path))
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            return [conn.execute(sql, args).fetchall() for sql, args in statements]
        finally:
            conn.close()


@lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """``sql`` with PostgreSQL's placeholders (``$1``, ``$2``…) for ``?`` (none is inside a literal)."""
    count = iter(range(1, sql.count("?") + 1))
    return re.sub(r"\?", lambda _: f"${next(count)}", sql)


class PostgresReader(UsageReader):
    """The PostgreSQL usage log at ``dsn`` (its writer creates and migrates the tables)."""

    dialect = "postgres"

    def __init__(self, dsn: str, max_connections: int = 4) -> None:
        self.dsn = dsn
        self.where = public_dsn(dsn)
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=0, max_size=self._max, timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT
                )
            return self._pool

    async def fetch(self, *statements: Statement) -> list[Rows]:
        try:
            pool = await self._open()
            async with pool.acquire() as conn:
                return [[tuple(r) for r in await conn.fetch(numbered(sql), *args)] for sql, args in statements]
        except asyncpg.exceptions.UndefinedTableError:
            raise NoLog(f"no usage tables in {self.where}") from None
        except UNAVAILABLE as exc:
            raise Unreachable(f"PostgreSQL at {self.where} does not answer ({type(exc).__name__})") from None

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


def open_reader(config: Config) -> UsageReader:
    """The reader of the usage log ``config`` writes to."""
    obs = config.observability
    if obs.usage_backend == "postgres" and obs.usage_dsn is not None:
        return PostgresReader(obs.usage_dsn)
    return SqliteReader(config.server.data_dir)
