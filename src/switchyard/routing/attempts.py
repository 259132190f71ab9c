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
    """
    attempts: list[AttemptRecord] = []
    budget = retries + 1
    last_error: GatewayError | None = None
    soonest: float | None = None  # seconds until a cooling key frees up
    attempted = True
    while budget > 0 and attempted:
        attempted = False
        tried: dict[str, set[str]] = {}
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
                index += 1
                continue
            except TimeoutError:
                budget = 0
                break
            budget -= 1
            attempted = True
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
            attempts.append(
                AttemptRecord(str(target), lease.key_id, error.status, error.kind, (clock() - started) * 1000)
            )
            if action is Action.SURFACE:
                raise AttemptsExhausted(error, attempts)
            exclude.add(lease.key_id)
            last_error = error
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
        raise AttemptsExhausted(
            GatewayError(
                ErrorKind.RATE_LIMIT,
                "every key of every target is cooling down after rate limits; retry later",
                retry_after=max(1.0, soonest),
            ),
            attempts,
        )
    if deadline - clock() <= 0:
        raise AttemptsExhausted(GatewayError(ErrorKind.TIMEOUT, "the request deadline passed"), attempts)
    raise AttemptsExhausted(
        GatewayError(ErrorKind.UNAVAILABLE, "no usable credentials: every key of every target is disabled", status=503),
        attempts,
    )
