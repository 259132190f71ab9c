"""The governance service: who a client key is, whether its request may run, and what it spent.

The pipeline calls three things, in this order, for each request:

1. :meth:`Governance.lookup` — the client key a presented secret belongs to (by hash), or None;
2. :meth:`Governance.admit` — before any upstream call: the model is allowed, every rate limit
   and budget of the key and its team has room; the request's maximum cost is *reserved*. Raises
   a :class:`GatewayError` in the refusal's kind (403 permission, 429 rate limit, 429 quota);
   returns a :class:`Ticket`;
3. :meth:`Governance.settle` — exactly once when the request is over, whatever happened: the
   reservation is replaced by the real cost (0 when nothing was used) and added to the ledger.

The admin API (``server/admin.py``) and the CLI use the other public methods. Keys and teams are
cached in the process; every change bumps a version kept with the counters, and an admission
made against an older version reloads the cache first, so a revocation or a new limit holds on
the next request on every process.

The maximum cost of a request is an upper bound of its usage priced at the highest rates its
targets have: input tokens are bounded by the request body's size in bytes (a token is at least
one byte of text for the tokenizers in use), output tokens by the request's own limit
(``max_tokens`` and its equivalents) or else the model's ``max_output`` from the pricing table
(:data:`DEFAULT_MAX_OUTPUT` when unknown), times the number of choices it asks for (``n``,
``candidateCount``). A priced request can therefore never spend more than it
reserved, and the admitted spend never exceeds a budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..accounting.pricing import Pricing
from ..core.errors import ErrorKind, GatewayError
from .admin_ops import AdminOps
from .counters import STALE, Check, Counters, CountersUnavailable, MemoryCounters, Refusal, Ticket
from .model import (
    NANO,
    ClientKey,
    Limits,
    Subject,
    Team,
    iso,
    key_hash,
    to_nano,
)
from .records import Records, SpendRow

log = logging.getLogger("switchyard.governance")

DEFAULT_MAX_OUTPUT = 65_536
NO_RETRY = {"x-should-retry": "false"}
"""Read by the OpenAI and Anthropic SDKs: do not retry this 429 automatically."""
LEDGER_INTERVAL = 0.1
"""Seconds between ledger writes: a crash loses at most this much settled spend (plus the write)."""
RETRY_SHARED = 1.0
"""Seconds to count locally after the shared counters failed, before trying them again."""
LOAD_RETRY_MAX = 10.0
"""Most seconds between tries to load records that were out of reach at start."""

# where each client protocol puts the request's output limit
_OUTPUT_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "openai_chat": (("max_completion_tokens",), ("max_tokens",)),
    "openai_responses": (("max_output_tokens",),),
    "anthropic": (("max_tokens",),),
    "gemini": (("generationConfig", "maxOutputTokens"), ("generation_config", "max_output_tokens")),
}


# where a client protocol asks for several answers (choices, candidates) to one request
_CHOICE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "openai_chat": (("n",),),
    "gemini": (("generationConfig", "candidateCount"), ("generation_config", "candidate_count")),
}


def _positive(body: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> int | None:
    for path in paths:
        value: Any = body
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def requested_output(protocol: str, body: dict[str, Any]) -> int | None:
    """The output token limit a request body sets, if any (per choice)."""
    return _positive(body, _OUTPUT_FIELDS.get(protocol, ()))


def requested_choices(protocol: str, body: dict[str, Any]) -> int:
    """How many answers a request body asks for (each may use the whole output limit)."""
    return _positive(body, _CHOICE_FIELDS.get(protocol, ())) or 1


def max_cost(
    pricing: Pricing, targets: Sequence[Any], prompt: int, output: int | None, *, unpriced: str, choices: int = 1
) -> int:
    """Nano-dollars a request can cost at most over its ``targets`` (objects with ``provider`` and
    ``model``), with at most ``prompt`` input tokens and ``output`` output tokens (None: the
    model's limit) per choice, for ``choices`` answers. An unpriced target raises a 403, or counts 0 with ``unpriced="allow"``."""
    most = 0
    for target in targets:
        price = pricing.lookup(target.model, target.provider)
        if price is None:
            if unpriced == "allow":
                continue
            raise GatewayError(
                ErrorKind.PERMISSION,
                f"the model '{target.provider}/{target.model}' has no known price, so a budgeted client key "
                "cannot use it (add it under 'pricing:' or set governance.unpriced: allow)",
                param="model",
            )
        prompt_rate, output_rate = price.most_per_token()
        tokens_out = (output or price.max_output or DEFAULT_MAX_OUTPUT) * choices
        most = max(most, math.ceil((prompt * prompt_rate + tokens_out * output_rate) * NANO / 1_000_000))
    return most


class Governance(AdminOps):
    def __init__(
        self,
        records: Records,
        counters: Counters,
        pricing: Pricing,
        *,
        unpriced: str = "deny",
        config_keys: Sequence[ClientKey] = (),
        rate_window: float = 60.0,
        lease_seconds: float = 120.0,
        shared: bool = False,
        on_unavailable: str = "local",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.records = records
        self.counters = counters
        self.pricing = pricing
        self.unpriced = unpriced
        self.rate_window = rate_window
        self.lease_seconds = lease_seconds
        self.shared = shared
        """Counters shared with other processes (Redis): a key not in the cache may be new there."""
        self.on_unavailable = on_unavailable
        """When the shared counters are unreachable: ``local`` (count on this process's own view,
        seeded from the ledger) or ``fail_closed`` (refuse governed requests with a 503)."""
        self.clock = clock
        self._fallback = MemoryCounters()
        self._shared_down_until = 0.0
        self._fallback_seeded = False
        self._unsettled: list[tuple[Ticket, int, int]] = []
        self._config_keys = {k.hash: k for k in config_keys}
        self._by_hash: dict[str, ClientKey] = {}
        self._by_id: dict[str, ClientKey] = {}
        self._teams: dict[str, Team] = {}
        self._version = -1
        self._reload_lock = asyncio.Lock()
        self._live: dict[str, Ticket] = {}
        self._leases = (f"{os.getpid():x}.{secrets.token_hex(4)}.{n}" for n in itertools.count())
        self._ledger: dict[tuple[str, str], list[int]] = {}
        self._unwritten: tuple[str, list[SpendRow]] | None = None
        """A ledger batch whose write failed: retried as is, under its id, before anything newer."""
        self._tasks: list[asyncio.Task[None]] = []
        self.loaded = False
        """Keys and teams have been read from the records (at least once)."""

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Open the records and load keys and teams. Records out of reach (a remote database that
        does not answer) do not stop the start: they are loaded in the background, and until
        then :attr:`loaded` is False (the authenticator refuses all but admin keys, asking to retry)."""
        await self.records.open()
        try:
            await self._reload()
        except self.records.unavailable as exc:
            self._unreachable(exc)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(LEDGER_INTERVAL, self.flush), name="switchyard-ledger"),
            loop.create_task(self._every(self.lease_seconds / 3, self._renew), name="switchyard-leases"),
        ]
        if not self.loaded:
            self._tasks.append(loop.create_task(self._load_when_reachable(), name="switchyard-governance-load"))

    def _unreachable(self, exc: BaseException) -> None:
        log.error(
            "governance: the client keys cannot be loaded (%s: %s); requests without an admin key are "
            "refused until they are; retrying",
            type(exc).__name__,
            exc,
        )

    async def _load_when_reachable(self) -> None:
        delay = 0.5
        while not self.loaded:
            await asyncio.sleep(delay)
            delay = min(delay * 2, LOAD_RETRY_MAX)
            try:
                await self._reload()
            except Exception as exc:
                self._unreachable(exc)
        log.info("governance: client keys and teams loaded; serving")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.flush()
        finally:
            await self.records.close()
            await self.counters.close()

    async def _every(self, seconds: float, fn: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:
                log.exception("governance: %s failed; will retry", getattr(fn, "__name__", fn))

    async def _renew(self) -> None:
        while self._unsettled:  # settlements that could not reach the shared counters
            ticket, spend, tokens = self._unsettled[0]
            await self.counters.settle(ticket, spend_nano=spend, tokens=tokens)
            self._unsettled.pop(0)
        shared = [t for t in self._live.values() if not t.local]
        if shared:
            await self.counters.renew(shared, self.clock() + self.lease_seconds)

    async def flush(self) -> None:
        """Write the settled spend not yet in the ledger. A batch whose write failed is retried
        under the same id (the records add it once, even if the failure came after the commit)."""
        while self._unwritten is not None or self._ledger:
            if self._unwritten is None:
                self._unwritten = (secrets.token_hex(12), _rows(self._ledger))
                self._ledger = {}
            await self.records.add_spend(self._unwritten[1], self._unwritten[0])
            self._unwritten = None

    def _unflushed(self) -> list[SpendRow]:
        """Settled spend not in the ledger yet."""
        return (self._unwritten[1] if self._unwritten is not None else []) + _rows(self._ledger)

    def _book(self, pair: tuple[str, str], nano: int, requests: int) -> None:
        entry = self._ledger.get(pair)
        if entry is None:
            self._ledger[pair] = [nano, requests]
        else:
            entry[0] += nano
            entry[1] += requests

    async def _reload(self, *, if_stale: bool = False) -> None:
        """Reload keys and teams from the records, and seed the counters' spend from the ledger
        (with ``if_stale``, only when another process changed them since the last load)."""
        async with self._reload_lock:
            version = await self.counters.version()
            if if_stale and version == self._version:
                return  # a concurrent caller has just reloaded
            keys, teams = await self.records.load()
            keys += self._config_keys.values()
            self._by_hash = {k.hash: k for k in keys}
            self._by_id = {k.id: k for k in keys}
            self._teams = {t.name: t for t in teams}
            now = self.clock()
            pairs = [(s.subject, self.window(s, now)[0]) for s in [*keys, *teams]]
            for (subject, window), (nano, _) in (await self.records.spend(pairs)).items():
                await self.counters.seed(subject, window, nano)
            self._version = version
            self.loaded = True

    async def _changed(self) -> None:
        await self.counters.bump()
        await self._reload()

    # ------------------------------------------------------------------ requests

    @property
    def has_keys(self) -> bool:
        return bool(self._by_hash) or not self.loaded  # not loaded yet: keys may exist

    def config_key(self, secret: bytes) -> ClientKey | None:
        """The limits of a ``server.auth_keys`` key, if the config gives it any (no I/O: they are
        fixed by the config)."""
        return self._config_keys.get(key_hash(secret)) if self._config_keys else None

    async def lookup(self, secret: bytes) -> ClientKey | None:
        """The key ``secret`` belongs to (revoked and expired keys included; see :meth:`check_key`)."""
        digest = key_hash(secret)
        key = self._by_hash.get(digest)
        if key is None and self.shared and self._shared_up():
            try:
                await self._reload(if_stale=True)  # a key made on another process?
            except CountersUnavailable as exc:
                self._shared_failed(exc)
            key = self._by_hash.get(digest)
        return key

    def check_key(self, key: ClientKey) -> None:
        """Raise a 401 for a revoked or expired key."""
        if key.revoked_at is not None:
            raise GatewayError(ErrorKind.AUTHENTICATION, "this client key has been revoked")
        if key.expires_at is not None and self.clock() >= key.expires_at:
            raise GatewayError(ErrorKind.AUTHENTICATION, f"this client key expired at {iso(key.expires_at)}")

    def window(self, subject: Subject, now: float) -> tuple[str, float | None]:
        """The subject's current budget window (``total`` without a budget) and when it resets."""
        return subject.budget.span(subject.created_at, now) if subject.budget else ("total", None)

    def check_model(self, key: ClientKey, model: str, targets: Sequence[Any]) -> None:
        """Raise a 403 unless ``key`` may use ``model`` (resolving to ``targets``)."""
        if not key.allows(model, [f"{t.provider}/{t.model}" for t in targets]):
            raise GatewayError(ErrorKind.PERMISSION, f"this client key may not use the model '{model}'", param="model")

    async def admit(
        self, key: ClientKey, model: str, targets: Sequence[Any], protocol: str, body: dict[str, Any], size: int
    ) -> Ticket | None:
        """Admit one request of ``key`` for ``model`` (resolving to ``targets``: objects with
        ``provider`` and ``model``); ``size`` is the body's length in bytes. None: nothing to count."""
        for _ in range(5):
            self.check_model(key, model, targets)
            team = self._teams.get(key.team) if key.team else None
            if key.source == "config" and not key.governed and not (team and team.governed):
                return None
            now = self.clock()
            ticket = self._ticket(key, team, targets, protocol, body, size, now)
            verdict = await self._count(ticket, now)
            if verdict is None:
                self._live[ticket.lease] = ticket
                return ticket
            if verdict != STALE:
                assert isinstance(verdict, Refusal)
                raise self._refusal(verdict, key, team, now, ticket.tokens)
            await self._reload(if_stale=True)
            fresh = self._by_id.get(key.id)
            if fresh is None or fresh.hash != key.hash:  # rotated (or gone) on another process
                raise GatewayError(ErrorKind.AUTHENTICATION, "invalid API key")
            self.check_key(fresh)
            key = fresh
        raise GatewayError(ErrorKind.UNAVAILABLE, "governance state keeps changing; try again", status=503)

    def _shared_up(self) -> bool:
        return time.monotonic() >= self._shared_down_until

    def _shared_failed(self, exc: CountersUnavailable) -> None:
        if self._shared_up():
            how = (
                "counting on this process's own view"
                if self.on_unavailable == "local"
                else "refusing governed requests"
            )
            log.error(
                "governance: %s; %s until it is back (state.on_unavailable: %s)", exc.message, how, self.on_unavailable
            )
        self._shared_down_until = time.monotonic() + RETRY_SHARED

    async def _count(self, ticket: Ticket, now: float) -> Refusal | str | None:
        """Admit ``ticket`` on the shared counters, or as ``state.on_unavailable`` says when they fail."""
        expires = now + self.lease_seconds
        if self._shared_up():
            try:
                verdict = await self.counters.admit(ticket, now=now, expires=expires, version=self._version)
            except CountersUnavailable as exc:
                if not self.shared:
                    raise
                self._shared_failed(exc)
            else:
                if self._fallback_seeded:
                    log.warning("governance: the shared counters are back")
                    self._fallback_seeded = False
                return verdict
        if self.on_unavailable != "local":
            raise GatewayError(
                ErrorKind.OVERLOADED,  # 503 (Anthropic clients: 529 overloaded_error), which SDKs retry
                "the shared limits store is unreachable and this gateway fails closed (state.on_unavailable); "
                "try again shortly",
                status=503,
                code="shared_state_unavailable",
            )
        if not self._fallback_seeded:
            await self._seed_fallback(now)
        ticket.local = True
        return await self._fallback.admit(ticket, now=now, expires=expires, version=await self._fallback.version())

    async def _seed_fallback(self, now: float) -> None:
        """Start this process's own view from the ledger (and its spend not yet written there)."""
        subjects = [*self._by_id.values(), *self._teams.values()]
        pairs = [(s.subject, self.window(s, now)[0]) for s in subjects]
        spent = {pair: nano for pair, (nano, _) in (await self.records.spend(pairs)).items()}
        for subject, window, nano, _ in self._unflushed():
            spent[subject, window] = spent.get((subject, window), 0) + nano
        self._fallback = MemoryCounters()
        for (subject, window), nano in spent.items():
            await self._fallback.seed(subject, window, nano)
        self._fallback_seeded = True

    def _ticket(
        self,
        key: ClientKey,
        team: Team | None,
        targets: Sequence[Any],
        protocol: str,
        body: dict[str, Any],
        size: int,
        now: float,
    ) -> Ticket:
        checks = []
        spend_to = []
        for subject in (key, team):
            if subject is None:
                continue
            window = self.window(subject, now)[0]
            spend_to.append((subject.subject, window))
            if subject.governed:
                limits = subject.limits
                budget = to_nano(subject.budget.usd) if subject.budget else None
                checks.append(Check(subject.subject, limits.rpm, limits.tpm, limits.max_parallel, budget, window))
        reserve = 0
        if any(c.budget_nano is not None for c in checks):
            reserve = max_cost(
                self.pricing,
                targets,
                size,
                requested_output(protocol, body),
                unpriced=self.unpriced,
                choices=requested_choices(protocol, body),
            )
        return Ticket(
            lease=next(self._leases),
            checks=tuple(checks),
            spend_to=tuple(spend_to),
            rate_window=int(now // self.rate_window),
            tokens=size // 4,
            reserve_nano=reserve,
        )

    def _refusal(self, refusal: Refusal, key: ClientKey, team: Team | None, now: float, tokens: int) -> GatewayError:
        owner = f"team '{team.name}'" if team is not None and refusal.subject == team.subject else "this client key"
        if refusal.limit == "budget":
            subject = team if team is not None and refusal.subject == team.subject else key
            resets = self.window(subject, now)[1]
            assert subject.budget is not None
            when = f"; the {subject.budget.window} window resets at {iso(resets)}" if resets else " (a total budget)"
            return GatewayError(
                ErrorKind.QUOTA,
                f"budget exceeded for {owner}: ${refusal.used / NANO:.4f} of ${refusal.allowed / NANO:.2f} is spent "
                f"or reserved, and this request may cost more than is left{when}",
                code="budget_exceeded",
                retry_after=(resets - now) if resets else None,
                headers=NO_RETRY,  # the SDKs would retry a 429 at once: the window is hours away
            )
        if refusal.limit == "parallel":
            return GatewayError(
                ErrorKind.RATE_LIMIT,
                f"too many requests in flight for {owner} (max_parallel {refusal.allowed})",
                code="rate_limit_exceeded",
                retry_after=1.0,
            )
        reset = (math.floor(now / self.rate_window) + 1) * self.rate_window - now
        what = "requests" if refusal.limit == "rpm" else "tokens"
        limit = Limits(**{refusal.limit: refusal.allowed})
        headers = _rate_headers(limit, refusal.used if refusal.limit == "rpm" else 0, refusal.used, reset)
        if refusal.limit == "tpm" and tokens > refusal.allowed:  # no window will ever admit it
            return GatewayError(
                ErrorKind.RATE_LIMIT,
                f"rate limit reached for {owner}: this request alone (about {tokens} tokens) is over the limit of "
                f"{refusal.allowed} tokens per {self.rate_window:g} s",
                code="rate_limit_exceeded",
                headers={**headers, **NO_RETRY},
            )
        return GatewayError(
            ErrorKind.RATE_LIMIT,
            f"rate limit reached for {owner}: {refusal.used} of {refusal.allowed} {what} per "
            f"{self.rate_window:g} s are used; try again in {reset:.1f} s",
            code="rate_limit_exceeded",
            retry_after=reset,
            headers=headers,
        )

    def rate_headers(self, ticket: Ticket) -> list[tuple[bytes, bytes]]:
        """``x-ratelimit-*`` headers for an admitted request (the tightest of its subjects)."""
        best: dict[str, tuple[int, int]] = {}
        for check, (requests, tokens) in zip(ticket.checks, ticket.used, strict=False):
            for name, limit, used in (("requests", check.rpm, requests), ("tokens", check.tpm, tokens)):
                if limit is not None and (name not in best or limit - used < best[name][0] - best[name][1]):
                    best[name] = (limit, used)
        if not best:
            return []
        now = self.clock()
        reset = (math.floor(now / self.rate_window) + 1) * self.rate_window - now
        rpm, tpm = best.get("requests"), best.get("tokens")
        limits = Limits(rpm=rpm[0] if rpm else None, tpm=tpm[0] if tpm else None)
        headers = _rate_headers(limits, rpm[1] if rpm else 0, tpm[1] if tpm else 0, reset)
        return [(k.encode(), v.encode()) for k, v in headers.items()]

    async def settle(self, ticket: Ticket, cost: float | None, tokens: int) -> None:
        """Replace ``ticket``'s reservation with the real ``cost`` (USD; None: unknown, 0)."""
        if ticket.settled:
            return
        ticket.settled = True
        self._live.pop(ticket.lease, None)
        spend = to_nano(cost) if cost else 0
        for pair in ticket.spend_to:
            self._book(pair, spend, 1)
        if ticket.local:
            await self._fallback.settle(ticket, spend_nano=spend, tokens=tokens)
            return
        try:
            await self.counters.settle(ticket, spend_nano=spend, tokens=tokens)
        except CountersUnavailable as exc:  # retried by the lease task; the ledger has it already
            self._shared_failed(exc)
            self._unsettled.append((ticket, spend, tokens))


def _rate_headers(limits: Limits, requests: int, tokens: int, reset: float) -> dict[str, str]:
    out: dict[str, str] = {}
    reset_text = f"{max(reset, 0.001):.3f}s"
    for name, limit, used in (("requests", limits.rpm, requests), ("tokens", limits.tpm, tokens)):
        if limit is not None:
            out[f"x-ratelimit-limit-{name}"] = str(limit)
            out[f"x-ratelimit-remaining-{name}"] = str(max(0, limit - used))
            out[f"x-ratelimit-reset-{name}"] = reset_text
    return out


def _rows(ledger: dict[tuple[str, str], list[int]]) -> list[SpendRow]:
    return [(subject, window, nano, n) for (subject, window), (nano, n) in ledger.items()]
