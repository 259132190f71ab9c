"""PostgreSQL for the tests: a server on 127.0.0.1:5432, user postgres, trust auth (override with
SWITCHYARD_TEST_PG_URL, a URL of a database the tests may create databases from).

When it is absent, tests that need it FAIL with a message saying so; they never skip. The test
session creates its own database (``switchyard_test_<random>``, dropped at the end) and each test
works in a fresh schema of it (:func:`fresh_schema`: the dsn sets ``search_path``), dropped
afterwards. :class:`TcpProxy` stands between a client and the server so that a test can cut the
connection and refuse new ones: an outage, as the client sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

PG_URL = os.environ.get("SWITCHYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}", query=""))


def with_port(dsn: str, port: int) -> str:
    """``dsn`` pointing at 127.0.0.1:``port`` (through a proxy, or where nothing listens)."""
    parts = urlsplit(dsn)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"))


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def run_sql(url: str, *statements: str) -> None:
    asyncio.run(_admin(url, *statements))


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def fetch_sync(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """:func:`fetch` from synchronous code, even inside a running event loop (on another thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fetch(dsn, sql, *args)).result()


def require_postgres() -> None:
    try:
        run_sql(PG_URL, "SELECT 1")
        return
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    pytest.fail(
        f"these tests need PostgreSQL at {PG_URL} and it is not reachable ({problem}); start it "
        "(pg_ctlcluster --skip-systemctl-redirect 15 main start) or set SWITCHYARD_TEST_PG_URL",
        pytrace=False,
    )


@contextlib.contextmanager
def session_database() -> Iterator[str]:
    """A new database for the session; yields its URL, drops it on exit."""
    require_postgres()
    name = f"switchyard_test_{uuid.uuid4().hex[:12]}"
    run_sql(PG_URL, f"CREATE DATABASE {name}")
    try:
        yield _with_database(PG_URL, name)
    finally:
        run_sql(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def fresh_schema(database_url: str) -> Iterator[str]:
    """A new schema in ``database_url``; yields a dsn whose connections work in it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    run_sql(database_url, f"CREATE SCHEMA {name}")
    try:
        yield f"{database_url}?search_path={name}"
    finally:
        run_sql(database_url, f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    with session_database() as url:
        yield url


@pytest.fixture
def pg_dsn(pg_database: str) -> Iterator[str]:
    """A dsn of a fresh, empty schema in the session's test database."""
    with fresh_schema(pg_database) as dsn:
        yield dsn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to the test server on its own thread; starts down. :meth:`up`
    opens the port; :meth:`down` closes it and cuts every open connection; :meth:`dsn` is a dsn
    through it."""

    def __init__(self) -> None:
        parts = urlsplit(PG_URL)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.port = free_port()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def dsn(self, dsn: str) -> str:
        """``dsn`` (of the test server), reached through this proxy."""
        return with_port(dsn, self.port)

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        self._call(self._down())

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
