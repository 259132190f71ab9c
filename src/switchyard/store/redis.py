"""Redis backends (``redis.asyncio``): state shared by many gateway replicas.

Key layout, all under a configurable ``prefix`` (default ``switchyard:``):

- ``{prefix}resp:{id}``: hash ``data`` (record JSON), ``parent`` (previous_response_id or "").
- ``{prefix}item:{item id}``: the id of the record holding that input or output item.
- ``{prefix}kv:v:{key}``: a value, with a native TTL when it has one.
- ``{prefix}kv:lru`` (zset key -> access counter), ``{prefix}kv:exp`` (zset key -> expiry ms),
  ``{prefix}kv:size`` (hash key -> bytes), ``{prefix}kv:bytes`` (total), ``{prefix}kv:clock``.

Multi-step operations (lineage walk, bounded set with eviction) are Lua scripts, so each is
atomic and one round trip, and replicas never race each other's bookkeeping. Scripts take time
from the Redis server (``TIME``), so replicas with skewed clocks agree on expiry. The scripts
touch keys they compute (the chain's parents, eviction victims), which a single Redis or a
replicated primary allows but Redis Cluster does not.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from .base import MAX_LINEAGE, KVStore, ResponseStore, StoredResponse, with_item_ids

DEFAULT_PREFIX = "switchyard:"

_LINEAGE = """
local out = {}
local id = ARGV[2]
local limit = tonumber(ARGV[3])
while id and id ~= '' and #out < limit do
  local r = redis.call('HMGET', ARGV[1] .. id, 'data', 'parent')
  if not r[1] then break end
  out[#out + 1] = r[1]
  id = r[2]
end
return out
"""

# KEYS: lru, exp, size, bytes, clock. ARGV[1]: value-key prefix. Shared by the scripts below.
_KV_COMMON = """
local function drop(k)
  local s = redis.call('HGET', KEYS[3], k)
  if s then
    redis.call('DECRBY', KEYS[4], s)
    redis.call('HDEL', KEYS[3], k)
  end
  redis.call('ZREM', KEYS[1], k)
  redis.call('ZREM', KEYS[2], k)
  return redis.call('DEL', ARGV[1] .. k)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 256)
for _, k in ipairs(expired) do drop(k) end
"""

# ARGV: vprefix, key, value, ttl_ms (0: none), max_entries, max_bytes, size
_KV_SET = (
    _KV_COMMON
    + """
local key = ARGV[2]
local ttl = tonumber(ARGV[4])
local max_entries = tonumber(ARGV[5])
local max_bytes = tonumber(ARGV[6])
local size = tonumber(ARGV[7])
drop(key)
if size > max_bytes then return 0 end
if ttl > 0 then
  redis.call('SET', ARGV[1] .. key, ARGV[3], 'PX', ttl)
  redis.call('ZADD', KEYS[2], now + ttl, key)
else
  redis.call('SET', ARGV[1] .. key, ARGV[3])
end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[5]), key)
redis.call('HSET', KEYS[3], key, size)
redis.call('INCRBY', KEYS[4], size)
while redis.call('ZCARD', KEYS[1]) > max_entries or tonumber(redis.call('GET', KEYS[4]) or '0') > max_bytes do
  local victim = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not victim then break end
  drop(victim)
end
return 1
"""
)

# ARGV: vprefix, key
_KV_GET = (
    _KV_COMMON
    + """
local v = redis.call('GET', ARGV[1] .. ARGV[2])
if not v then
  drop(ARGV[2])
  return false
end
redis.call('ZADD', KEYS[1], 'XX', redis.call('INCR', KEYS[5]), ARGV[2])
return v
"""
)

# ARGV: vprefix, key
_KV_DELETE = _KV_COMMON + "\nreturn drop(ARGV[2])\n"


def connect(url: str, *, max_connections: int = 64, pool_timeout: float = 10.0) -> aioredis.Redis:
    """A client for ``url`` that returns bytes (values are binary).

    Its pool makes callers wait (up to ``pool_timeout`` seconds) for a free connection when all
    ``max_connections`` are busy, instead of failing the request at once.
    """
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=pool_timeout)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() disconnects it


async def ping(client: aioredis.Redis, url: str) -> None:
    """Raise ConnectionError with a clear message when Redis does not answer."""
    try:
        await client.ping()
    except Exception as exc:
        raise ConnectionError(f"Redis at {_safe_url(url)} is not reachable: {exc}") from exc


def _safe_url(url: str) -> str:
    """The URL without its password (``redis://user:secret@host`` -> ``redis://user:***@host``)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}"


class RedisResponseStore(ResponseStore):
    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX, owns_client: bool = False) -> None:
        self._r = client
        self._key = f"{prefix}resp:"
        self._item = f"{prefix}item:"
        self._owns = owns_client
        self._lineage = client.register_script(_LINEAGE)

    async def put(self, record: StoredResponse) -> None:
        rec = with_item_ids(record)
        mapping: dict[str, Any] = {"data": rec.to_json(), "parent": rec.previous_response_id or ""}
        async with self._r.pipeline(transaction=True) as pipe:  # MULTI/EXEC: the record and its index at once
            pipe.hset(self._key + rec.id, mapping=mapping)
            items = {self._item + i: rec.id for i in rec.item_ids()}
            if items:
                pipe.mset(items)
            await pipe.execute()

    async def item_owner(self, item_id: str) -> str | None:
        owner = await self._r.get(self._item + item_id)
        return owner.decode() if owner is not None else None

    async def get(self, response_id: str) -> StoredResponse | None:
        data = await self._r.hget(self._key + response_id, "data")
        return StoredResponse.from_json(data) if data is not None else None

    async def delete(self, response_id: str) -> bool:
        return bool(await self._r.delete(self._key + response_id))

    async def lineage(self, response_id: str) -> list[StoredResponse]:
        blobs = await self._lineage(keys=[], args=[self._key, response_id, MAX_LINEAGE])
        return [StoredResponse.from_json(b) for b in reversed(blobs)]

    async def close(self) -> None:
        if self._owns:
            await self._r.aclose()


class RedisKVStore(KVStore):
    """The bounded key-value store in Redis; bounds hold across all replicas sharing the prefix."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        default_ttl: float | None = None,
        owns_client: bool = False,
    ) -> None:
        self._bound(max_entries, max_bytes, default_ttl)
        self._r = client
        self._owns = owns_client
        base = f"{prefix}kv:"
        self._vprefix = base + "v:"
        self._keys = [base + "lru", base + "exp", base + "size", base + "bytes", base + "clock"]
        self._set = client.register_script(_KV_SET)
        self._get = client.register_script(_KV_GET)
        self._delete = client.register_script(_KV_DELETE)

    async def get(self, key: str) -> bytes | None:
        return await self._get(keys=self._keys, args=[self._vprefix, key])

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError("KVStore values are bytes")
        value = bytes(value)
        ttl = self.default_ttl if ttl is None else ttl
        # A TTL of zero or less expires at once: store nothing (PX needs a positive number).
        if ttl is not None and ttl <= 0:
            await self.delete(key)
            return True
        ttl_ms = max(1, round(ttl * 1000)) if ttl is not None else 0
        size = len(key.encode()) + len(value)
        args = [self._vprefix, key, value, ttl_ms, self.max_entries, self.max_bytes, size]
        return bool(await self._set(keys=self._keys, args=args))

    async def delete(self, key: str) -> bool:
        return bool(await self._delete(keys=self._keys, args=[self._vprefix, key]))

    async def close(self) -> None:
        if self._owns:
            await self._r.aclose()
