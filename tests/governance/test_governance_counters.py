"""The counters' contract (``governance/counters.py``), the same for memory and Redis.

Redis runs with several clients at once: each stands for another gateway process.
"""

from __future__ import annotations

import asyncio
import itertools
import random

from switchyard.governance.counters import STALE, Check, Refusal, Ticket

NOW = 1_000_000.0
_leases = itertools.count()


def check(subject: str = "key:a", *, rpm=None, tpm=None, par=None, budget=None, window="total") -> Check:
    return Check(subject, rpm, tpm, par, budget, window)


def ticket(*checks: Check, reserve: int = 0, tokens: int = 0, rate_window: int = 0) -> Ticket:
    spend_to = tuple((c.subject, c.budget_window) for c in checks)
    return Ticket(f"lease-{next(_leases)}", tuple(checks), spend_to, rate_window, tokens, reserve)


async def admit(counters, t: Ticket, now: float = NOW, lease: float = 60.0, version: int | None = None):
    version = await counters.version() if version is None else version
    return await counters.admit(t, now=now, expires=now + lease, version=version)


def test_budget_admits_while_spent_and_reserved_fit(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        budget = check(budget=100)
        first, second, third = ticket(budget, reserve=40), ticket(budget, reserve=40), ticket(budget, reserve=40)
        assert await admit(c, first) is None
        assert await admit(c, second) is None
        refused = await admit(c, third)
        assert refused == Refusal("key:a", "budget", 80, 100)
        await c.settle(first, spend_nano=10, tokens=0)  # 40 reserved -> 10 spent
        assert await admit(c, third) is None  # 10 spent + 40 + 40 reserved <= 100
        state = await c.state("key:a", "total", 0, NOW)
        assert (state.spent_nano, state.reserved_nano, state.in_flight) == (10, 80, 2)

    backend.run(main)


def test_exhausted_budget_refuses_even_a_free_request(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        budget = check(budget=50)
        t = ticket(budget, reserve=50)
        assert await admit(c, t) is None
        await c.settle(t, spend_nano=50, tokens=0)
        assert isinstance(await admit(c, ticket(budget, reserve=0)), Refusal)

    backend.run(main)


def test_concurrent_admissions_never_overspend(backend) -> None:
    """300 admissions at once from three clients (processes): what is admitted fits the budget."""

    async def main() -> None:
        views = [backend.counters() for _ in range(3)]
        budget = check(budget=10_000)
        rng = random.Random(7)
        tickets = [ticket(budget, reserve=rng.randint(50, 400)) for _ in range(300)]
        verdicts = await asyncio.gather(*(admit(views[i % 3], t) for i, t in enumerate(tickets)))
        admitted = [t for t, v in zip(tickets, verdicts, strict=True) if v is None]
        assert 0 < len(admitted) < 300
        assert sum(t.reserve_nano for t in admitted) <= 10_000
        # each spends at most what it reserved; settle them all at once
        await asyncio.gather(
            *(views[i % 3].settle(t, spend_nano=t.reserve_nano // 2, tokens=0) for i, t in enumerate(admitted))
        )
        state = await views[0].state("key:a", "total", 0, NOW)
        assert state.reserved_nano == 0 and state.in_flight == 0
        assert state.spent_nano == sum(t.reserve_nano // 2 for t in admitted)

    backend.run(main)


def test_rpm_admits_exactly_n_per_window(backend) -> None:
    async def main() -> None:
        views = [backend.counters() for _ in range(3)]
        limit = check(rpm=5)
        verdicts = await asyncio.gather(*(admit(views[i % 3], ticket(limit, rate_window=7)) for i in range(20)))
        assert sum(v is None for v in verdicts) == 5
        assert all(v == Refusal("key:a", "rpm", 5, 5) for v in verdicts if v is not None)
        # the next window starts from zero
        verdicts = await asyncio.gather(*(admit(views[i % 3], ticket(limit, rate_window=8)) for i in range(20)))
        assert sum(v is None for v in verdicts) == 5

    backend.run(main)


def test_tpm_counts_estimates_then_real_tokens(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        limit = check(tpm=1000)
        first = ticket(limit, tokens=600)
        assert await admit(c, first) is None
        assert first.used == [(1, 600)]
        assert await admit(c, ticket(limit, tokens=600)) == Refusal("key:a", "tpm", 600, 1000)
        await c.settle(first, spend_nano=0, tokens=100)  # it used 100, not 600
        second = ticket(limit, tokens=600)
        assert await admit(c, second) is None
        assert second.used == [(2, 700)]

    backend.run(main)


def test_max_parallel_counts_requests_in_flight(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        limit = check(par=2)
        held = [ticket(limit), ticket(limit)]
        for t in held:
            assert await admit(c, t) is None
        assert await admit(c, ticket(limit)) == Refusal("key:a", "parallel", 2, 2)
        await c.settle(held[0], spend_nano=0, tokens=0)
        assert await admit(c, ticket(limit)) is None

    backend.run(main)


def test_key_and_team_must_both_fit_and_a_refusal_counts_nothing(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        team_budget = check("team:eng", budget=100)
        full = ticket(check("key:b", rpm=10), team_budget, reserve=100)
        assert await admit(c, full) is None
        refused = await admit(c, ticket(check("key:a", rpm=10, par=1), team_budget, reserve=1))
        assert refused == Refusal("team:eng", "budget", 100, 100)
        mine = await c.state("key:a", "total", 0, NOW)
        assert (mine.requests, mine.in_flight) == (0, 0)  # the key's counters were not touched

    backend.run(main)


def test_expired_lease_is_reclaimed(backend) -> None:
    """A process that died holding a reservation and a slot: both come back after the lease."""

    async def main() -> None:
        c = backend.counters()
        limit = check(par=1, budget=100)
        dead = ticket(limit, reserve=100)
        assert await admit(c, dead, lease=5) is None
        assert isinstance(await admit(c, ticket(limit, reserve=1), now=NOW + 4), Refusal)
        assert await admit(c, ticket(limit, reserve=1), now=NOW + 6) is None
        state = await c.state("key:a", "total", 0, NOW + 6)
        assert (state.reserved_nano, state.in_flight) == (1, 1)

    backend.run(main)


def test_renewed_lease_is_kept(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        limit = check(par=1, budget=100)
        alive = ticket(limit, reserve=100)
        assert await admit(c, alive, lease=5) is None
        await c.renew([alive], NOW + 20)
        assert isinstance(await admit(c, ticket(limit, reserve=1), now=NOW + 10), Refusal)

    backend.run(main)


def test_settle_after_the_lease_expired_still_books_the_spend(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        limit = check(budget=100)
        slow = ticket(limit, reserve=60)
        assert await admit(c, slow, lease=5) is None
        assert await admit(c, ticket(limit, reserve=1), now=NOW + 6) is None  # purges the expired lease
        await c.settle(slow, spend_nano=30, tokens=0)
        state = await c.state("key:a", "total", 0, NOW + 6)
        assert (state.spent_nano, state.reserved_nano) == (30, 1)

    backend.run(main)


def test_stale_version_is_refused_until_reloaded(backend) -> None:
    async def main() -> None:
        a, b = backend.counters(), backend.counters()
        version = await a.version()
        assert await b.bump() != version
        assert await admit(a, ticket(check(rpm=1)), version=version) == STALE
        assert await admit(a, ticket(check(rpm=1)), version=await a.version()) is None

    backend.run(main)


def test_a_flushed_redis_makes_every_process_reload(backend) -> None:
    """After a flush (or a restart without persistence) the version is gone: admissions are stale
    until the caller reloads (and re-seeds spend), and the new version differs from every old one."""
    if backend.kind != "redis":
        return
    import redis as sync_redis

    from redis_support import REDIS_URL

    async def main() -> None:
        c = backend.counters()
        await c.bump()
        old = await c.version()
        client = sync_redis.Redis.from_url(REDIS_URL)
        client.delete(*client.scan_iter(match=backend.prefix + "*"))
        client.close()
        assert await admit(c, ticket(check(rpm=1)), version=old) == STALE
        assert await c.version() != old

    backend.run(main)


def test_seed_sets_spend_only_when_absent(backend) -> None:
    async def main() -> None:
        c = backend.counters()
        await c.seed("key:a", "m2026-12", 70)
        await c.seed("key:a", "m2026-12", 5)
        assert (await c.state("key:a", "m2026-12", 0, NOW)).spent_nano == 70
        assert await admit(c, ticket(check(budget=100, window="m2026-12"), reserve=31)) == Refusal(
            "key:a", "budget", 70, 100
        )

    backend.run(main)
