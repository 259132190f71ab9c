"""Quota state in Redis, shared by every gateway process (``state.backend: redis``).

A window is a hash ``<prefix>quota:w:<bucket>`` (``start``, ``end``, ``requests``, ``tokens``)
that expires when the window ends; a block is a string ``<prefix>quota:b:<name>`` (its JSON)
that expires at its ``until``. :meth:`RedisQuotaStore.take` is one Lua script: the check of
every block and bucket and the counting happen atomically, so two processes can never both take
a key's last request of a window.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis

from .store import Block, Bucket, QuotaStore, Taken, Window

# KEYS: the block keys (ARGV[2] of them), then one window key per bucket.
# ARGV: now, number of blocks, then per bucket: window seconds, anchored end (0: from first use),
# request limit (0: none), token limit (0: none).
# Returns {1 | 0, JSON [[start, end, requests, tokens] per bucket], JSON [name, block, ...] in force}.
_TAKE = """
local now, nb = tonumber(ARGV[1]), tonumber(ARGV[2])
local held = {}
for i = 1, nb do
  local v = redis.call('GET', KEYS[i])
  if v then held[#held + 1] = KEYS[i]; held[#held + 1] = v end
end
local ok = #held == 0
local out = {}
for j = nb + 1, #KEYS do
  local a = 3 + (j - nb - 1) * 4
  local window, fixed = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local rl, tl = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local w = redis.call('HMGET', KEYS[j], 'start', 'end', 'requests', 'tokens')
  local s, e, r, t = tonumber(w[1]), tonumber(w[2]), tonumber(w[3]) or 0, tonumber(w[4]) or 0
  if not e or e <= now then
    if fixed > 0 then e = fixed else e = now + window end
    s, r, t = e - window, 0, 0
  end
  if (rl > 0 and r >= rl) or (tl > 0 and t >= tl) then ok = false end
  out[#out + 1] = {s, e, r, t}
end
if ok then
  for j = nb + 1, #KEYS do
    local w = out[j - nb]
    w[3] = w[3] + 1
    redis.call('HSET', KEYS[j], 'start', tostring(w[1]), 'end', tostring(w[2]), 'requests', w[3], 'tokens', w[4])
    redis.call('PEXPIREAT', KEYS[j], math.ceil(w[2] * 1000))
  end
end
return {ok and 1 or 0, cjson.encode(out), cjson.encode(held)}
"""

# KEYS: window keys. ARGV: now, tokens. Adds to the windows still running.
_ADD = """
for _, key in ipairs(KEYS) do
  local e = tonumber(redis.call('HGET', key, 'end') or '0')
  if e > tonumber(ARGV[1]) then redis.call('HINCRBY', key, 'tokens', ARGV[2]) end
end
return 1
"""


class RedisQuotaStore(QuotaStore):
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._client = client
        self._windows = prefix + "quota:w:"
        self._blocks = prefix + "quota:b:"
        self._take = client.register_script(_TAKE)
        self._add = client.register_script(_ADD)

    async def load(self, now: float) -> tuple[dict[str, Window], dict[str, Block]]:
        windows: dict[str, Window] = {}
        async for key in self._client.scan_iter(match=self._windows + "*", count=500):
            w = await self._client.hgetall(key)
            if w and float(w[b"end"]) > now:
                windows[key.decode()[len(self._windows) :]] = Window(
                    float(w[b"start"]), float(w[b"end"]), int(w[b"requests"]), int(w[b"tokens"])
                )
        blocks: dict[str, Block] = {}
        async for key in self._client.scan_iter(match=self._blocks + "*", count=500):
            raw = await self._client.get(key)
            if raw:
                block = Block.from_json(raw)
                if block.until > now:
                    blocks[key.decode()[len(self._blocks) :]] = block
        return windows, blocks

    async def take(self, buckets: Sequence[Bucket], blocks: Sequence[str], now: float) -> Taken:
        keys = [self._blocks + n for n in blocks] + [self._windows + b.id for b in buckets]
        args: list[float | int] = [now, len(blocks)]
        for b in buckets:
            args += [b.window, b.end, b.requests or 0, b.tokens or 0]
        ok, windows, held = await self._take(keys=keys, args=args)
        flat = orjson.loads(held)
        # cjson encodes an empty table as an object ({}): no block is in force
        names = flat if isinstance(flat, list) else []
        found = {names[i][len(self._blocks) :]: Block.from_json(names[i + 1]) for i in range(0, len(names), 2)}
        counted = [Window(float(s), float(e), int(r), int(t)) for s, e, r, t in orjson.loads(windows) or []]
        return Taken(bool(ok), counted, found)

    async def add_tokens(self, buckets: Sequence[Bucket], tokens: int, now: float) -> None:
        if buckets and tokens:
            await self._add(keys=[self._windows + b.id for b in buckets], args=[now, tokens])

    async def put_block(self, name: str, block: Block) -> None:
        await self._client.set(self._blocks + name, block.to_json(), pxat=int(block.until * 1000) + 1)

    async def drop_blocks(self, names: Sequence[str]) -> None:
        if names:
            await self._client.delete(*(self._blocks + n for n in names))

    async def close(self) -> None:
        await self._client.aclose()
