"""Quota windows and fair cycling for a provider's key pool.

:class:`PoolQuotas` is what a :class:`~switchyard.keys.pool.KeyPool` consults (``pool.quotas``):

- :meth:`~PoolQuotas.wait`: seconds until a key may be offered a model again (0: now). A key is
  held back while a declared quota of the model is used up in its window, while the upstream's
  own word says it has nothing left (a learned block), and — with fair cycling — while it is
  *spent* for the cycle.
- :meth:`~PoolQuotas.left`: the share of the tightest budget left, so rotation prefers keys with
  more left.
- :meth:`~PoolQuotas.take`: counts one request (per attempt) in the key's windows, atomically in
  the store; False when another process took the last one first.
- tokens are added when the exchange is over (:meth:`QuotaService.observe`, from its usage).

Learned limits come from response headers (:meth:`~PoolQuotas.learn_headers`) and quota errors
(:meth:`~PoolQuotas.learn_error`); see :mod:`switchyard.quotas.learned`.

Fair cycle (``routing.fair_cycle: true``): a key that runs out on a *long* window (at least
:data:`~switchyard.quotas.rules.LONG_WINDOW`: a declared quota of 1 h or more, a learned limit
resetting 1 h or more away, a Gemini per-day quota, a quota error with no stated window) is
marked spent for that model until that window resets — even when the upstream's retry hint or
the key's cooldown ends sooner. When every key of the pool is spent or otherwise unusable for the
model, the cycle ends: the marks are dropped and the keys are offered again.

Times here are wall-clock Unix seconds from ``QuotaService.wall`` (injectable for tests).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import ErrorKind, GatewayError
from ..keys.shared import fingerprint
from .learned import Learned, from_error, from_headers
from .rules import DAY, LONG_WINDOW, QuotaRule
from .store import QUOTAS_DB, Block, Bucket, MemoryQuotaStore, QuotaStore, Window, count_in

if TYPE_CHECKING:
    from ..config import Config
    from ..keys.pool import KeyPool, KeyState
    from ..server.context import Exchange

log = logging.getLogger("switchyard.quotas")

LEARNED, SPENT = "learned", "spent"


class PoolQuotas:
    """One provider's declared quotas and this process's view of its keys' windows and blocks."""

    def __init__(
        self, service: QuotaService, provider: str, keys: list[KeyState], rules: list[QuotaRule], fair_cycle: bool
    ) -> None:
        self.service = service
        self.provider = provider
        self.rules = rules
        self.fair_cycle = fair_cycle
        self._prefix = {s.id: f"{provider}|{fingerprint(s.key)}|" for s in keys}
        self._by_model: dict[str, list[QuotaRule]] = {}
        self._buckets_of: dict[tuple[str, str], tuple[float, list[Bucket]]] = {}
        """(key id, model) -> (until when they hold, the buckets): anchored ends change at a reset."""
        self.learned: dict[tuple[str, str], dict[str, Learned]] = {}
        """(key id, model) -> what the upstream last said, per metric (for rotation and display)."""

    # ------------------------------------------------------------------ selection

    def _rules(self, model: str) -> list[QuotaRule]:
        rules = self._by_model.get(model)
        if rules is None:
            rules = self._by_model[model] = [r for r in self.rules if r.applies(model)]
        return rules

    def _buckets(self, key_id: str, model: str, now: float) -> list[Bucket]:
        """The key's buckets of the quotas that apply to ``model``."""
        cached = self._buckets_of.get((key_id, model))
        if cached is not None and now < cached[0]:
            return cached[1]
        buckets = self._make_buckets(key_id, self._rules(model), now)
        valid = min((b.end for b in buckets if b.end > 0), default=float("inf"))
        self._buckets_of[(key_id, model)] = (valid, buckets)
        return buckets

    def _make_buckets(self, key_id: str, rules: list[QuotaRule], now: float) -> list[Bucket]:
        prefix = self._prefix[key_id]
        return [Bucket(prefix + r.id, r.window, r.window_end(now), r.requests, r.tokens) for r in rules]

    def _block_name(self, key_id: str, model: str, kind: str) -> str:
        return f"{self._prefix[key_id]}{model}|{kind}"

    def wait(self, state: KeyState, model: str) -> float:
        """Seconds until ``state`` may be offered ``model`` (0.0: now)."""
        windows, blocks = self.service.windows, self.service.blocks
        if not blocks and not self._rules(model):
            return 0.0
        now = self.service.wall()
        until = 0.0
        for bucket in self._buckets(state.id, model, now):
            w = windows.get(bucket.id)
            if w is not None and w.end > now and bucket.full(w):
                until = max(until, w.end)
        for kind in (LEARNED, SPENT) if self.fair_cycle else (LEARNED,):
            block = blocks.get(self._block_name(state.id, model, kind))
            if block is not None and block.until > until:
                until = block.until
        return max(0.0, until - now)

    def left(self, state: KeyState, model: str) -> float:
        """The share (0..1) of the key's tightest budget for ``model`` that is left."""
        now = self.service.wall()
        share = 1.0
        for bucket in self._buckets(state.id, model, now):
            w = self.service.windows.get(bucket.id)
            if w is not None and w.end > now:
                for limit, used in ((bucket.requests, w.requests), (bucket.tokens, w.tokens)):
                    if limit:
                        share = min(share, max(0.0, (limit - used) / limit))
        for learned in self.learned.get((state.id, model), {}).values():
            if learned.limit and learned.reset_at > now:
                share = min(share, max(0.0, learned.remaining / learned.limit))
        return share

    async def take(self, state: KeyState, model: str) -> bool:
        """Count one request of ``state`` for ``model`` in its windows; False if one is used up
        (or a block another process wrote is in force). With no declared quota, True at once."""
        rules = self._rules(model)
        if not rules:
            return True
        now = self.service.wall()
        buckets = self._buckets(state.id, model, now)
        names = [self._block_name(state.id, model, kind) for kind in (LEARNED, SPENT)]
        try:
            taken = await self.service.store.take(buckets, names if self.fair_cycle else names[:1], now)
        except Exception as exc:
            log.warning("quota state is unreachable (%s); counting this request locally", exc)
            return count_in(self.service.windows, buckets, now)[0]
        for bucket, window in zip(buckets, taken.windows, strict=True):
            self.service.windows[bucket.id] = window
        self.service.blocks.update(taken.blocks)
        for rule, bucket, window in zip(rules, buckets, taken.windows, strict=True):
            if bucket.full(window) and rule.window >= LONG_WINDOW:
                self._spend(state.id, model, window.end)
        return taken.ok

    def new_cycle(self, model: str) -> bool:
        """Fair cycle: drop the spent marks for ``model`` (every key is out); False if none."""
        names = [n for k in self._prefix if (n := self._block_name(k, model, SPENT)) in self.service.blocks]
        for name in names:
            del self.service.blocks[name]
        if names:
            self.service.spawn(self.service.store.drop_blocks(names))
        return bool(names)

    def clear(self, state: KeyState) -> None:
        """An operator ended the key's cooldowns: its learned blocks and spent marks go too."""
        prefix = self._prefix[state.id]
        names = [n for n in self.service.blocks if n.startswith(prefix)]
        for name in names:
            del self.service.blocks[name]
        if names:
            self.service.spawn(self.service.store.drop_blocks(names))

    # ------------------------------------------------------------------ what upstreams say

    def learn_headers(self, state: KeyState, model: str, headers: Mapping[str, str]) -> None:
        """A response's rate-limit headers: a limit at 0 holds the key back until its reset."""
        now = self.service.wall()
        found = from_headers(headers, now)
        if not found:
            return
        self.learned[(state.id, model)] = {item.metric: item for item in found}
        for item in found:
            if item.remaining <= 0 and item.reset_at > now:
                self._hold(
                    state.id, model, LEARNED, Block(item.reset_at, f"upstream: 0 {item.metric} left", item.limit)
                )
                if item.reset_at - now >= LONG_WINDOW:
                    self._spend(state.id, model, item.reset_at)

    def learn_error(self, state: KeyState, model: str, error: GatewayError) -> None:
        """A failed attempt: a Gemini quota error holds the key back (until its retry delay; spent
        until the quota's window resets); a quota error with no window, or a rate limit with a
        long wait, marks it spent (fair cycle)."""
        now = self.service.wall()
        learned = from_error(error, now)
        if learned is not None:
            self.learned[(state.id, model)] = {learned.metric: learned}
            until = now + error.retry_after if error.retry_after is not None else learned.reset_at
            self._hold(state.id, model, LEARNED, Block(until, f"upstream: {learned.source}", learned.limit))
            if learned.reset_at - now >= LONG_WINDOW:
                self._spend(state.id, model, learned.reset_at)
        elif error.kind == ErrorKind.QUOTA:
            self._spend(state.id, model, now + DAY)
        elif error.kind == ErrorKind.RATE_LIMIT and (error.retry_after or 0.0) >= LONG_WINDOW:
            self._spend(state.id, model, now + (error.retry_after or 0.0))

    def _spend(self, key_id: str, model: str, until: float) -> None:
        if self.fair_cycle:
            self._hold(key_id, model, SPENT, Block(until, "spent for this cycle (fair cycle)"))

    def _hold(self, key_id: str, model: str, kind: str, block: Block) -> None:
        name = self._block_name(key_id, model, kind)
        current = self.service.blocks.get(name)
        if current is not None and current.until >= block.until:
            return
        self.service.blocks[name] = block
        self.service.spawn(self.service.store.put_block(name, block))

    def add_tokens(self, key_id: str, model: str, tokens: int) -> None:
        if key_id not in self._prefix or tokens <= 0 or not self._rules(model):
            return
        now = self.service.wall()
        buckets = [b for b in self._buckets(key_id, model, now) if b.tokens is not None]
        if not buckets:
            return
        for bucket in buckets:
            w = self.service.windows.get(bucket.id)
            if w is not None and w.end > now:
                w.tokens += tokens
        store = self.service.store
        if not store.add_tokens_now(buckets, tokens, now):
            self.service.spawn(store.add_tokens(buckets, tokens, now))

    # ------------------------------------------------------------------ reporting

    def snapshot(self, state: KeyState) -> list[dict[str, Any]]:
        """The key's quotas for `switchyard keys` and /admin/keys: used, left, resets_at."""
        now = self.service.wall()
        out: list[dict[str, Any]] = []
        for bucket, rule in zip(self._make_buckets(state.id, self.rules, now), self.rules, strict=True):
            w = self.service.windows.get(bucket.id)
            running = w if w is not None and w.end > now else Window(0.0, bucket.end)
            for metric, limit, used in (
                ("requests", rule.requests, running.requests),
                ("tokens", rule.tokens, running.tokens),
            ):
                if limit is not None:
                    out.append(_entry(rule.text, list(rule.models), metric, limit, used, running.end))
        prefix = self._prefix[state.id]
        for (key_id, model), items in self.learned.items():
            if key_id == state.id:
                for item in items.values():
                    if item.reset_at > now:
                        used = item.limit - item.remaining if item.limit is not None else None
                        out.append(
                            _entry(
                                f"learned ({item.source})",
                                [model],
                                item.metric,
                                item.limit,
                                used,
                                item.reset_at,
                                item.remaining,
                            )
                        )
        for name, block in self.service.blocks.items():
            if name.startswith(prefix) and block.until > now:
                model, _, kind = name[len(prefix) :].rpartition("|")
                if kind == SPENT and not self.fair_cycle:
                    continue
                out.append(_entry(block.reason, [model], "held back", block.limit, None, block.until, 0))
        return out


def _entry(
    quota: str, models: list[str], metric: str, limit: int | None, used: int | None, end: float, left: int | None = None
) -> dict[str, Any]:
    if left is None and limit is not None and used is not None:
        left = max(0, limit - used)
    resets = datetime.fromtimestamp(end, UTC).isoformat().replace("+00:00", "Z") if end > 0 else None
    return {
        "quota": quota,
        "models": models or ["*"],
        "metric": metric,
        "limit": limit,
        "used": used,
        "left": left,
        "resets_at": resets,
    }


class QuotaService:
    """Every provider's :class:`PoolQuotas` (attached to its key pool), the store, the clock."""

    def __init__(self, config: Config, pools: Mapping[str, KeyPool]) -> None:
        self.wall: Callable[[], float] = time.time
        """Wall-clock Unix seconds (tests inject their own)."""
        self.store: QuotaStore = MemoryQuotaStore()
        self.windows: dict[str, Window] = {}
        self.blocks: dict[str, Block] = {}
        self.pools: dict[str, PoolQuotas] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        for name, provider in config.providers.items():
            pool = pools.get(name)
            if pool is None or provider.type == "mock" or not provider.api_keys:
                continue  # keyless and passthrough pools have no keys of the gateway's to budget
            quotas = PoolQuotas(self, name, pool.keys, provider.quotas, provider.routing.fair_cycle)
            pool.quotas = self.pools[name] = quotas

    async def start(self, config: Config) -> None:
        """Open the store chosen by ``state.backend`` and load the state it holds."""
        if not self.pools:
            return
        state = config.state
        if state.backend == "redis":
            from ..store.redis import connect
            from .redis_store import RedisQuotaStore

            self.store = RedisQuotaStore(connect(state.redis_url), state.redis_prefix)
        elif state.backend == "sqlite":
            from .store import SqliteQuotaStore

            self.store = SqliteQuotaStore(config.server.data_dir / QUOTAS_DB)
        self.windows, self.blocks = await self.store.load(self.wall())

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.close()

    def spawn(self, coro: Any) -> None:
        """Write to the store in the background (a failure is logged; the local view stands)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("could not write quota state: %s", t.exception())

        task.add_done_callback(done)

    def observe(self, ctx: Exchange) -> None:
        """A finished exchange: its tokens count in the quotas of the key that answered."""
        target = ctx.target
        quotas = self.pools.get(target.provider) if target is not None else None
        if quotas is None or not ctx.attempts or ctx.attempts[-1].error is not None:
            return
        usage = ctx.final_usage()
        if usage is not None:
            quotas.add_tokens(ctx.attempts[-1].key_id or "", target.model, usage.total_tokens)
