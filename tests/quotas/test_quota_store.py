"""The quota store's rules, the same for its three backends: memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from redis_support import REDIS_URL, fresh_prefix
from switchyard.quotas.redis_store import RedisQuotaStore
from switchyard.quotas.store import Block, Bucket, MemoryQuotaStore, QuotaStore, SqliteQuotaStore
from switchyard.store.redis import connect

FIVE = Bucket("p|k1|r5", 60.0, 0.0, 5, None)
TOKENS = Bucket("p|k1|t", 60.0, 0.0, None, 100)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


Opener = Callable[[], QuotaStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    """Makes a store of the backend; every store made shares the backend's state (a reopen)."""
    if request.param == "memory":
        shared = MemoryQuotaStore()
        yield lambda: shared
    elif request.param == "sqlite":
        yield lambda: SqliteQuotaStore(tmp_path / "quotas.db")
    else:
        with fresh_prefix() as prefix:
            yield lambda: RedisQuotaStore(connect(REDIS_URL), prefix)


@pytest.fixture
def T() -> float:
    """A base time near now (Redis expires keys by the real clock)."""
    return float(int(time.time()))


async def _open(opener: Opener, now: float) -> QuotaStore:
    store = opener()
    await store.load(now)
    return store


def test_take_counts_until_the_limit_then_refuses(opener: Opener, T: float) -> None:
    async def go() -> None:
        store = await _open(opener, T)
        results = [await store.take([FIVE], [], T + i) for i in range(6)]
        assert [r.ok for r in results] == [True] * 5 + [False]
        assert [r.windows[0].requests for r in results] == [1, 2, 3, 4, 5, 5]
        assert (results[0].windows[0].start, results[0].windows[0].end) == (T, T + 60)  # from first use
        # the window ends: a new one starts at the next request
        after = await store.take([FIVE], [], T + 60)
        assert after.ok and (after.windows[0].start, after.windows[0].requests) == (T + 60, 1)
        await store.close()

    run(go())


def test_take_is_all_or_nothing_across_buckets(opener: Opener, T: float) -> None:
    async def go() -> None:
        anchored = Bucket("p|k1|day", 86400.0, T + 4000, 2, None)
        store = await _open(opener, T)
        assert (await store.take([anchored], [], T)).ok
        assert (await store.take([anchored], [], T + 1)).ok
        refused = await store.take([FIVE, anchored], [], T + 2)
        assert not refused.ok and refused.windows[1].end == T + 4000  # the anchored end, as given
        assert (await store.take([FIVE], [], T + 3)).windows[0].requests == 1  # FIVE was not counted
        await store.close()

    run(go())


def test_tokens_fill_a_window(opener: Opener, T: float) -> None:
    async def go() -> None:
        store = await _open(opener, T)
        assert (await store.take([TOKENS], [], T)).ok
        await store.add_tokens([TOKENS], 100, T + 1)
        refused = await store.take([TOKENS], [], T + 2)
        assert not refused.ok and refused.windows[0].tokens == 100
        await store.close()

    run(go())


def test_a_block_in_force_refuses_and_is_returned(opener: Opener, T: float) -> None:
    async def go() -> None:
        store = await _open(opener, T)
        await store.put_block("p|k1|m|learned", Block(T + 1000, "upstream: 0 requests left", 60))
        refused = await store.take([FIVE], ["p|k1|m|learned", "p|k1|m|spent"], T)
        assert not refused.ok and refused.blocks == {"p|k1|m|learned": Block(T + 1000, "upstream: 0 requests left", 60)}
        await store.drop_blocks(["p|k1|m|learned"])
        assert (await store.take([FIVE], ["p|k1|m|learned"], T + 1)).ok
        await store.close()

    run(go())


def test_state_is_there_after_a_reopen(opener: Opener, T: float) -> None:
    async def go() -> None:
        now = T
        store = await _open(opener, now)
        for _ in range(3):
            await store.take([FIVE], [], now)
        await store.put_block("p|k2|m|spent", Block(now + 50, "spent for this cycle (fair cycle)"))
        await store.put_block("p|k3|m|learned", Block(now + 1, "gone by then"))
        await store.close()
        again = opener()
        windows, blocks = await again.load(now + 10)
        assert windows["p|k1|r5"].requests == 3 and windows["p|k1|r5"].end == now + 60
        assert blocks == {"p|k2|m|spent": Block(now + 50, "spent for this cycle (fair cycle)")}
        await again.close()

    run(go())
