"""The attempt loop: next key, then next target; surface client errors; deadlines; retry hints."""

from __future__ import annotations

import asyncio
import time

import pytest

from switchyard.core.errors import ErrorKind, GatewayError
from switchyard.keys import KeyPool
from switchyard.routing import AttemptsExhausted, Target, run_attempts

A = Target("a", "m1")
B = Target("b", "m2")


def pools(**keys: list[str]) -> dict[str, KeyPool]:
    return {name: KeyPool(name, ks, rotation="sequential") for name, ks in keys.items()}


def scripted(outcomes: dict[str, list]):
    """call() that pops the next outcome for the key used: an exception to raise or a value."""
    log: list[tuple[str, str]] = []

    async def call(target: Target, lease) -> str:
        log.append((str(target), lease.key))
        outcome = outcomes[lease.key].pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "hang":
            await asyncio.sleep(10)
        return outcome

    return call, log


def run(targets, p, call, retries=2, timeout=5.0):

    async def main():
        return await run_attempts(targets, p, call, retries=retries, deadline=time.monotonic() + timeout)

    return asyncio.run(main())


def err(kind: str, status: int | None = None, retry_after: float | None = None) -> GatewayError:
    return GatewayError(kind, kind, status=status, retry_after=retry_after)


def test_rate_limited_key_moves_to_the_next_key_of_the_same_target():
    p = pools(a=["ka1-xxxxxxxx", "ka2-xxxxxxxx"], b=["kb1-xxxxxxxx"])
    call, log = scripted(
        {"ka1-xxxxxxxx": [err(ErrorKind.RATE_LIMIT, 429, 30)], "ka2-xxxxxxxx": ["ok"], "kb1-xxxxxxxx": []}
    )
    out = run((A, B), p, call)
    assert out.result == "ok" and out.target == A
    assert log == [("a/m1", "ka1-xxxxxxxx"), ("a/m1", "ka2-xxxxxxxx")]
    assert [a.error for a in out.attempts] == ["rate_limit", None]
    out.lease.pool.release(out.lease)


def test_server_errors_fall_back_to_the_next_target():
    p = pools(a=["ka1-xxxxxxxx"], b=["kb1-xxxxxxxx"])
    call, log = scripted({"ka1-xxxxxxxx": [err(ErrorKind.SERVER, 500)], "kb1-xxxxxxxx": ["ok"]})
    out = run((A, B), p, call)
    assert out.target == B and [t for t, _ in log] == ["a/m1", "b/m2"]


def test_client_errors_are_returned_at_once():
    p = pools(a=["ka1-xxxxxxxx"], b=["kb1-xxxxxxxx"])
    call, log = scripted({"ka1-xxxxxxxx": [err(ErrorKind.INVALID_REQUEST, 400)], "kb1-xxxxxxxx": ["ok"]})
    with pytest.raises(AttemptsExhausted) as info:
        run((A, B), p, call)
    assert info.value.status == 400 and len(log) == 1


def test_retries_bound_the_number_of_attempts():
    p = pools(a=["ka1-xxxxxxxx"])
    call, log = scripted({"ka1-xxxxxxxx": [err(ErrorKind.SERVER, 502)] * 5})
    with pytest.raises(AttemptsExhausted) as info:
        run((A,), p, call, retries=2)
    assert len(log) == 3 and info.value.status == 502 and len(info.value.attempts) == 3


def test_all_rate_limited_gives_429_with_the_wait():
    p = pools(a=["ka1-xxxxxxxx"], b=["kb1-xxxxxxxx"])
    call, _ = scripted(
        {"ka1-xxxxxxxx": [err(ErrorKind.RATE_LIMIT, 429, 20)], "kb1-xxxxxxxx": [err(ErrorKind.RATE_LIMIT, 429, 7)]}
    )
    with pytest.raises(AttemptsExhausted) as info:
        run((A, B), p, call)
    assert info.value.status == 429 and info.value.retry_after == 7
    # Now every key is cooling: no attempt at all, still a 429 with the earliest wait.
    call2, log2 = scripted({})
    with pytest.raises(AttemptsExhausted) as info:
        run((A, B), p, call2)
    assert log2 == [] and info.value.status == 429 and 5 < info.value.retry_after <= 7


def test_bad_key_is_disabled_and_skipped_next_time():
    p = pools(a=["ka1-xxxxxxxx", "ka2-xxxxxxxx"])
    call, log = scripted({"ka1-xxxxxxxx": [err(ErrorKind.AUTHENTICATION, 401)], "ka2-xxxxxxxx": ["ok", "ok"]})
    out = run((A,), p, call)
    out.lease.pool.release(out.lease)
    out = run((A,), p, call)
    assert [k for _, k in log] == ["ka1-xxxxxxxx", "ka2-xxxxxxxx", "ka2-xxxxxxxx"]


def test_a_hanging_attempt_ends_at_the_deadline():
    p = pools(a=["ka1-xxxxxxxx"])
    call, _ = scripted({"ka1-xxxxxxxx": ["hang"]})
    with pytest.raises(AttemptsExhausted) as info:
        run((A,), p, call, timeout=0.2)
    assert info.value.kind == ErrorKind.TIMEOUT
    assert p["a"].keys[0].in_flight == 0
