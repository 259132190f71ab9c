"""Upstream key state shared by every gateway process through Redis.

Each process keeps its own :class:`~switchyard.keys.pool.KeyPool` view, so choosing a key never
waits on Redis. What must be global travels through Redis:

- **cooldowns and disabled keys**: when a process cools a key (for a model, or whole) or disables
  it, it writes the state with one Lua script — a cooldown only ever moves later (``max``), so
  concurrent writers cannot shorten one — and publishes it; every process applies what it hears
  to its view at once. A process that starts later loads the current state from Redis.
- **session affinity**: a session pinned to a key on one process is found by the others (one
  Redis read, only for a session the process has not seen yet).

Keys are named in Redis by a fingerprint (a 64-bit prefix of the SHA-256 of the key), never by
the key; a replaced key starts clean. Times cross processes as unix seconds and become each
process's monotonic clock on arrival. When Redis is unreachable each process goes on with its own
view (logged), and catches up when it returns: the listener reconnects and reloads the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis

from .pool import KeyPool, KeyState

log = logging.getLogger("switchyard.keys")

AFFINITY_TTL = 3600

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
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.received = 0

    async def start(self) -> None:
        """Attach to the pools, load the shared state and listen for changes (from now on)."""
        for pool in self._pools.values():
            pool.sync = self
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="switchyard-key-sync")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 5)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
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

    def assigned(self, pool: KeyPool, session: str, state: KeyState) -> None:
        key = f"{self._prefix}aff:{pool.provider}:{session}"
        self._spawn(self._client.set(key, fingerprint(state.key), ex=AFFINITY_TTL), "share a session's key")

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
