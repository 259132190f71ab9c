"""The hot counters of governance: rate windows, requests in flight, budget reservations, spend.

One interface, :class:`Counters`, with two implementations chosen by ``state.backend``:
:class:`MemoryCounters` (one process) and ``RedisCounters`` (``redis_counters.py``: many
processes, each operation one atomic Lua script). Both keep the same invariants, which the tests
check against both:

- :meth:`Counters.admit` checks every subject of a request (its key, its team) and, only if all
  fit, counts the request in all of them — atomically: two requests can never both take the last
  unit of a limit or the last dollar of a budget.
- A budget admits a request only if ``spent + reserved < budget`` and
  ``spent + reserved + its reservation <= budget``; the reservation is the request's maximum cost.
- Every admitted request holds a *lease* (an id with an expiry time). :meth:`Counters.settle`
  gives it back exactly once: the reservation and the in-flight count are removed and the real
  spend is added. A lease that is not settled nor renewed by its expiry (its process died) is
  dropped by the next admission that looks at the subject, so nothing is held forever.
- A subject's spend in its budget window is what :meth:`Counters.settle` added (seeded from the
  durable ledger at start-up); a reservation is never more than the request can cost, so the
  admitted spend stays within the budget.
- ``version`` is bumped by every change to keys and teams; an admission made with a stale
  version is refused with ``STALE`` so the caller reloads its view first (revocation, new limits
  take effect on the next request on every process).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from ..core.errors import ErrorKind, GatewayError

STALE = "stale"


class CountersUnavailable(GatewayError):
    """The shared counters (Redis) cannot be reached."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            ErrorKind.OVERLOADED,
            f"the shared limits store is unreachable ({detail}); try again shortly",
            status=503,
            code="shared_state_unavailable",
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One subject's limits for one request (None: no such limit)."""

    subject: str
    rpm: int | None
    tpm: int | None
    max_parallel: int | None
    budget_nano: int | None
    budget_window: str
    """The budget window's id (also used for unbudgeted subjects' spend)."""


@dataclass(slots=True)
class Ticket:
    """An admitted request's hold on its subjects' counters; settled exactly once."""

    lease: str
    checks: tuple[Check, ...]
    """The limits to hold (subjects that have any)."""
    spend_to: tuple[tuple[str, str], ...]
    """(subject, budget window) pairs the request's spend is added to: its key and team, limited or not."""
    rate_window: int
    tokens: int
    """Tokens counted against ``tpm`` at admission (the input bound); settle replaces them with the real count."""
    reserve_nano: int
    used: list[tuple[int, int]] = field(default_factory=list)
    """Per check: (requests, tokens) counted in the rate window, this request included."""
    settled: bool = False
    local: bool = False
    """Admitted by this process's own counters while the shared ones were unreachable."""


@dataclass(frozen=True, slots=True)
class Refusal:
    subject: str
    limit: str
    """``rpm`` | ``tpm`` | ``parallel`` | ``budget``"""
    used: int
    allowed: int


@dataclass(frozen=True, slots=True)
class SubjectState:
    spent_nano: int
    reserved_nano: int
    in_flight: int
    requests: int
    tokens: int


class Counters(abc.ABC):
    @abc.abstractmethod
    async def admit(
        self,
        ticket: Ticket,
        *,
        now: float,
        expires: float,
        version: int,
    ) -> Refusal | str | None:
        """Count ``ticket`` in all its subjects if every limit holds: None (admitted; ``ticket.used``
        is filled), a :class:`Refusal`, or :data:`STALE` when ``version`` is not current."""

    @abc.abstractmethod
    async def settle(self, ticket: Ticket, *, spend_nano: int, tokens: int) -> None:
        """Give back ``ticket``'s lease, add ``spend_nano`` to its subjects' spend and correct
        the rate window's token count to ``tokens``."""

    @abc.abstractmethod
    async def renew(self, tickets: list[Ticket], expires: float) -> None:
        """Extend the leases of requests still running."""

    @abc.abstractmethod
    async def state(self, subject: str, budget_window: str, rate_window: int, now: float) -> SubjectState: ...

    @abc.abstractmethod
    async def seed(self, subject: str, budget_window: str, spent_nano: int) -> None:
        """Set a window's spend from the durable ledger, unless the counters already have it."""

    @abc.abstractmethod
    async def version(self) -> int: ...

    @abc.abstractmethod
    async def bump(self) -> int:
        """Mark keys and teams as changed; returns the new version."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (nothing to do in memory)."""


@dataclass(slots=True)
class _Subject:
    window: int = -1
    requests: int = 0
    tokens: int = 0
    flight: dict[str, float] = field(default_factory=dict)
    reserved: dict[str, tuple[int, float]] = field(default_factory=dict)
    reserved_sum: int = 0
    next_purge: float = float("inf")

    def roll(self, window: int) -> None:
        if window != self.window:
            self.window, self.requests, self.tokens = window, 0, 0

    def purge(self, now: float) -> None:
        if now < self.next_purge:
            return
        for lease in [k for k, exp in self.flight.items() if exp <= now]:
            del self.flight[lease]
        for lease in [k for k, (_, exp) in self.reserved.items() if exp <= now]:
            self.reserved_sum -= self.reserved.pop(lease)[0]
        expiries = [*self.flight.values(), *(exp for _, exp in self.reserved.values())]
        self.next_purge = min(expiries, default=float("inf"))

    def hold(self, lease: str, expires: float, reserve: int | None) -> None:
        self.flight[lease] = expires
        if reserve is not None:
            self.reserved[lease] = (reserve, expires)
            self.reserved_sum += reserve
        self.next_purge = min(self.next_purge, expires)

    def release(self, lease: str) -> None:
        self.flight.pop(lease, None)
        held = self.reserved.pop(lease, None)
        if held is not None:
            self.reserved_sum -= held[0]


class MemoryCounters(Counters):
    """Counters for one process. Every method runs without awaiting, so each is atomic."""

    def __init__(self) -> None:
        self._subjects: dict[str, _Subject] = {}
        self._spent: dict[tuple[str, str], int] = {}
        self._version = 0

    def _get(self, subject: str) -> _Subject:
        found = self._subjects.get(subject)
        if found is None:
            found = self._subjects[subject] = _Subject()
        return found

    async def admit(self, ticket: Ticket, *, now: float, expires: float, version: int) -> Refusal | str | None:
        if version != self._version:
            return STALE
        subjects = []
        for check in ticket.checks:
            s = self._get(check.subject)
            s.purge(now)
            s.roll(ticket.rate_window)
            if check.rpm is not None and s.requests >= check.rpm:
                return Refusal(check.subject, "rpm", s.requests, check.rpm)
            if check.tpm is not None and s.tokens + ticket.tokens > check.tpm:
                return Refusal(check.subject, "tpm", s.tokens, check.tpm)
            if check.max_parallel is not None and len(s.flight) >= check.max_parallel:
                return Refusal(check.subject, "parallel", len(s.flight), check.max_parallel)
            if check.budget_nano is not None:
                committed = self._spent.get((check.subject, check.budget_window), 0) + s.reserved_sum
                if committed >= check.budget_nano or committed + ticket.reserve_nano > check.budget_nano:
                    return Refusal(check.subject, "budget", committed, check.budget_nano)
            subjects.append(s)
        ticket.used = []
        for check, s in zip(ticket.checks, subjects, strict=True):
            s.requests += 1
            s.tokens += ticket.tokens
            s.hold(ticket.lease, expires, ticket.reserve_nano if check.budget_nano is not None else None)
            ticket.used.append((s.requests, s.tokens))
        return None

    async def settle(self, ticket: Ticket, *, spend_nano: int, tokens: int) -> None:
        for check in ticket.checks:
            s = self._get(check.subject)
            s.release(ticket.lease)
            if s.window == ticket.rate_window:
                s.tokens += tokens - ticket.tokens
        if spend_nano:
            for pair in ticket.spend_to:
                self._spent[pair] = self._spent.get(pair, 0) + spend_nano

    async def renew(self, tickets: list[Ticket], expires: float) -> None:
        for ticket in tickets:
            for check in ticket.checks:
                s = self._get(check.subject)
                if ticket.lease in s.flight:
                    s.flight[ticket.lease] = expires
                held = s.reserved.get(ticket.lease)
                if held is not None:
                    s.reserved[ticket.lease] = (held[0], expires)

    async def state(self, subject: str, budget_window: str, rate_window: int, now: float) -> SubjectState:
        s = self._get(subject)
        s.purge(now)
        current = s.window == rate_window
        return SubjectState(
            spent_nano=self._spent.get((subject, budget_window), 0),
            reserved_nano=s.reserved_sum,
            in_flight=len(s.flight),
            requests=s.requests if current else 0,
            tokens=s.tokens if current else 0,
        )

    async def seed(self, subject: str, budget_window: str, spent_nano: int) -> None:
        self._spent.setdefault((subject, budget_window), spent_nano)

    async def version(self) -> int:
        return self._version

    async def bump(self) -> int:
        self._version += 1
        return self._version
