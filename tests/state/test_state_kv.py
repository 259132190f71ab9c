"""The KVStore contract (bounded by entries and bytes, TTL, LRU), run against every backend."""

from __future__ import annotations

import asyncio

import pytest

from switchyard.store import MemoryKVStore


def test_set_get_delete(backend):
    async def main():
        kv = await backend.kv()
        assert await kv.get("a") is None
        assert await kv.set("a", b"1") is True
        assert await kv.get("a") == b"1"
        assert await kv.set("a", b"\x00\xff binary") is True
        assert await kv.get("a") == b"\x00\xff binary"
        assert await kv.delete("a") is True
        assert await kv.delete("a") is False
        assert await kv.get("a") is None
        with pytest.raises(TypeError):
            await kv.set("a", "not bytes")

    backend.run(main)


def test_ttl_expiry(backend):
    async def main():
        kv = await backend.kv()
        await kv.set("short", b"x", ttl=0.3)
        await kv.set("long", b"y", ttl=30)
        await kv.set("forever", b"z")
        assert await kv.get("short") == b"x"
        await asyncio.sleep(0.6)
        assert await kv.get("short") is None
        assert await kv.delete("short") is False
        assert await kv.get("long") == b"y"
        assert await kv.get("forever") == b"z"

    backend.run(main)


def test_default_ttl(backend):
    async def main():
        kv = await backend.kv(default_ttl=0.3)
        await kv.set("a", b"x")
        await kv.set("b", b"y", ttl=30)
        await asyncio.sleep(0.6)
        assert await kv.get("a") is None
        assert await kv.get("b") == b"y"

    backend.run(main)


def test_entry_bound_evicts_least_recently_used(backend):
    async def main():
        kv = await backend.kv(max_entries=3)
        for key in "abc":
            await kv.set(key, b"v")
        assert await kv.get("a") == b"v"  # a is now the most recently used
        await kv.set("d", b"v")
        assert await kv.get("b") is None
        assert [await kv.get(k) for k in "acd"] == [b"v", b"v", b"v"]

    backend.run(main)


def test_byte_bound(backend):
    async def main():
        kv = await backend.kv(max_bytes=100)
        await kv.set("k1", b"x" * 38)  # 40 bytes with its key
        await kv.set("k2", b"x" * 38)
        await kv.set("k3", b"x" * 38)  # 120 > 100: k1 goes
        assert await kv.get("k1") is None
        assert await kv.get("k2") is not None and await kv.get("k3") is not None
        assert await kv.set("k2", b"x" * 99) is False  # alone larger than the bound
        assert await kv.get("k2") is None  # and the old value is gone, not stale
        assert await kv.get("k3") is not None

    backend.run(main)


def test_expired_entries_do_not_hold_a_bound(backend):
    async def main():
        kv = await backend.kv(max_entries=2)
        await kv.set("old", b"v", ttl=0.2)
        await kv.set("keep", b"v")
        await asyncio.sleep(0.4)
        await kv.set("new", b"v")  # the expired entry makes room, "keep" stays
        assert await kv.get("keep") == b"v"
        assert await kv.get("new") == b"v"

    backend.run(main)


def test_concurrent_sets_and_gets(backend):
    async def main():
        kv = await backend.kv(max_entries=1000)

        async def one(i: int) -> None:
            await kv.set(f"key{i}", f"value{i}".encode())
            assert await kv.get(f"key{i}") == f"value{i}".encode()

        await asyncio.gather(*(one(i) for i in range(300)))
        values = await asyncio.gather(*(kv.get(f"key{i}") for i in range(300)))
        assert values == [f"value{i}".encode() for i in range(300)]

    backend.run(main)


def test_concurrent_writers_keep_the_entry_bound(backend):
    async def main():
        kv = await backend.kv(max_entries=50)
        await asyncio.gather(*(kv.set(f"key{i}", b"v") for i in range(300)))
        present = [k for k in range(300) if await kv.get(f"key{k}") is not None]
        assert 0 < len(present) <= 50

    backend.run(main)


def test_memory_kv_with_a_fake_clock():
    now = [0.0]
    kv = MemoryKVStore(max_entries=10, max_bytes=1000, clock=lambda: now[0])

    async def main():
        await kv.set("a", b"1", ttl=5)
        await kv.set("b", b"2", ttl=10)
        now[0] = 5.0
        assert await kv.get("a") is None
        assert await kv.get("b") == b"2"
        assert len(kv) == 1 and kv.bytes == 2
        await kv.set("b", b"22", ttl=1)  # replacing resets the expiry
        now[0] = 9.0
        assert await kv.get("b") is None and len(kv) == 0 and kv.bytes == 0

    asyncio.run(main())
