"""Credential pools: fair rotation over a provider's keys, with cooldowns and concurrency limits.

State is kept per key (in flight, disabled, transient-failure streak, whole-key cooldown) and per
(key, model) (cooldown until, rate-limit strikes). Selection:

- ``balanced`` (default): among usable keys, the one with the fewest requests in flight, then the
  fewest requests served so far, then pool order — load spreads evenly and no key starves.
- ``sequential``: the first usable key in pool order; the pool stays on it until it cools down,
  is disabled or is busy (good for prompt-cache locality).
- session affinity (balanced mode): a session's requests stay on the key that served it while
  that key is usable.

A key is *usable* for a model when it is not disabled, neither it nor (it, model) is cooling, and
it is below its ``max_concurrency``. When every key is merely busy, :meth:`KeyPool.lease` waits
(within the caller's deadline) for one to be released. When none is usable for other reasons it
raises :class:`NoKeyAvailable` with the earliest time one will be.

The clock is injected (``clock``: monotonic seconds) so the logic is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import Cooldown
from ..providers import mask_key
from .classify import Action

if TYPE_CHECKING:
    from ..quotas.tracker import PoolQuotas
    from .shared import KeySync

TRANSIENT_STRIKES = 3  # consecutive transient failures before a key cools
QUOTA_COOLDOWN = 3600.0  # seconds a key rests after "out of quota" when the upstream gives no wait
SESSION_MEMORY = 10_000  # sessions remembered for affinity (least recently used dropped first)
SHARED_SLOT_POLL = 0.02  # seconds between looks for a slot that another process holds


# why a key cools (NoKeyAvailable.causes)
RATE_LIMITED = "rate_limit"
OUT_OF_QUOTA = "quota"
FAILING = "transient"  # 5xx, dropped connections, stalls, timeouts


class NoKeyAvailable(Exception):
    """No key can serve the model now; ``retry_after`` is seconds until one can (None: never).

    ``causes``: why the keys not disabled are cooling (``rate_limit``, ``quota``, ``transient``).
    ``probe_in``: when every such key cools only after transient failures, seconds until the
    first of them that could take a half-open probe (:meth:`KeyPool.probe`) would have cooled
    down; None otherwise.
    """

    def __init__(
        self,
        provider: str,
        retry_after: float | None,
        causes: frozenset[str] = frozenset(),
        probe_in: float | None = None,
    ) -> None:
        reason = "all keys are disabled" if retry_after is None else "all keys are cooling down"
        super().__init__(f"provider '{provider}': {reason}")
        self.provider = provider
        self.retry_after = retry_after
        self.causes = causes
        self.probe_in = probe_in


@dataclass(slots=True)
class KeyState:
    key: str
    id: str
    max_concurrency: int | None = None
    in_flight: int = 0
    served: int = 0
    disabled: str | None = None  # the reason, once disabled
    cool_until: float = 0.0  # whole key (after repeated transient failures)
    transient_streak: int = 0
    model_cool_until: dict[str, float] = field(default_factory=dict)
    model_cool_cause: dict[str, str] = field(default_factory=dict)  # rate_limit | quota
    model_strikes: dict[str, int] = field(default_factory=dict)
    probing: bool = False  # a half-open probe is in flight on this key
    failures: int = 0
    last_error: str | None = None

    def free_at(self, model: str, now: float) -> float | None:
        """When the key becomes usable for ``model`` (ignoring concurrency); None if never."""
        if self.disabled:
            return None
        return max(self.cool_until, self.model_cool_until.get(model, 0.0), now)


@dataclass(slots=True)
class Lease:
    """One request's hold on a key; give it back with :meth:`KeyPool.release`."""

    pool: KeyPool
    state: KeyState
    model: str
    released: bool = False
    slot: str | None = None
    """The request's slot in the key's ``max_concurrency`` across processes (shared state only)."""
    probe: bool = False
    """A half-open probe: the key was cooling after transient failures."""

    @property
    def key(self) -> str:
        return self.state.key

    @property
    def key_id(self) -> str:
        return self.state.id


def clear_cooling(state: KeyState) -> None:
    """Forget every cooldown of ``state`` (whole key and per model) and its strikes."""
    state.cool_until, state.transient_streak = 0.0, 0
    state.model_cool_until.clear()
    state.model_cool_cause.clear()
    state.model_strikes.clear()


class KeyPool:
    def __init__(
        self,
        provider: str,
        keys: list[str],
        *,
        rotation: str = "balanced",
        session_affinity: bool = True,
        cooldown: Cooldown | None = None,
        max_concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        ids: list[str] | None = None,
        passthrough: bool = False,
    ) -> None:
        self.provider = provider
        ids = ids or [mask_key(k) for k in keys]
        self.keys = [
            KeyState(k, i if ids.count(i) == 1 else f"{i}#{n}", max_concurrency)
            for n, (k, i) in enumerate(zip(keys, ids, strict=True))
        ]
        self.rotation = rotation
        self.session_affinity = session_affinity and rotation == "balanced"
        self.cooldown = cooldown or Cooldown()
        self.clock = clock
        self._sessions: OrderedDict[str, KeyState] = OrderedDict()
        self._waiters: list[asyncio.Future[None]] = []
        self.sync: KeySync | None = None
        """Shares cooldowns, disabled keys and session affinity with other processes (Redis)."""
        self.quotas: PoolQuotas | None = None
        """Quota windows, learned limits and fair cycling of the keys (attached at start-up)."""
        self.passthrough = passthrough
        """The pool of one client's own credential: its key is empty (the credential travels with
        the request), its id a keyed hash; an upstream refusal of it is the client's error."""

    # ------------------------------------------------------------------ selection

    def _usable(self, state: KeyState, model: str, now: float) -> bool:
        if state.disabled or state.cool_until > now or state.model_cool_until.get(model, 0.0) > now:
            return False
        if self.quotas is not None and self.quotas.wait(state, model) > 0:
            return False
        return state.max_concurrency is None or state.in_flight < state.max_concurrency

    def try_acquire(
        self, model: str, session: str | None = None, exclude: frozenset[str] = frozenset()
    ) -> Lease | None:
        """Take a usable key now, or None. ``exclude``: key ids already tried by this request."""
        now = self.clock()
        chosen: KeyState | None = None
        if self.session_affinity and session:
            pinned = self._sessions.get(session)
            if pinned is not None and pinned.id not in exclude and self._usable(pinned, model, now):
                chosen = pinned
                self._sessions.move_to_end(session)
        if chosen is None:
            candidates = [s for s in self.keys if s.id not in exclude and self._usable(s, model, now)]
            if not candidates and self._new_cycle(model, now):
                candidates = [s for s in self.keys if s.id not in exclude and self._usable(s, model, now)]
            if not candidates:
                return None
            if self.rotation == "sequential":
                chosen = candidates[0]
            elif self.quotas is not None and len(candidates) > 1:  # the key with the most left first
                quotas = self.quotas
                chosen = min(candidates, key=lambda s: (-quotas.left(s, model), s.in_flight, s.served))
            else:
                chosen = min(candidates, key=lambda s: (s.in_flight, s.served))
            if self.session_affinity and session:
                self._sessions[session] = chosen
                self._sessions.move_to_end(session)
                if len(self._sessions) > SESSION_MEMORY:
                    self._sessions.popitem(last=False)
                if self.sync is not None:
                    self.sync.assigned(self, session, chosen)
        chosen.in_flight += 1
        chosen.served += 1
        return Lease(self, chosen, model)

    def available_at(self, model: str, exclude: frozenset[str] = frozenset()) -> float | None:
        """Seconds until some key can serve ``model`` (0: now or once one is released); None: never."""
        now = self.clock()
        times = []
        for s in self.keys:
            if s.id not in exclude and (t := s.free_at(model, now)) is not None:
                times.append(t if self.quotas is None else max(t, now + self.quotas.wait(s, model)))
        return (min(times) - now) if times else None

    def _new_cycle(self, model: str, now: float) -> bool:
        """Fair cycle: when every key is spent or otherwise unusable for ``model`` (none merely
        busy), the cycle ends and the spent marks go; True if any went."""
        quotas = self.quotas
        if quotas is None or not quotas.fair_cycle:
            return False
        for s in self.keys:
            held = s.cool_until > now or s.model_cool_until.get(model, 0.0) > now or quotas.wait(s, model) > 0
            if not s.disabled and not held:
                return False
        return quotas.new_cycle(model)

    async def lease(
        self,
        model: str,
        session: str | None = None,
        exclude: frozenset[str] = frozenset(),
        timeout: float | None = None,
    ) -> Lease:
        """Take a key, waiting while every usable key is at its concurrency limit.

        Raises NoKeyAvailable when no key can serve the model now for another reason (cooling,
        disabled), and TimeoutError when the wait for a free slot outlasts ``timeout``.
        """
        loop_deadline = None if timeout is None else self.clock() + timeout
        if self.sync is not None and self.session_affinity and session and session not in self._sessions:
            pinned = await self.sync.recall(self, session)  # pinned by another process?
            if pinned is not None:
                self._sessions[session] = pinned
        busy: frozenset[str] = frozenset()  # keys whose slots other processes hold
        refused: frozenset[str] = frozenset()  # keys whose quota window another process used up
        while True:
            lease = self.try_acquire(model, session, exclude | busy | refused)
            if lease is not None:
                if self.sync is not None and lease.state.max_concurrency is not None:
                    lease.slot = await self.sync.hold(self, lease.state)
                    if lease.slot is None:  # every slot is taken elsewhere: try another key
                        self._give_back(lease)
                        busy |= {lease.state.id}
                        continue
                if self.quotas is not None and not await self.quotas.take(lease.state, model):
                    self._give_back(lease)  # its window is used up (the view now shows it)
                    refused |= {lease.state.id}
                    continue
                return lease
            wait = self.available_at(model, exclude)
            if wait is None or wait > 0:
                causes, probe = self._cooling(model, exclude, self.clock())
                probe_in = None if probe is None else max(0.0, probe.cool_until - self.clock())
                raise NoKeyAvailable(self.provider, wait, causes, probe_in)
            remaining = None if loop_deadline is None else loop_deadline - self.clock()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"provider '{self.provider}': every key is at its concurrency limit")
            if busy:  # slots held by other processes are not announced: look again shortly
                busy = frozenset()
                await asyncio.sleep(min(SHARED_SLOT_POLL, remaining or SHARED_SLOT_POLL))
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _give_back(self, lease: Lease) -> None:
        """Undo a lease that was never used."""
        lease.state.in_flight -= 1
        lease.state.served -= 1
        lease.released = True
        if lease.slot and self.sync is not None:
            self.sync.unhold(lease.slot)

    def _cooling(self, model: str, exclude: frozenset[str], now: float) -> tuple[frozenset[str], KeyState | None]:
        """Why the candidate keys (not excluded, not disabled) are cooling, and the key for a
        half-open probe: when every candidate cools only after transient failures, the one whose
        cooldown ends first among those without a probe in flight (None otherwise)."""
        candidates = [s for s in self.keys if s.id not in exclude and not s.disabled]
        causes: set[str] = set()
        failing: list[KeyState] = []
        for s in candidates:
            if self.quotas is not None and self.quotas.wait(s, model) > 0:
                causes.add(OUT_OF_QUOTA)
            elif s.model_cool_until.get(model, 0.0) > now:
                causes.add(s.model_cool_cause.get(model, RATE_LIMITED))
            elif s.cool_until > now:
                causes.add(FAILING)
                failing.append(s)
            else:
                return frozenset(causes), None  # a candidate is not cooling (busy): no probe
        if causes != {FAILING}:
            return frozenset(causes), None
        ready = [s for s in failing if not s.probing and (s.max_concurrency is None or s.in_flight < s.max_concurrency)]
        return frozenset(causes), min(ready, key=lambda s: s.cool_until) if ready else None

    def probe(self, model: str, exclude: frozenset[str] = frozenset()) -> Lease | None:
        """A half-open probe: when every candidate key is cooling only because of transient
        failures, lease the one whose cooldown ends first (one probe per key at a time). Its
        success clears the key's failure run; a failure cools it again, for longer."""
        _, chosen = self._cooling(model, exclude, self.clock())
        if chosen is None:
            return None
        chosen.probing = True
        chosen.in_flight += 1
        chosen.served += 1
        return Lease(self, chosen, model, probe=True)

    # ------------------------------------------------------------------ outcomes

    def release(
        self, lease: Lease, action: Action | None = None, retry_after: float | None = None, error: str | None = None
    ) -> None:
        """Give the key back. ``action`` is None on success, else how the attempt failed."""
        if lease.released:
            return
        lease.released = True
        state, model, now = lease.state, lease.model, self.clock()
        state.in_flight -= 1
        if lease.slot and self.sync is not None:
            self.sync.unhold(lease.slot)
        if lease.probe:
            state.probing = False
        if action is None or action is Action.SURFACE:
            # the upstream answered: the key works (a probe's success ends its cooldown too)
            if self.sync is not None and (state.transient_streak or state.cool_until):
                self.sync.cleared(self, state, "recovered")
            state.transient_streak = 0
            state.cool_until = 0.0
            state.model_strikes.pop(model, None)
        else:
            state.failures += 1
            state.last_error = error
            if action is Action.COOL:
                strikes = state.model_strikes.get(model, 0) + 1
                state.model_strikes[model] = strikes
                wait = retry_after if retry_after is not None else self._backoff(strikes)
                self._cool_model(state, model, now + wait, RATE_LIMITED)
            elif action is Action.QUOTA:
                self._cool_model(state, model, now + max(retry_after or 0.0, QUOTA_COOLDOWN), OUT_OF_QUOTA)
            elif action is Action.DISABLE:
                state.disabled = error or "rejected by the upstream"
                if self.sync is not None:
                    self.sync.disabled(self, state, state.disabled)
            elif action is Action.TRANSIENT:
                state.transient_streak += 1
                if self.sync is not None:  # the run of failures counts every process's
                    self.sync.failed(self, state)
                if state.transient_streak >= TRANSIENT_STRIKES:
                    state.cool_until = now + self._backoff(state.transient_streak - TRANSIENT_STRIKES + 1)
                    if self.sync is not None:
                        self.sync.cooled(self, state, None, state.cool_until)
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ operator actions (shared through KeySync)

    def _by_id(self, key_id: str) -> KeyState:
        for state in self.keys:
            if state.id == key_id:
                return state
        raise KeyError(key_id)

    def enable(self, key_id: str) -> None:
        """Put a disabled key back in rotation (KeyError: no key with this id); with shared state,
        on every process."""
        state = self._by_id(key_id)
        state.disabled = None
        if self.sync is not None:
            self.sync.cleared(self, state, "disabled")
        self._wake_waiters()

    def clear_cooldown(self, key_id: str) -> None:
        """End the key's cooldowns, whole-key and per model, and forget its strikes (KeyError: no
        such key); with shared state, on every process."""
        state = self._by_id(key_id)
        clear_cooling(state)
        if self.quotas is not None:
            self.quotas.clear(state)
        if self.sync is not None:
            self.sync.cleared(self, state, "cooling")
        self._wake_waiters()

    def _cool_model(self, state: KeyState, model: str, until: float, cause: str) -> None:
        state.model_cool_until[model] = max(state.model_cool_until.get(model, 0.0), until)
        state.model_cool_cause[model] = cause
        if self.sync is not None:
            self.sync.cooled(self, state, model, state.model_cool_until[model])

    def _backoff(self, strikes: int) -> float:
        return min(self.cooldown.base * 2 ** (strikes - 1), self.cooldown.max)

    # ------------------------------------------------------------------ reporting

    def snapshot(self) -> list[dict]:
        """Each key's state for `switchyard keys` and the admin endpoint (masked ids only)."""
        now = self.clock()
        out = []
        for s in self.keys:
            cooling = {m: round(t - now, 1) for m, t in s.model_cool_until.items() if t > now}
            if s.disabled:
                status = "disabled"
            elif s.cool_until > now:
                status = "cooling"
            elif cooling:
                status = "cooling (some models)"
            else:
                status = "healthy"
            out.append(
                {
                    "key": s.id,
                    "status": status,
                    "in_flight": s.in_flight,
                    "served": s.served,
                    "failures": s.failures,
                    "cooling_for_s": round(s.cool_until - now, 1) if s.cool_until > now else 0,
                    "cooling_models_s": cooling,
                    "disabled_reason": s.disabled,
                    "last_error": s.last_error,
                    "quotas": self.quotas.snapshot(s) if self.quotas is not None else [],
                }
            )
        return out
