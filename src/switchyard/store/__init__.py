"""State: the response store and the bounded key-value store, with their backends.

``await open_store("sqlite", data_dir)`` is what the server calls at start-up; it returns both
stores in a :class:`Stores` and ``await stores.close()`` releases them on shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .base import (
    MAX_ITEMS_LIMIT,
    ItemsPage,
    KVStore,
    ResponseStore,
    StoredResponse,
    effective_input,
    input_as_items,
    page_items,
)
from .memory import MemoryKVStore, MemoryResponseStore

Kind = Literal["memory", "sqlite", "redis"]
KINDS = ("memory", "sqlite", "redis")

__all__ = [
    "KINDS",
    "MAX_ITEMS_LIMIT",
    "ItemsPage",
    "KVStore",
    "Kind",
    "MemoryKVStore",
    "MemoryResponseStore",
    "ResponseStore",
    "StoredResponse",
    "Stores",
    "effective_input",
    "input_as_items",
    "open_store",
    "page_items",
]


@dataclass(slots=True)
class Stores:
    responses: ResponseStore
    kv: KVStore

    async def close(self) -> None:
        try:
            await self.responses.close()
        finally:
            await self.kv.close()


async def open_store(
    kind: Kind = "sqlite",
    data_dir: Path | str | None = None,
    redis_url: str | None = None,
    *,
    kv_kind: Kind | None = None,
    prefix: str = "switchyard:",
    kv_max_entries: int = 10_000,
    kv_max_bytes: int = 64 * 1024 * 1024,
    kv_default_ttl: float | None = None,
    synchronous: str = "NORMAL",
) -> Stores:
    """Open the response store of ``kind`` and the key-value store of ``kv_kind``.

    ``kv_kind`` defaults to ``redis`` when ``kind`` is ``redis`` and to ``memory`` otherwise.
    SQLite uses ``data_dir/state.db`` (the directory is created). Redis is pinged at once, so a
    wrong URL fails here with a clear ConnectionError instead of on the first request.
    """
    kv_kind = kv_kind or ("redis" if kind == "redis" else "memory")
    for name, value in (("kind", kind), ("kv_kind", kv_kind)):
        if value not in KINDS:
            raise ValueError(f"{name} must be one of {', '.join(KINDS)}, not {value!r}")
    if "sqlite" in (kind, kv_kind) and data_dir is None:
        raise ValueError("the sqlite store needs a data_dir")
    if "redis" in (kind, kv_kind) and not redis_url:
        raise ValueError("the redis store needs a redis_url")

    client = None
    if "redis" in (kind, kv_kind):
        from . import redis as redis_backend

        assert redis_url is not None
        client = redis_backend.connect(redis_url)
        try:
            await redis_backend.ping(client, redis_url)
        except BaseException:
            await client.aclose()
            raise

    responses: ResponseStore | None = None
    try:
        if kind == "memory":
            responses = MemoryResponseStore()
        elif kind == "sqlite":
            from .sqlite import STATE_DB, SqliteResponseStore

            responses = await SqliteResponseStore(Path(data_dir) / STATE_DB, synchronous=synchronous).open()  # type: ignore[arg-type]
        else:
            from .redis import RedisResponseStore

            responses = RedisResponseStore(client, prefix=prefix, owns_client=kv_kind != "redis")  # type: ignore[arg-type]

        kv: KVStore
        bounds = {"max_entries": kv_max_entries, "max_bytes": kv_max_bytes, "default_ttl": kv_default_ttl}
        if kv_kind == "memory":
            kv = MemoryKVStore(**bounds)
        elif kv_kind == "sqlite":
            from .sqlite import STATE_DB, SqliteKVStore

            kv = await SqliteKVStore(Path(data_dir) / STATE_DB, synchronous=synchronous, **bounds).open()  # type: ignore[arg-type]
        else:
            from .redis import RedisKVStore

            kv = RedisKVStore(client, prefix=prefix, owns_client=True, **bounds)  # type: ignore[arg-type]
    except BaseException:
        if isinstance(responses, ResponseStore) and kind != "redis":
            await responses.close()
        if client is not None:
            await client.aclose()
        raise
    return Stores(responses=responses, kv=kv)
