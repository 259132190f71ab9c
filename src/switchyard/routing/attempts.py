"""The attempt loop: keys within a target, then the next target of a fallback group.

:func:`run_attempts` knows nothing of HTTP or protocols. It leases a key from the target
provider's pool, calls ``call(target, lease)``, and on a failure raised *before the first byte
reached the client* (a :class:`GatewayError`) applies the classification table
(:mod:`switchyard.keys.classify`): the client's own errors are returned at once; rate limits,
quota, bad keys and upstream faults move on — first to another key of the same target, then to
the next target — until ``retries`` further attempts are spent or the request deadline passes.
A refused credential that is the client's own (a passthrough pool) is the client's error: it is
returned at once and the credential is not disabled.

On success it returns the call's result with the lease still held: the caller releases it when
the response (or stream) is over, reporting how it ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..core.errors import ErrorKind, GatewayError
from ..keys import Action, KeyPool, Lease, NoKeyAvailable, classify
from ..keys.pool import FAILING, OUT_OF_QUOTA, RATE_LIMITED
from .resolve import Target

T = TypeVar("T")


@dataclass(slots=True)
class AttemptRecord:
    target: str
    key_id: str | None
    status: int | None
    error: str | None  # error kind, None on success
    latency_ms: float

    def header(self) -> str:
        outcome = "ok" if self.error is None else f"{self.status or '-'} {self.error}"
        return f"{self.target} key={self.key_id or '-'} {outcome} {self.latency_ms:.0f}ms"


@dataclass(slots=True)
class Outcome(Generic[T]):
    result: T
    target: Target
    lease: Lease
    attempts: list[AttemptRecord] = field(default_factory=list)


class AttemptsExhausted(GatewayError):
    """Every attempt failed; carries the last upstream error's kind, status and retry hint."""

    def __init__(self, error: GatewayError, attempts: list[AttemptRecord]) -> None:
        super().__init__(
            error.kind,
            error.message,
            status=error.status,
            param=error.param,
            retry_after=error.retry_after,
            code=error.code,
            upstream_type=error.upstream_type,
            details=error.details,
        )
        self.attempts = attempts


async def run_attempts(
    targets: tuple[Target, ...],
    pools: Mapping[str, KeyPool],
    call: Callable[[Target, Lease], Awaitable[T]],
    *,
    retries: int,
    deadline: float,
    session: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome[T]:
    """Try targets in order within ``deadline`` (clock time).

    One pass walks the targets; on each it tries keys not yet tried in this pass until none is
    usable, then moves to the next target. Passes repeat while attempts remain and the last pass
    made one (a key that failed transiently may be tried again; a cooling one is not).

    Half-open probe: when a pass finds no usable key anywhere and every candidate key of every
    target is cooling only because of transient failures (5xx, dropped connections, stalls,
    timeouts — not rate limits, quota or rejected keys), the key whose cooldown ends first (one
    this request has not seen fail) is tried anyway; a success clears its run of failures.
    """
    attempts: list[AttemptRecord] = []
    budget = retries + 1
    last_error: GatewayError | None = None
    soonest: float | None = None  # seconds until a cooling key frees up
    causes: set[str] = set()  # why keys were found cooling
    failed: dict[str, set[str]] = {}  # provider -> key ids that failed for this request

    async def one(target: Target, lease: Lease) -> Outcome[T] | None:
        """One attempt; the outcome on success, None after a failure worth moving on from."""
        nonlocal last_error
        pool = pools[target.provider]
        started = clock()
        try:
            result = await asyncio.wait_for(call(target, lease), max(deadline - clock(), 0.001))
        except TimeoutError:
            error: GatewayError = GatewayError(ErrorKind.TIMEOUT, "the request deadline passed")
        except GatewayError as exc:
            error = exc
        except BaseException:
            pool.release(lease)
            raise
        else:
            attempts.append(AttemptRecord(str(target), lease.key_id, None, None, (clock() - started) * 1000))
            return Outcome(result, target, lease, attempts)
        action = classify(error.kind)
        if action is Action.DISABLE and pool.passthrough:
            action = Action.SURFACE  # the upstream refused the client's own credential: its error to see
        pool.release(lease, action, error.retry_after, f"{error.status} {error.kind}")
        attempts.append(AttemptRecord(str(target), lease.key_id, error.status, error.kind, (clock() - started) * 1000))
        if action is Action.SURFACE:
            raise AttemptsExhausted(error, attempts)
        failed.setdefault(target.provider, set()).add(lease.key_id)
        last_error = error
        return None

    attempted = True
    while budget > 0 and attempted:
        attempted = False
        tried: dict[str, set[str]] = {}
        cooling: list[tuple[Target, NoKeyAvailable]] = []
        index = 0
        while budget > 0 and index < len(targets):
            target = targets[index]
            pool = pools[target.provider]
            exclude = tried.setdefault(target.provider, set())
            remaining = deadline - clock()
            if remaining <= 0:
                budget = 0
                break
            try:
                lease = await pool.lease(target.model, session, frozenset(exclude), timeout=remaining)
            except NoKeyAvailable as exc:
                if exc.retry_after is not None:
                    soonest = exc.retry_after if soonest is None else min(soonest, exc.retry_after)
                    causes.update(exc.causes)
                    cooling.append((target, exc))
                index += 1
                continue
            except TimeoutError:
                budget = 0
                break
            budget -= 1
            attempted = True
            outcome = await one(target, lease)
            if outcome is not None:
                return outcome
            exclude.add(lease.key_id)
        if attempted or budget <= 0 or not cooling or any(exc.probe_in is None for _, exc in cooling):
            continue
        # nothing usable, and every cooling key cools only after transient failures: probe the
        # one whose cooldown ends first
        for target, _ in sorted(cooling, key=lambda c: c[1].probe_in or 0.0):
            lease = pools[target.provider].probe(target.model, frozenset(failed.get(target.provider, ())))
            if lease is None:
                continue
            budget -= 1
            attempted = True
            outcome = await one(target, lease)
            if outcome is not None:
                return outcome
            break
    if last_error is not None:
        if classify(last_error.kind) is Action.DISABLE:
            # the upstream rejected the gateway's own credentials: not the client's key at fault
            last_error = GatewayError(
                ErrorKind.UNAVAILABLE,
                f"no usable credentials: the upstream rejected the key ({last_error.status}: {last_error.message})",
                status=503,
            )
        raise AttemptsExhausted(last_error, attempts)
    if soonest is not None:
        raise AttemptsExhausted(cooling_error(causes, max(1.0, soonest)), attempts)
    if deadline - clock() <= 0:
        raise AttemptsExhausted(GatewayError(ErrorKind.TIMEOUT, "the request deadline passed"), attempts)
    raise AttemptsExhausted(
        GatewayError(ErrorKind.UNAVAILABLE, "no usable credentials: every key of every target is disabled", status=503),
        attempts,
    )


CAUSE_TEXT = {
    RATE_LIMITED: "rate limits",
    OUT_OF_QUOTA: "exhausted quota",
    FAILING: "upstream failures (5xx, dropped connections, stalls or timeouts)",
}


def cooling_error(causes: set[str], retry_after: float) -> GatewayError:
    """Every key of every target is cooling: the error names why (rate limits and quota are a
    429; keys cooling after upstream failures, with a probe already under way, a 503)."""
    named = " and ".join(CAUSE_TEXT[c] for c in (RATE_LIMITED, OUT_OF_QUOTA, FAILING) if c in causes) or "failures"
    message = f"every key of every target is cooling down after {named}; retry later"
    if causes and causes <= {FAILING}:
        return GatewayError(ErrorKind.OVERLOADED, message, status=503, retry_after=retry_after)
    kind = ErrorKind.QUOTA if causes == {OUT_OF_QUOTA} else ErrorKind.RATE_LIMIT
    return GatewayError(kind, message, retry_after=retry_after)
