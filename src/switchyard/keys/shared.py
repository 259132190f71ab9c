"""Upstream key state shared by every gateway process through Redis.

Each process keeps its own :class:`~switchyard.keys.pool.KeyPool` view, so choosing a key never
waits on Redis. What must be global travels through Redis:

- **runs of transient failures**: each failure is announced, so three in a row across processes
  cool the key as three on one would; an answer ends the run (and its cooldown) everywhere.
- **cooldowns and disabled keys**: when a process cools a key (for a model, or whole) or disables
  it, it writes the state with one Lua script — a cooldown only ever moves later (``max``), so
  concurrent writers cannot shorten one — and publishes it; every process applies what it hears
  to its view at once. A process that starts later loads the current state from Redis.
- **session affinity**: a session pinned to a key on one process is found by the others (one
  Redis read, only for a session the process has not seen yet).
- **requests in flight** on a key with ``max_concurrency``: a slot is taken atomically in Redis
  before the request goes out (one round trip, only for such providers) and given back after;
  slots are leases (``HOLD_TTL``, renewed while the request runs), so a dead process's expire.

Keys are named in Redis by a fingerprint (a 64-bit prefix of the SHA-256 of the key), never by
the key; a replaced key starts clean. Times cross processes as unix seconds and become each
process's monotonic clock on arrival. When Redis is unreachable each process goes on with its own
view (logged), and catches up when it returns: the listener reconnects and reloads the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis

from .pool import KeyPool, KeyState, clear_cooling

log = logging.getLogger("switchyard.keys")

AFFINITY_TTL = 3600
HOLD_TTL = 60.0
"""Seconds a request's slot under ``max_concurrency`` lasts unless renewed (its process died)."""

# KEYS[1]: the provider's state hash. ARGV: channel, field, value, 't' (a time: keep the later)
# or 's' (a string: set), the message to publish.
_WRITE = """
if ARGV[4] == 't' then
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
  if tonumber(ARGV[3]) <= current then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PUBLISH', ARGV[1], ARGV[5])
return 1
"""


# KEYS[1]: a key's zset of slots in use -> expiry. ARGV: now, expires, slot id, max_concurrency.
_HOLD = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


# KEYS[1]: the provider's state hash. ARGV: channel, key fingerprint, what, the message to publish.
# Drops the key's disabled flag ('disabled'), all its cooldowns ('cooling'), or its whole-key
# cooldown after transient failures ('recovered').
_CLEAR = """
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #ARGV[2] + 1) == ARGV[2] .. '|' then
    local name = string.sub(field, #ARGV[2] + 2)
    local drop = (ARGV[3] == 'disabled' and name == 'disabled') or (ARGV[3] == 'recovered' and name == 'cool')
      or (ARGV[3] == 'cooling' and name ~= 'disabled')
    if drop then redis.call('HDEL', KEYS[1], field) end
  end
end
redis.call('PUBLISH', ARGV[1], ARGV[4])
return 1
"""


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class KeySync:
    """Keeps the key pools of this process in step with the other processes (see module doc)."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        pools: Mapping[str, KeyPool],
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = prefix + "keys:"
        self._channel = self._prefix + "events"
        self._pools = pools
        self._wall = wall
        self._me = secrets.token_hex(6)
        self._by_fp: dict[str, tuple[KeyPool, KeyState]] = {
            fingerprint(state.key): (pool, state) for pool in pools.values() for state in pool.keys
        }
        self._write = client.register_script(_WRITE)
        self._hold = client.register_script(_HOLD)
        self._clear = client.register_script(_CLEAR)
        self._holds: dict[str, tuple[str, str]] = {}  # slot id -> (provider, key fingerprint)
        self._slots = (f"{self._me}.{n}" for n in itertools.count())
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.received = 0

    async def start(self) -> None:
        """Attach to the pools, load the shared state and listen for changes (from now on)."""
        for pool in self._pools.values():
            pool.sync = self
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen(), name="switchyard-key-sync")
        self._renewer = loop.create_task(self._renew(), name="switchyard-key-slots")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)

    async def close(self) -> None:
        for task in (self._listener, self._renewer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    # ------------------------------------------------------------------ outgoing

    def cooled(self, pool: KeyPool, state: KeyState, model: str | None, until: float) -> None:
        """``state`` cools until ``until`` (the pool's clock) for ``model`` (None: the whole key)."""
        field = "cool" if model is None else f"m|{model}"
        wall = until - pool.clock() + self._wall()
        self._send(pool, state, field, f"{wall:.3f}", "t")

    def disabled(self, pool: KeyPool, state: KeyState, reason: str) -> None:
        self._send(pool, state, "disabled", reason, "s")

    def _send(self, pool: KeyPool, state: KeyState, field: str, value: str, kind: str) -> None:
        fp = fingerprint(state.key)
        message = orjson.dumps({"src": self._me, "fp": fp, "field": field, "value": value})
        args = [self._channel, f"{fp}|{field}", value, kind, message]
        self._spawn(self._write(keys=[self._prefix + pool.provider], args=args), "share a key's state")

    def failed(self, pool: KeyPool, state: KeyState) -> None:
        """One more transient failure of ``state``: every process adds it to the key's run."""
        message = orjson.dumps({"src": self._me, "fp": fingerprint(state.key), "field": "failed", "value": ""})
        self._spawn(self._client.publish(self._channel, message), "share a transient failure")

    def cleared(self, pool: KeyPool, state: KeyState, what: str) -> None:
        """An operator re-enabled ``state`` (``disabled``) or ended its cooldowns (``cooling``), or
        the key answered after transient failures (``recovered``: the run and its cooldown end)."""
        fp = fingerprint(state.key)
        message = orjson.dumps({"src": self._me, "fp": fp, "field": f"clear|{what}", "value": ""})
        args = [self._channel, fp, what, message]
        self._spawn(self._clear(keys=[self._prefix + pool.provider], args=args), "clear a key's state")

    def assigned(self, pool: KeyPool, session: str, state: KeyState) -> None:
        key = f"{self._prefix}aff:{pool.provider}:{session}"
        self._spawn(self._client.set(key, fingerprint(state.key), ex=AFFINITY_TTL), "share a session's key")

    def _slots_key(self, provider: str, fp: str) -> str:
        return f"{self._prefix}slots:{provider}:{fp}"

    async def hold(self, pool: KeyPool, state: KeyState) -> str | None:
        """Take one of ``state``'s ``max_concurrency`` slots across processes: the slot id, or None
        when every slot is in use elsewhere. Without Redis the local count alone decides ("")."""
        assert state.max_concurrency is not None
        fp, slot = fingerprint(state.key), next(self._slots)
        now = self._wall()
        try:
            taken = await self._hold(
                keys=[self._slots_key(pool.provider, fp)], args=[now, now + HOLD_TTL, slot, state.max_concurrency]
            )
        except Exception as exc:
            log.warning("max_concurrency: Redis is unreachable (%s); counting this process's requests only", exc)
            return ""
        if not taken:
            return None
        self._holds[slot] = (pool.provider, fp)
        return slot

    def unhold(self, slot: str) -> None:
        found = self._holds.pop(slot, None)
        if found is not None:
            self._spawn(self._client.zrem(self._slots_key(*found), slot), "give back a request slot")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(HOLD_TTL / 3)
            if not self._holds:
                continue
            expires = self._wall() + HOLD_TTL
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for slot, (provider, fp) in list(self._holds.items()):
                        pipe.zadd(self._slots_key(provider, fp), {slot: expires}, xx=True)
                    await pipe.execute()
            except Exception as exc:
                log.warning("could not renew request slots in Redis: %s", exc)

    def _spawn(self, coro: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning(
                    "could not %s through Redis (each process goes on with its own view): %s", what, t.exception()
                )

        task.add_done_callback(done)

    # ------------------------------------------------------------------ incoming

    async def recall(self, pool: KeyPool, session: str) -> KeyState | None:
        """The key another process pinned ``session`` to, if any."""
        try:
            fp = await self._client.get(f"{self._prefix}aff:{pool.provider}:{session}")
        except Exception as exc:
            log.warning("session affinity: Redis is unreachable (%s); choosing a key locally", exc)
            return None
        found = self._by_fp.get(fp.decode()) if fp else None
        return found[1] if found is not None and found[0] is pool else None

    def _apply(self, fp: str, field: str, value: str) -> None:
        found = self._by_fp.get(fp)
        if found is None:
            return
        pool, state = found
        if field == "clear|disabled":
            state.disabled = None
            return
        if field == "clear|cooling":
            clear_cooling(state)
            return
        if field == "clear|recovered":
            state.transient_streak, state.cool_until = 0, 0.0
            return
        if field == "failed":
            state.transient_streak += 1  # the process that sees the run reach its end cools the key
            return
        if field == "disabled":
            state.disabled = state.disabled or value
            return
        until = float(value) - self._wall() + pool.clock()
        if field == "cool":
            state.cool_until = max(state.cool_until, until)
        elif field.startswith("m|"):
            model = field[2:]
            state.model_cool_until[model] = max(state.model_cool_until.get(model, 0.0), until)

    async def _load(self) -> None:
        for provider in self._pools:
            for name, value in (await self._client.hgetall(self._prefix + provider)).items():
                fp, _, field = name.decode().partition("|")
                self._apply(fp, field, value.decode())

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                await self._load()  # after subscribing: nothing falls between the two
                self._ready.set()
                backoff = 0.5
                async for message in pubsub.listen():
                    event = orjson.loads(message["data"])
                    if event["src"] != self._me:
                        self.received += 1
                        self._apply(event["fp"], event["field"], event["value"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.set()
                log.error("shared key state: Redis is unreachable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
