"""Key pool rotation, cooldowns, disabling, affinity and concurrency (clock injected)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from switchyard.config import Cooldown
from switchyard.keys import Action, KeyPool, NoKeyAvailable, classify, parse_duration, retry_after_from_headers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pool(n: int = 3, **kw) -> tuple[KeyPool, Clock]:
    clock = Clock()
    return KeyPool("p", [f"sk-test-key-{i:04d}" for i in range(n)], clock=clock, **kw), clock


def serve(
    p: KeyPool, model: str = "m", session: str | None = None, action: Action | None = None, retry_after=None
) -> str:
    lease = p.try_acquire(model, session)
    assert lease is not None
    p.release(lease, action, retry_after)
    return lease.key


def test_balanced_spreads_300_requests_evenly():
    p, _ = pool()
    counts = Counter(serve(p) for _ in range(300))
    assert all(abs(c - 100) <= 20 for c in counts.values()) and len(counts) == 3


def test_balanced_prefers_least_in_flight():
    p, _ = pool()
    held = [p.try_acquire("m") for _ in range(2)]
    assert len({lease.key for lease in held}) == 2
    third = p.try_acquire("m")
    assert third.key not in {lease.key for lease in held}


def test_sequential_stays_on_one_key_until_it_fails():
    p, clock = pool(rotation="sequential")
    assert {serve(p) for _ in range(20)} == {"sk-test-key-0000"}
    serve(p, action=Action.COOL, retry_after=30)
    assert {serve(p) for _ in range(5)} == {"sk-test-key-0001"}
    clock.now += 31
    assert serve(p) == "sk-test-key-0000"


def test_rate_limited_key_cools_for_that_model_only_then_returns():
    p, clock = pool(2, rotation="sequential")
    serve(p, "m1", action=Action.COOL, retry_after=10)
    assert serve(p, "m1") == "sk-test-key-0001"
    assert serve(p, "m2") == "sk-test-key-0000"  # other models unaffected
    clock.now += 10.5
    assert serve(p, "m1") == "sk-test-key-0000"


def test_backoff_without_upstream_wait_grows_and_is_capped():
    p, clock = pool(1, cooldown=Cooldown(base=2, max=5))
    serve(p, action=Action.COOL)
    assert p.available_at("m") == pytest.approx(2)
    clock.now += 2
    serve(p, action=Action.COOL)
    assert p.available_at("m") == pytest.approx(4)
    clock.now += 4
    serve(p, action=Action.COOL)
    assert p.available_at("m") == pytest.approx(5)


def test_disabled_key_is_never_used_again():
    p, clock = pool(2)
    lease = p.try_acquire("m")
    p.release(lease, Action.DISABLE, error="401 invalid_api_key")
    clock.now += 10**6
    assert {serve(p) for _ in range(10)} == {k.key for k in p.keys if k.key != lease.key}
    assert p.snapshot()[p.keys.index(lease.state)]["status"] == "disabled"


def test_all_cooling_raises_with_earliest_wait_and_all_disabled_with_none():
    p, _ = pool(2)
    for wait in (30, 12):
        lease = p.try_acquire("m")
        p.release(lease, Action.COOL, wait)
    with pytest.raises(NoKeyAvailable) as info:
        asyncio.run(p.lease("m"))
    assert info.value.retry_after == pytest.approx(12)
    q, _ = pool(1)
    q.release(q.try_acquire("m"), Action.DISABLE)
    with pytest.raises(NoKeyAvailable) as info:
        asyncio.run(q.lease("m"))
    assert info.value.retry_after is None


def test_transient_failures_cool_a_key_only_after_a_streak():
    p, _ = pool(1)
    for _ in range(2):
        serve(p, action=Action.TRANSIENT)
    assert p.try_acquire("m") is not None  # still usable after two
    p, _ = pool(1)
    for _ in range(3):
        serve(p, action=Action.TRANSIENT)
    assert p.try_acquire("m") is None


def test_success_resets_the_transient_streak():
    p, _ = pool(1)
    for _ in range(5):
        serve(p, action=Action.TRANSIENT)
        serve(p, action=Action.TRANSIENT)
        serve(p)
    assert p.try_acquire("m") is not None


def test_quota_cools_that_model_for_the_quota_window():
    p, _ = pool(1)
    serve(p, "m", action=Action.QUOTA)
    assert p.available_at("m") >= 3600 and p.available_at("other") == 0


def test_session_stays_on_its_key_and_moves_when_it_cools():
    p, _ = pool()
    first = serve(p, session="s1")
    for _ in range(10):
        serve(p)  # other traffic
        assert serve(p, session="s1") == first
    lease = p.try_acquire("m", "s1")
    p.release(lease, Action.COOL, 60)
    moved = serve(p, session="s1")
    assert moved != first
    assert serve(p, session="s1") == moved


def test_exclude_skips_keys_already_tried():
    p, _ = pool()
    lease = p.try_acquire("m")
    p.release(lease, Action.TRANSIENT)
    again = p.try_acquire("m", exclude=frozenset({lease.key_id}))
    assert again.key != lease.key


def test_concurrency_limit_holds_under_100_concurrent_requests():
    async def main() -> int:
        p = KeyPool("p", ["sk-aaaa-1111", "sk-bbbb-2222"], max_concurrency=3)
        peak = 0

        async def one() -> None:
            nonlocal peak
            lease = await p.lease("m", timeout=10)
            try:
                assert all(s.in_flight <= 3 for s in p.keys)
                peak = max(peak, sum(s.in_flight for s in p.keys))
                await asyncio.sleep(0.002)
            finally:
                p.release(lease)

        await asyncio.gather(*(one() for _ in range(100)))
        assert all(s.in_flight == 0 for s in p.keys)
        return peak

    assert asyncio.run(main()) == 6


def test_waiting_for_a_busy_key_times_out():
    async def main() -> None:
        p = KeyPool("p", ["sk-aaaa-1111"], max_concurrency=1)
        held = await p.lease("m")
        with pytest.raises(TimeoutError):
            await p.lease("m", timeout=0.05)
        p.release(held)
        p.release(await p.lease("m", timeout=0.05))

    asyncio.run(main())


def test_snapshot_never_shows_a_whole_key():
    p, _ = pool()
    text = repr(p.snapshot())
    assert "sk-test-key" not in text and "…0000" in text


def test_classification_table():
    assert classify("rate_limit") is Action.COOL
    assert classify("quota") is Action.QUOTA
    assert classify("authentication") is Action.DISABLE and classify("permission") is Action.DISABLE
    for kind in ("overloaded", "server", "timeout", "unavailable"):
        assert classify(kind) is Action.TRANSIENT
    for kind in ("invalid_request", "not_found", "request_too_large"):
        assert classify(kind) is Action.SURFACE


def test_retry_after_header_styles():
    now = 1_700_000_000.0
    assert retry_after_from_headers({"retry-after": "7"}, now) == 7
    assert retry_after_from_headers({"retry-after-ms": "1500", "retry-after": "9"}, now) == 1.5
    assert retry_after_from_headers({"retry-after": "Tue, 14 Nov 2023 22:13:40 GMT"}, now) == pytest.approx(20)
    reset = {
        "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:50Z",
        "anthropic-ratelimit-tokens-reset": "2023-11-14T22:13:25Z",
    }
    assert retry_after_from_headers(reset, now) == pytest.approx(30)
    assert retry_after_from_headers({"x-ratelimit-reset-requests": "1m0.5s"}, now) == pytest.approx(60.5)
    assert retry_after_from_headers({}, now) is None
    assert parse_duration("45.837906927s") == pytest.approx(45.837906927)
    assert parse_duration("210ms") == pytest.approx(0.21) and parse_duration("soon") is None


def test_half_open_probe_only_when_every_key_cools_after_transient_failures():
    p, clock = pool(2)
    for state, streak_end in zip(p.keys, (100.0, 40.0), strict=True):
        state.cool_until, state.transient_streak = clock.now + streak_end, 3
    with pytest.raises(NoKeyAvailable) as info:
        asyncio.run(p.lease("m"))
    assert info.value.causes == {"transient"} and info.value.probe_in == pytest.approx(40)
    probe = p.probe("m")
    assert probe is not None and probe.probe and probe.key == "sk-test-key-0001"  # the soonest to end
    second = p.probe("m")
    assert second is not None and second.key == "sk-test-key-0000"  # one probe per key at a time
    assert p.probe("m") is None
    p.release(probe)  # success: the run of failures is over
    assert p.keys[1].cool_until == 0 and p.keys[1].transient_streak == 0 and not p.keys[1].probing
    p.release(second, Action.TRANSIENT)  # failure: cools again, for longer
    assert p.keys[0].transient_streak == 4 and p.keys[0].cool_until == clock.now + 10  # base 5, doubled
    assert not p.keys[0].probing
    # a rate limit anywhere: no probe
    q, clock = pool(2)
    q.keys[0].cool_until, q.keys[0].transient_streak = clock.now + 50, 3
    q.release(q.try_acquire("m"), Action.COOL, 30)
    with pytest.raises(NoKeyAvailable) as info:
        asyncio.run(q.lease("m"))
    assert info.value.causes == {"transient", "rate_limit"} and info.value.probe_in is None
    assert q.probe("m") is None


def test_enable_puts_a_disabled_key_back_in_rotation():
    p, _ = pool(1)
    serve(p, action=Action.DISABLE)
    assert p.try_acquire("m") is None
    key_id = p.keys[0].id
    p.enable(key_id)
    assert p.snapshot()[0]["status"] == "healthy"
    assert serve(p) == "sk-test-key-0000"
    with pytest.raises(KeyError):
        p.enable("…none")


def test_clear_cooldown_ends_whole_key_and_model_cooldowns():
    p, _ = pool(1)
    serve(p, model="a", action=Action.COOL, retry_after=600)
    for _ in range(3):
        serve(p, model="b", action=Action.TRANSIENT)
    assert p.snapshot()[0]["status"] == "cooling" and p.try_acquire("a") is None
    p.clear_cooldown(p.keys[0].id)
    assert p.snapshot()[0]["status"] == "healthy" and p.keys[0].model_strikes == {}
    assert serve(p, model="a") == serve(p, model="b") == "sk-test-key-0000"
