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
(:data:`DEFAULT_MAX_OUTPUT` when unknown). A priced request can therefore never spend more than it
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
from .counters import STALE, Check, Counters, Refusal, Ticket
from .model import (
    KEY_FIELDS,
    KEY_PREFIX,
    NANO,
    TEAM_FIELDS,
    ClientKey,
    Limits,
    Subject,
    Team,
    iso,
    key_hash,
    parse_fields,
    to_nano,
)
from .records import Records

log = logging.getLogger("switchyard.governance")

DEFAULT_MAX_OUTPUT = 65_536
LEDGER_INTERVAL = 0.1
"""Seconds between ledger writes: a crash loses at most this much settled spend (plus the write)."""
LOAD_RETRY_MAX = 10.0
"""Most seconds between tries to load records that were out of reach at start."""

# where each client protocol puts the request's output limit
_OUTPUT_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "openai_chat": (("max_completion_tokens",), ("max_tokens",)),
    "openai_responses": (("max_output_tokens",),),
    "anthropic": (("max_tokens",),),
    "gemini": (("generationConfig", "maxOutputTokens"), ("generation_config", "max_output_tokens")),
}


def requested_output(protocol: str, body: dict[str, Any]) -> int | None:
    """The output token limit a request body sets, if any."""
    for path in _OUTPUT_FIELDS.get(protocol, ()):
        value: Any = body
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def max_cost(pricing: Pricing, targets: Sequence[Any], prompt: int, output: int | None, *, unpriced: str) -> int:
    """Nano-dollars a request can cost at most over its ``targets`` (objects with ``provider`` and
    ``model``), with at most ``prompt`` input tokens and ``output`` output tokens (None: the
    model's limit). An unpriced target raises a 403, or counts 0 with ``unpriced="allow"``."""
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
        tokens_out = output or price.max_output or DEFAULT_MAX_OUTPUT
        most = max(most, math.ceil((prompt * prompt_rate + tokens_out * output_rate) * NANO / 1_000_000))
    return most


class Governance:
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
        self.clock = clock
        self._config_keys = list(config_keys)
        self._by_hash: dict[str, ClientKey] = {}
        self._by_id: dict[str, ClientKey] = {}
        self._teams: dict[str, Team] = {}
        self._version = -1
        self._reload_lock = asyncio.Lock()
        self._live: dict[str, Ticket] = {}
        self._leases = (f"{os.getpid():x}.{secrets.token_hex(4)}.{n}" for n in itertools.count())
        self._ledger: dict[tuple[str, str], list[int]] = {}
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
        if self._live:
            await self.counters.renew(list(self._live.values()), self.clock() + self.lease_seconds)

    async def flush(self) -> None:
        """Write the settled spend not yet in the ledger (kept for the next try on failure)."""
        if not self._ledger:
            return
        batch, self._ledger = self._ledger, {}
        try:
            await self.records.add_spend([(s, w, nano, n) for (s, w), (nano, n) in batch.items()])
        except BaseException:
            for pair, (nano, n) in batch.items():
                self._book(pair, nano, n)
            raise

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
            keys += self._config_keys
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

    async def lookup(self, secret: bytes) -> ClientKey | None:
        """The key ``secret`` belongs to (revoked and expired keys included; see :meth:`check_key`)."""
        digest = key_hash(secret)
        key = self._by_hash.get(digest)
        if key is None and self.shared:
            await self._reload(if_stale=True)  # a key made on another process?
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

    async def admit(
        self, key: ClientKey, model: str, targets: Sequence[Any], protocol: str, body: dict[str, Any], size: int
    ) -> Ticket | None:
        """Admit one request of ``key`` for ``model`` (resolving to ``targets``: objects with
        ``provider`` and ``model``); ``size`` is the body's length in bytes. None: nothing to count."""
        for _ in range(5):
            if not key.allows(model, [f"{t.provider}/{t.model}" for t in targets]):
                raise GatewayError(
                    ErrorKind.PERMISSION, f"this client key may not use the model '{model}'", param="model"
                )
            team = self._teams.get(key.team) if key.team else None
            if key.source == "config" and not key.governed and not (team and team.governed):
                return None
            now = self.clock()
            ticket = self._ticket(key, team, targets, protocol, body, size, now)
            verdict = await self.counters.admit(
                ticket, now=now, expires=now + self.lease_seconds, version=self._version
            )
            if verdict is None:
                self._live[ticket.lease] = ticket
                return ticket
            if verdict != STALE:
                assert isinstance(verdict, Refusal)
                raise self._refusal(verdict, key, team, now)
            await self._reload(if_stale=True)
            fresh = self._by_id.get(key.id)
            if fresh is None or fresh.hash != key.hash:  # rotated (or gone) on another process
                raise GatewayError(ErrorKind.AUTHENTICATION, "invalid API key")
            self.check_key(fresh)
            key = fresh
        raise GatewayError(ErrorKind.UNAVAILABLE, "governance state keeps changing; try again", status=503)

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
            output = requested_output(protocol, body)
            reserve = max_cost(self.pricing, targets, size, output, unpriced=self.unpriced)
        return Ticket(
            lease=next(self._leases),
            checks=tuple(checks),
            spend_to=tuple(spend_to),
            rate_window=int(now // self.rate_window),
            tokens=size // 4,
            reserve_nano=reserve,
        )

    def _refusal(self, refusal: Refusal, key: ClientKey, team: Team | None, now: float) -> GatewayError:
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
        await self.counters.settle(ticket, spend_nano=spend, tokens=tokens)

    # ------------------------------------------------------------------ admin: client keys

    def _key(self, key_id: str) -> ClientKey:
        key = self._by_id.get(key_id)
        if key is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"no client key with id '{key_id}'")
        return key

    def _editable(self, key_id: str) -> ClientKey:
        key = self._key(key_id)
        if key.source == "config":
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"client key '{key_id}' is declared in the configuration (server.auth_keys); change it there",
                status=409,
            )
        if key.revoked_at is not None:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"client key '{key_id}' is revoked", status=409)
        return key

    def _team_named(self, fields: dict[str, Any]) -> None:
        team = fields.get("team")
        if team is not None and team not in self._teams:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"no team named '{team}' (create it first)", param="team")

    async def create_key(self, body: Any) -> dict[str, Any]:
        await self._fresh()
        fields = parse_fields(body, KEY_FIELDS, create=True)
        self._team_named(fields)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        key = ClientKey(
            created_at=now,
            budget=fields.get("budget"),
            limits=fields.get("limits") or Limits(),
            id="ck_" + secrets.token_hex(8),
            name=fields["name"],
            hash=key_hash(secret),
            hint=secret[len(KEY_PREFIX) : len(KEY_PREFIX) + 4],
            team=fields.get("team"),
            models=fields.get("models"),
            expires_at=fields.get("expires_at"),
            metadata=fields.get("metadata") or {},
            updated_at=now,
        )
        await self.records.put_key(key)
        await self._changed()
        return {**key.public(), "key": secret}

    async def list_keys(self) -> dict[str, Any]:
        await self._fresh()
        data = sorted((k.public() for k in self._by_id.values()), key=lambda k: k["created_at"] or "")
        return {"object": "list", "data": data}

    async def show_key(self, key_id: str) -> dict[str, Any]:
        await self._fresh()
        key = self._key(key_id)
        return {**key.public(), **await self._usage(key)}

    async def update_key(self, key_id: str, body: Any) -> dict[str, Any]:
        await self._fresh()
        key = self._editable(key_id)
        fields = parse_fields(body, KEY_FIELDS, create=False)
        self._team_named(fields)
        for name, value in fields.items():
            setattr(key, name, Limits() if name == "limits" and value is None else value)
        key.metadata = key.metadata or {}
        key.updated_at = self.clock()
        await self.records.put_key(key)
        await self._changed()
        return await self.show_key(key_id)

    async def rotate_key(self, key_id: str) -> dict[str, Any]:
        await self._fresh()
        key = self._editable(key_id)
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key.hash, key.hint = key_hash(secret), secret[len(KEY_PREFIX) : len(KEY_PREFIX) + 4]
        key.updated_at = self.clock()
        await self.records.put_key(key)
        await self._changed()
        return {**self._key(key_id).public(), "key": secret}

    async def revoke_key(self, key_id: str) -> dict[str, Any]:
        await self._fresh()
        key = self._editable(key_id)
        key.revoked_at = key.updated_at = self.clock()
        await self.records.put_key(key)
        await self._changed()
        return self._key(key_id).public()

    async def _usage(self, subject: Subject) -> dict[str, Any]:
        now = self.clock()
        window, resets = self.window(subject, now)
        state = await self.counters.state(subject.subject, window, int(now // self.rate_window), now)
        return {
            "spend": {"usd": state.spent_nano / NANO, "window": window, "window_resets_at": iso(resets)},
            "reserved_usd": state.reserved_nano / NANO,
            "in_flight": state.in_flight,
            "rate_window": {"requests": state.requests, "tokens": state.tokens, "seconds": self.rate_window},
        }

    async def _fresh(self) -> None:
        """Reload when another process changed keys or teams (admin reads see the shared view)."""
        if self.shared:
            await self._reload(if_stale=True)

    # ------------------------------------------------------------------ admin: teams

    def _team(self, name: str) -> Team:
        team = self._teams.get(name)
        if team is None:
            raise GatewayError(ErrorKind.NOT_FOUND, f"no team named '{name}'")
        return team

    async def create_team(self, body: Any) -> dict[str, Any]:
        await self._fresh()
        fields = parse_fields(body, TEAM_FIELDS, create=True)
        if fields["name"] in self._teams:
            raise GatewayError(ErrorKind.INVALID_REQUEST, f"a team named '{fields['name']}' exists", status=409)
        now = self.clock()
        team = Team(
            created_at=now,
            budget=fields.get("budget"),
            limits=fields.get("limits") or Limits(),
            name=fields["name"],
            metadata=fields.get("metadata") or {},
            updated_at=now,
        )
        await self.records.put_team(team)
        await self._changed()
        return self._team(team.name).public()

    async def list_teams(self) -> dict[str, Any]:
        await self._fresh()
        return {"object": "list", "data": [t.public() for t in self._teams.values()]}

    async def show_team(self, name: str) -> dict[str, Any]:
        await self._fresh()
        team = self._team(name)
        keys = [k.id for k in self._by_id.values() if k.team == name and k.revoked_at is None]
        return {**team.public(), **await self._usage(team), "keys": keys}

    async def update_team(self, name: str, body: Any) -> dict[str, Any]:
        await self._fresh()
        team = self._team(name)
        fields = parse_fields(body, TEAM_FIELDS, create=False)
        if fields.get("name", name) != name:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "a team cannot be renamed", param="name")
        for field_name, value in fields.items():
            setattr(team, field_name, Limits() if field_name == "limits" and value is None else value)
        team.metadata = team.metadata or {}
        team.updated_at = self.clock()
        await self.records.put_team(team)
        await self._changed()
        return await self.show_team(name)

    async def delete_team(self, name: str) -> dict[str, Any]:
        await self._fresh()
        team = self._team(name)
        members = [k.id for k in self._by_id.values() if k.team == name and k.revoked_at is None]
        if members:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"team '{name}' still has active keys ({', '.join(members)}): move or revoke them first",
                status=409,
            )
        await self.records.delete_team(name)
        await self._changed()
        return {"name": team.name, "deleted": True}


def _rate_headers(limits: Limits, requests: int, tokens: int, reset: float) -> dict[str, str]:
    out: dict[str, str] = {}
    reset_text = f"{max(reset, 0.001):.3f}s"
    for name, limit, used in (("requests", limits.rpm, requests), ("tokens", limits.tpm, tokens)):
        if limit is not None:
            out[f"x-ratelimit-limit-{name}"] = str(limit)
            out[f"x-ratelimit-remaining-{name}"] = str(max(0, limit - used))
            out[f"x-ratelimit-reset-{name}"] = reset_text
    return out
