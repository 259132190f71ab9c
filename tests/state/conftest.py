"""Fixtures for the state tests: one ``backend`` parametrised over memory, sqlite and redis.

Redis tests need a server on 127.0.0.1:6379 (override with SWITCHYARD_TEST_REDIS_URL). When it
is absent they FAIL with a message saying so; they never skip. Each test uses its own key prefix
and deletes every key under it afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redis_support import REDIS_URL, fresh_prefix, require_redis
from switchyard.store import KVStore, MemoryKVStore, MemoryResponseStore, ResponseStore
from switchyard.store.redis import RedisKVStore, RedisResponseStore, connect
from switchyard.store.sqlite import SqliteKVStore, SqliteResponseStore


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL (fails the test when Redis is not reachable)."""
    require_redis().close()
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted after the test."""
    with fresh_prefix() as prefix:
        yield prefix


class Backend:
    """Opens stores of one kind inside the test's event loop and closes them at its end."""

    def __init__(self, kind: str, tmp_path: Path, redis_prefix: str | None) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.prefix = redis_prefix
        self._opened: list[Any] = []

    async def responses(self) -> ResponseStore:
        store: ResponseStore
        if self.kind == "memory":
            store = MemoryResponseStore()
        elif self.kind == "sqlite":
            store = await SqliteResponseStore(self.tmp_path / "state.db").open()
        else:
            store = RedisResponseStore(connect(REDIS_URL), prefix=self.prefix or "", owns_client=True)
        self._opened.append(store)
        return store

    async def kv(self, **bounds: Any) -> KVStore:
        store: KVStore
        if self.kind == "memory":
            store = MemoryKVStore(**bounds)
        elif self.kind == "sqlite":
            store = await SqliteKVStore(self.tmp_path / "state.db", **bounds).open()
        else:
            store = RedisKVStore(connect(REDIS_URL), prefix=self.prefix or "", owns_client=True, **bounds)
        self._opened.append(store)
        return store

    def run(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            try:
                return await fn()
            finally:
                for store in reversed(self._opened):
                    await store.close()
                self._opened.clear()

        return asyncio.run(main())


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    prefix = request.getfixturevalue("redis_prefix") if request.param == "redis" else None
    return Backend(request.param, tmp_path, prefix)
