"""Fair cycling and quota-aware rotation in a key pool, on an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gateway_harness import closed_port
from test_quota_learned import gemini_quota_error

from switchyard.config import parse_config
from switchyard.keys import Action, KeyPool, NoKeyAvailable
from switchyard.quotas.redis_store import RedisQuotaStore
from switchyard.quotas.tracker import QuotaService
from switchyard.store.redis import connect

START = datetime(2026, 7, 1, 12, 0, tzinfo=UTC).timestamp()  # 05:00 in Los Angeles
HOUR = 3600.0
KEYS = ["gm-key-aaaa", "gm-key-bbbb", "gm-key-cccc"]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def pool_with(fair_cycle: bool, quotas: str = "[]", rotation: str = "sequential") -> tuple[KeyPool, Clock]:
    text = f"""
providers:
  gm:
    type: gemini
    api_keys: {KEYS}
    quotas: {quotas}
    routing: {{fair_cycle: {str(fair_cycle).lower()}, rotation: {rotation}}}
"""
    config = parse_config(text, "q.yaml", {}, Path.cwd())
    clock = Clock()
    pool = KeyPool("gm", KEYS, rotation=rotation, clock=clock, session_affinity=False)
    QuotaService(config, {"gm": pool}).wall = clock
    return pool, clock


async def serve(pool: KeyPool, model: str, error: bool) -> str:
    """Lease a key for one request; with ``error``, the upstream answers a per-day quota error."""
    lease = await pool.lease(model)
    if error:
        failure = gemini_quota_error("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "30s")
        assert pool.quotas is not None
        pool.quotas.learn_error(lease.state, model, failure)
        pool.release(lease, Action.QUOTA, failure.retry_after, "429 quota")
    else:
        pool.release(lease)
    return lease.key


@pytest.mark.parametrize("fair_cycle", [True, False])
def test_a_key_spent_for_the_day_stays_out_until_every_key_is_spent(fair_cycle: bool) -> None:
    async def go() -> list[str]:
        pool, clock = pool_with(fair_cycle)
        order = []
        for _ in range(3):
            order.append(await serve(pool, "gemini-2.5-pro", error=True))
            clock.now += 2 * HOUR  # past the retry delay and the key's quota cooldown
        order.append(await serve(pool, "gemini-2.5-pro", error=False))
        return order

    order = asyncio.run(go())
    if fair_cycle:
        # a, b, c each spent for the day in turn; then the cycle ends and a is offered again
        assert order == [KEYS[0], KEYS[1], KEYS[2], KEYS[0]]
    else:
        # without fair cycling the first key comes back as soon as its cooldown ends, every time
        assert order == [KEYS[0]] * 4


def test_a_spent_key_returns_when_its_window_resets() -> None:
    async def go() -> list[str]:
        pool, clock = pool_with(True)
        order = [await serve(pool, "gemini-2.5-pro", error=True)]
        clock.now += 2 * HOUR
        order.append(await serve(pool, "gemini-2.5-pro", error=False))
        clock.now = datetime(2026, 7, 2, 7, 0, tzinfo=UTC).timestamp()  # midnight in Los Angeles
        order.append(await serve(pool, "gemini-2.5-pro", error=False))
        return order

    assert asyncio.run(go()) == [KEYS[0], KEYS[1], KEYS[0]]


def test_marks_are_per_model() -> None:
    async def go() -> list[str]:
        pool, clock = pool_with(True)
        first = await serve(pool, "gemini-2.5-pro", error=True)
        clock.now += 2 * HOUR
        return [first, await serve(pool, "gemini-2.5-flash", error=False)]

    assert asyncio.run(go()) == [KEYS[0], KEYS[0]]


def test_rotation_prefers_the_key_with_more_left_and_refuses_when_all_are_out() -> None:
    async def go() -> tuple[list[str], NoKeyAvailable]:
        pool = pool_with(False, "[{requests: 5, window: 1d, reset: '00:00 America/Los_Angeles'}]", "balanced")[0]
        assert pool.quotas is not None
        # key a was used three times before (another process, or before a restart)
        for _ in range(3):
            assert await pool.quotas.take(pool.keys[0], "m")
        order = [await serve(pool, "m", error=False) for _ in range(12)]
        with pytest.raises(NoKeyAvailable) as caught:
            await pool.lease("m")
        return order, caught.value

    order, refused = asyncio.run(go())
    assert order[:4] == [KEYS[1], KEYS[2], KEYS[1], KEYS[2]]  # b and c until they have as little left as a
    assert [order.count(k) for k in KEYS] == [2, 5, 5]
    assert refused.causes == frozenset({"quota"})
    assert refused.retry_after == datetime(2026, 7, 2, 7, 0, tzinfo=UTC).timestamp() - START


def test_with_the_shared_store_unreachable_requests_are_counted_locally() -> None:
    async def go() -> list[bool]:
        pool = pool_with(False, "[{requests: 2, window: 1h}]")[0]
        assert pool.quotas is not None
        pool.quotas.service.store = RedisQuotaStore(connect(f"redis://127.0.0.1:{closed_port()}/0"), "unreachable:")
        return [await pool.quotas.take(pool.keys[0], "m") for _ in range(3)]

    assert asyncio.run(go()) == [True, True, False]


def test_rotation_prefers_the_key_the_upstream_says_has_more_left() -> None:
    async def go() -> list[str]:
        pool = pool_with(False, rotation="balanced")[0]
        assert pool.quotas is not None
        for state, remaining in zip(pool.keys, ("10", "90", "50"), strict=True):
            headers = {
                "x-ratelimit-limit-requests": "100",
                "x-ratelimit-remaining-requests": remaining,
                "x-ratelimit-reset-requests": "30s",
            }
            pool.quotas.learn_headers(state, "m", headers)
        return [await serve(pool, "m", error=False) for _ in range(2)]

    assert asyncio.run(go()) == [KEYS[1], KEYS[1]]  # until its next answer says otherwise
