"""Governance counters in Redis, shared by every gateway process (see ``counters.py`` for the
invariants). Each operation is one Lua script: atomic, and one round trip.

Key layout under ``{prefix}gov:`` (``S`` is a subject such as ``key:ck_…`` or ``team:eng``):

- ``v``: the keys-and-teams version;
- ``r:S:W`` / ``t:S:W``: requests and tokens in rate window ``W`` (expire after two windows);
- ``f:S``: zset of leases in flight -> expiry; ``L:S`` zset of leases holding a reservation ->
  expiry, ``A:S`` hash lease -> reserved nano-dollars, ``R:S`` their sum;
- ``s:S:B``: nano-dollars spent in budget window ``B``.

Times come from the caller (``now``, ``expires``: unix seconds), so every process agrees on rate
windows as far as their clocks agree, and tests can move the clock.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .counters import STALE, Counters, CountersUnavailable, Refusal, SubjectState, Ticket

P = ParamSpec("P")
T = TypeVar("T")
_FAILURES = (RedisError, OSError)


def _reachable(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Redis failures become :class:`CountersUnavailable`."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except _FAILURES as exc:
            raise CountersUnavailable(type(exc).__name__) from exc

    return wrapper


# Drops the expired leases of subject s (in flight and reservations).
_PURGE = """
local function purge(p, s, now)
  redis.call('ZREMRANGEBYSCORE', p .. 'f:' .. s, '-inf', now)
  local expired = redis.call('ZRANGEBYSCORE', p .. 'L:' .. s, '-inf', now)
  for _, lease in ipairs(expired) do
    local amount = redis.call('HGET', p .. 'A:' .. s, lease)
    if amount then redis.call('DECRBY', p .. 'R:' .. s, amount) end
    redis.call('HDEL', p .. 'A:' .. s, lease)
    redis.call('ZREM', p .. 'L:' .. s, lease)
  end
end
"""

# ARGV: prefix, now, lease, expires, rate window, rate ttl (s), tokens, reserve, version, n,
# then n x (subject, rpm, tpm, parallel, budget, budget window); -1 means no limit.
_ADMIT = (
    _PURGE
    + """
local p = ARGV[1]
local now = tonumber(ARGV[2])
local lease, expires, rw = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local ttl, tokens, reserve = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
-- a missing version means Redis was flushed or restarted: the caller reloads and re-seeds spend
if redis.call('GET', p .. 'v') ~= ARGV[9] then return {'stale'} end
local n = tonumber(ARGV[10])
for i = 0, n - 1 do
  local b = 11 + i * 6
  local s = ARGV[b]
  local rpm, tpm, par, budget = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  purge(p, s, now)
  if rpm >= 0 then
    local used = tonumber(redis.call('GET', p .. 'r:' .. s .. ':' .. rw) or '0')
    if used >= rpm then return {'refused', s, 'rpm', used, rpm} end
  end
  if tpm >= 0 then
    local used = tonumber(redis.call('GET', p .. 't:' .. s .. ':' .. rw) or '0')
    if used + tokens > tpm then return {'refused', s, 'tpm', used, tpm} end
  end
  if par >= 0 then
    local used = redis.call('ZCARD', p .. 'f:' .. s)
    if used >= par then return {'refused', s, 'parallel', used, par} end
  end
  if budget >= 0 then
    local used = tonumber(redis.call('GET', p .. 's:' .. s .. ':' .. ARGV[b + 5]) or '0')
      + tonumber(redis.call('GET', p .. 'R:' .. s) or '0')
    if used >= budget or used + reserve > budget then return {'refused', s, 'budget', used, budget} end
  end
end
local out = {'ok'}
for i = 0, n - 1 do
  local b = 11 + i * 6
  local s = ARGV[b]
  local rk, tk = p .. 'r:' .. s .. ':' .. rw, p .. 't:' .. s .. ':' .. rw
  out[#out + 1] = redis.call('INCR', rk)
  out[#out + 1] = redis.call('INCRBY', tk, tokens)
  redis.call('EXPIRE', rk, ttl)
  redis.call('EXPIRE', tk, ttl)
  redis.call('ZADD', p .. 'f:' .. s, expires, lease)
  if tonumber(ARGV[b + 4]) >= 0 then
    redis.call('ZADD', p .. 'L:' .. s, expires, lease)
    redis.call('HSET', p .. 'A:' .. s, lease, reserve)
    redis.call('INCRBY', p .. 'R:' .. s, reserve)
  end
end
return out
"""
)

# ARGV: prefix, lease, rate window, token correction, spend, n, then n held subjects,
# then m, then m x (subject, budget window) to add the spend to
_SETTLE = """
local p, lease, rw = ARGV[1], ARGV[2], ARGV[3]
local delta, spend = tonumber(ARGV[4]), tonumber(ARGV[5])
local n = tonumber(ARGV[6])
for i = 1, n do
  local s = ARGV[6 + i]
  redis.call('ZREM', p .. 'f:' .. s, lease)
  local amount = redis.call('HGET', p .. 'A:' .. s, lease)
  if amount then
    redis.call('DECRBY', p .. 'R:' .. s, amount)
    redis.call('HDEL', p .. 'A:' .. s, lease)
    redis.call('ZREM', p .. 'L:' .. s, lease)
  end
  local tk = p .. 't:' .. s .. ':' .. rw
  if delta ~= 0 and redis.call('EXISTS', tk) == 1 then redis.call('INCRBY', tk, delta) end
end
if spend ~= 0 then
  local b = 7 + n
  for i = 0, tonumber(ARGV[b]) - 1 do
    redis.call('INCRBY', p .. 's:' .. ARGV[b + 1 + i * 2] .. ':' .. ARGV[b + 2 + i * 2], spend)
  end
end
return 1
"""

# ARGV: prefix, expires, n, then n x (subject, lease)
_RENEW = """
local p, expires = ARGV[1], ARGV[2]
for i = 0, tonumber(ARGV[3]) - 1 do
  local s, lease = ARGV[4 + i * 2], ARGV[5 + i * 2]
  redis.call('ZADD', p .. 'f:' .. s, 'XX', expires, lease)
  redis.call('ZADD', p .. 'L:' .. s, 'XX', expires, lease)
end
return 1
"""

# ARGV: prefix, subject, budget window, rate window, now
_STATE = (
    _PURGE
    + """
local p, s = ARGV[1], ARGV[2]
purge(p, s, tonumber(ARGV[5]))
return {
  redis.call('GET', p .. 's:' .. s .. ':' .. ARGV[3]) or '0',
  redis.call('GET', p .. 'R:' .. s) or '0',
  redis.call('ZCARD', p .. 'f:' .. s),
  redis.call('GET', p .. 'r:' .. s .. ':' .. ARGV[4]) or '0',
  redis.call('GET', p .. 't:' .. s .. ':' .. ARGV[4]) or '0',
}
"""
)


# ARGV: prefix, 'get' | 'bump', a fresh random version. Versions are random, not counted: after a
# flush (or a restart without persistence) the version is gone, and the one made next was never
# seen by any process, so every process reloads.
_VERSION = """
if ARGV[2] == 'bump' then
  redis.call('SET', ARGV[1] .. 'v', ARGV[3])
else
  redis.call('SET', ARGV[1] .. 'v', ARGV[3], 'NX')
end
return redis.call('GET', ARGV[1] .. 'v')
"""


def _limit(value: int | None) -> int:
    return -1 if value is None else value


class RedisCounters(Counters):
    def __init__(self, client: aioredis.Redis, *, prefix: str, rate_window: float, owns_client: bool = True) -> None:
        self._client = client
        self._prefix = prefix + "gov:"
        self._rate_ttl = max(1, int(rate_window * 2 + 1))
        self._owns = owns_client
        self._admit = client.register_script(_ADMIT)
        self._settle = client.register_script(_SETTLE)
        self._renew = client.register_script(_RENEW)
        self._state = client.register_script(_STATE)
        self._version = client.register_script(_VERSION)

    @_reachable
    async def admit(self, ticket: Ticket, *, now: float, expires: float, version: int) -> Refusal | str | None:
        args: list[Any] = [
            self._prefix,
            now,
            ticket.lease,
            expires,
            ticket.rate_window,
            self._rate_ttl,
            ticket.tokens,
            ticket.reserve_nano,
            version,
            len(ticket.checks),
        ]
        for c in ticket.checks:
            args += [c.subject, _limit(c.rpm), _limit(c.tpm), _limit(c.max_parallel), _limit(c.budget_nano)]
            args.append(c.budget_window)
        out = await self._admit(args=args)
        verdict = out[0].decode() if isinstance(out[0], bytes) else out[0]
        if verdict == "ok":
            values = [int(v) for v in out[1:]]
            ticket.used = list(zip(values[::2], values[1::2], strict=True))
            return None
        if verdict == "stale":
            return STALE
        subject, limit = (v.decode() if isinstance(v, bytes) else v for v in out[1:3])
        return Refusal(subject, limit, int(out[3]), int(out[4]))

    @_reachable
    async def settle(self, ticket: Ticket, *, spend_nano: int, tokens: int) -> None:
        args: list[Any] = [self._prefix, ticket.lease, ticket.rate_window, tokens - ticket.tokens, spend_nano]
        args += [len(ticket.checks), *(c.subject for c in ticket.checks), len(ticket.spend_to)]
        args += [v for pair in ticket.spend_to for v in pair]
        await self._settle(args=args)

    @_reachable
    async def renew(self, tickets: list[Ticket], expires: float) -> None:
        pairs = [(c.subject, t.lease) for t in tickets for c in t.checks]
        if pairs:
            await self._renew(args=[self._prefix, expires, len(pairs), *(v for pair in pairs for v in pair)])

    @_reachable
    async def state(self, subject: str, budget_window: str, rate_window: int, now: float) -> SubjectState:
        out = await self._state(args=[self._prefix, subject, budget_window, rate_window, now])
        spent, reserved, flight, requests, tokens = (int(v) for v in out)
        return SubjectState(spent, reserved, flight, requests, tokens)

    @_reachable
    async def seed(self, subject: str, budget_window: str, spent_nano: int) -> None:
        await self._client.set(f"{self._prefix}s:{subject}:{budget_window}", spent_nano, nx=True)

    @_reachable
    async def version(self) -> int:
        return int(await self._version(args=[self._prefix, "get", secrets.randbits(48)]))

    @_reachable
    async def bump(self) -> int:
        return int(await self._version(args=[self._prefix, "bump", secrets.randbits(48)]))

    async def close(self) -> None:
        if self._owns:
            await self._client.aclose()
