"""keys/shared.py directly: two processes' key pools (two KeySyncs with their own Redis clients, in
one event loop) see each other's cooldowns, disabled keys, and an operator's re-enable or clear."""

from __future__ import annotations

import asyncio
import time

from redis_support import REDIS_URL, fresh_prefix
from switchyard.keys import Action, KeyPool
from switchyard.keys.shared import KeySync
from switchyard.store.redis import connect

KEYS = ["sk-sync-test-key-0001", "sk-sync-test-key-0002"]


async def eventually(check, what: str, timeout: float = 5.0) -> None:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"{what} did not reach the other process"
        await asyncio.sleep(0.005)


def test_cooldowns_disables_and_operator_clears_reach_the_other_process() -> None:
    async def main(prefix: str) -> None:
        a, b = KeyPool("p", KEYS), KeyPool("p", KEYS)
        syncs = [KeySync(connect(REDIS_URL), prefix, {"p": pool}) for pool in (a, b)]
        for sync in syncs:
            await sync.start()
        try:
            lease = a.try_acquire("m")
            assert lease is not None and lease.key == KEYS[0]
            a.release(lease, Action.COOL, 60)
            await eventually(lambda: b.keys[0].model_cool_until.get("m", 0) > time.monotonic() + 50, "a cooldown")
            assert b.try_acquire("m").key == KEYS[1]  # type: ignore[union-attr]
            a.clear_cooldown(a.keys[0].id)
            await eventually(lambda: not b.keys[0].model_cool_until, "a cleared cooldown")

            lease = b.try_acquire("m", exclude=frozenset({b.keys[1].id}))
            b.release(lease, Action.DISABLE, error="401 authentication")  # type: ignore[arg-type]
            await eventually(lambda: a.keys[0].disabled is not None, "a disabled key")
            b.enable(b.keys[0].id)
            await eventually(lambda: a.keys[0].disabled is None, "a re-enabled key")

            late = KeyPool("p", KEYS)  # a process that starts later loads what is in force
            a.release(a.try_acquire("m2", exclude=frozenset({a.keys[1].id})), Action.COOL, 30)  # type: ignore[arg-type]
            await eventually(lambda: "m2" in b.keys[0].model_cool_until, "a second cooldown")
            syncs.append(KeySync(connect(REDIS_URL), prefix, {"p": late}))
            await syncs[-1].start()
            assert late.keys[0].model_cool_until.get("m2", 0) > time.monotonic() + 20
            assert late.keys[0].disabled is None
        finally:
            for sync in syncs:
                await sync.close()

    with fresh_prefix() as prefix:
        asyncio.run(main(prefix))


def test_a_run_of_transient_failures_spread_over_processes_cools_the_key_everywhere() -> None:
    async def main(prefix: str) -> None:
        a, b = KeyPool("p", KEYS[:1]), KeyPool("p", KEYS[:1])
        syncs = [KeySync(connect(REDIS_URL), prefix, {"p": pool}) for pool in (a, b)]
        for sync in syncs:
            await sync.start()
        try:
            for n, pool in enumerate((a, b, a), start=1):  # failures on both processes, one run
                pool.release(pool.try_acquire("m"), Action.TRANSIENT)  # type: ignore[arg-type]
                other = b if pool is a else a
                await eventually(lambda other=other, n=n: other.keys[0].transient_streak == n, f"failure {n}")
            await eventually(lambda: b.keys[0].cool_until > time.monotonic(), "the run's cooldown")
            assert a.try_acquire("m") is None and b.try_acquire("m") is None
            probe = b.probe("m")  # half-open: the upstream answers again
            assert probe is not None
            b.release(probe)
            await eventually(lambda: a.keys[0].transient_streak == 0 and a.keys[0].cool_until == 0, "the recovery")
            assert a.try_acquire("m") is not None
        finally:
            for sync in syncs:
                await sync.close()

    with fresh_prefix() as prefix:
        asyncio.run(main(prefix))
