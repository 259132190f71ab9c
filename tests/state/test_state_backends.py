"""open_store, and what is particular to each backend (SQLite files and schema, Redis keys)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
import redis

from switchyard.store import MemoryKVStore, MemoryResponseStore, StoredResponse, open_store
from switchyard.store._sqlite import migrate
from switchyard.store.base import with_item_ids
from switchyard.store.redis import RedisKVStore, RedisResponseStore
from switchyard.store.sqlite import MIGRATIONS, SqliteKVStore, SqliteResponseStore


def rec(rid: str, parent: str | None = None) -> StoredResponse:
    return StoredResponse(id=rid, created_at=1.0, model="m", previous_response_id=parent)


def test_open_store_kinds(tmp_path, redis_url, redis_prefix):
    async def main():
        stores = await open_store("memory")
        assert isinstance(stores.responses, MemoryResponseStore) and isinstance(stores.kv, MemoryKVStore)
        await stores.close()

        stores = await open_store("sqlite", tmp_path)
        assert isinstance(stores.responses, SqliteResponseStore) and isinstance(stores.kv, MemoryKVStore)
        await stores.responses.put(rec("r1"))
        await stores.close()
        assert (tmp_path / "state.db").exists()

        stores = await open_store("sqlite", tmp_path, kv_kind="sqlite", kv_max_entries=2)
        assert isinstance(stores.kv, SqliteKVStore)
        assert (await stores.responses.get("r1")).id == "r1"  # survived the reopen
        await stores.close()

        stores = await open_store("redis", redis_url=redis_url, prefix=redis_prefix, kv_max_bytes=1000)
        assert isinstance(stores.responses, RedisResponseStore) and isinstance(stores.kv, RedisKVStore)
        await stores.responses.put(rec("r1"))
        await stores.kv.set("k", b"v")
        assert await stores.kv.get("k") == b"v"
        await stores.close()

        stores = await open_store("sqlite", tmp_path, redis_url, kv_kind="redis", prefix=redis_prefix)
        assert isinstance(stores.kv, RedisKVStore)
        await stores.close()

    asyncio.run(main())


def test_open_store_errors(tmp_path):
    async def main():
        with pytest.raises(ValueError, match="kind must be one of"):
            await open_store("postgres", tmp_path)
        with pytest.raises(ValueError, match="needs a data_dir"):
            await open_store("sqlite")
        with pytest.raises(ValueError, match="needs a redis_url"):
            await open_store("redis")
        with pytest.raises(ConnectionError, match=r"Redis at redis://user:\*\*\*@127\.0\.0\.1:1/0 is not reachable"):
            await open_store("redis", redis_url="redis://user:hunter2@127.0.0.1:1/0")

    asyncio.run(main())


def test_sqlite_is_wal_with_a_schema_version(tmp_path):
    async def main():
        store = await SqliteResponseStore(tmp_path / "state.db").open()
        await store.put(rec("r1"))
        thread = await store._db.run(lambda conn: threading.get_ident())
        await store.close()
        return thread

    assert asyncio.run(main()) != threading.get_ident()  # the event loop's thread never touches the file
    conn = sqlite3.connect(tmp_path / "state.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS),)]
    conn.close()


def test_sqlite_item_index_is_filled_for_responses_stored_before_it(tmp_path):
    """Migration 2 indexes the items of the responses a version-1 database already holds."""
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    migrate(conn, MIGRATIONS[:1], "old")
    stored = with_item_ids(rec("r_old"))
    conn.execute(
        "INSERT INTO responses (id, parent_id, created_at, body) VALUES (?, NULL, 0, ?)", ("r_old", stored.to_json())
    )
    conn.commit()
    conn.close()

    async def main():
        store = await SqliteResponseStore(path).open()
        try:
            for item in (*stored.input_items, *stored.output):
                assert await store.find_item(item["id"]) == (stored, item)
        finally:
            await store.close()

    asyncio.run(main())


def test_sqlite_refuses_a_newer_schema(tmp_path):
    async def main():
        store = await SqliteResponseStore(tmp_path / "state.db").open()
        await store.close()
        conn = sqlite3.connect(tmp_path / "state.db")
        conn.execute("UPDATE schema_version SET version = 99")
        conn.commit()
        conn.close()
        with pytest.raises(RuntimeError, match="schema version 99 is newer"):
            await SqliteResponseStore(tmp_path / "state.db").open()

    asyncio.run(main())


def test_sqlite_two_processes_worth_of_stores_share_one_file(tmp_path):
    """Two stores on one file (as two gateway workers would) see each other's writes."""

    async def main():
        a = await SqliteResponseStore(tmp_path / "state.db").open()
        b = await SqliteResponseStore(tmp_path / "state.db").open()
        await asyncio.gather(*(a.put(rec(f"a{i}")) for i in range(50)), *(b.put(rec(f"b{i}")) for i in range(50)))
        assert all([await b.get(f"a{i}") for i in range(50)]) and all([await a.get(f"b{i}") for i in range(50)])
        await a.close()
        await b.close()

    asyncio.run(main())


def test_redis_keys_live_under_the_prefix(redis_url, redis_prefix):
    async def main():
        stores = await open_store("redis", redis_url=redis_url, prefix=redis_prefix)
        await stores.responses.put(rec("r1"))
        await stores.kv.set("k", b"v", ttl=60)
        await stores.close()

    asyncio.run(main())
    client = redis.Redis.from_url(redis_url)
    keys = {k.decode() for k in client.scan_iter(match=redis_prefix + "*")}
    assert f"{redis_prefix}resp:r1" in keys and f"{redis_prefix}kv:v:k" in keys
    assert 0 < client.pttl(f"{redis_prefix}kv:v:k") <= 60_000
    assert client.exists("resp:r1") == 0 and client.exists("switchyard:resp:r1") == 0
    client.close()
