"""The hot-path cost of governance, per request, measured in one process without HTTP.

    python bench/governance.py [--requests 20000]

For each counters backend (memory: one process with the SQLite ledger; Redis: what several
processes share) it creates a client key in a team, both with a budget and limits, then runs the
per-request governance steps the server runs — the key's lookup by hash, admission (allowed
model, rate window, in-flight, budget reservation) and settlement (spend to the counters and the
batched ledger) — and prints CPU microseconds per request of this process (the ledger's database
thread included), and for Redis also of the Redis server (from its INFO).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from switchyard.accounting.pricing import default_pricing  # noqa: E402
from switchyard.governance import Governance, MemoryCounters, SqliteRecords  # noqa: E402
from switchyard.governance.redis_counters import RedisCounters  # noqa: E402
from switchyard.routing import Target  # noqa: E402
from switchyard.store.redis import connect  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Say hello"}]}
TARGETS = [Target("anthropic", "claude-sonnet-4-5")]


async def redis_cpu() -> float:
    client = connect(REDIS_URL)
    try:
        info = await client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
    finally:
        await client.aclose()


async def measure(kind: str, requests: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-gov-bench-"))
    if kind == "redis":
        counters = RedisCounters(connect(REDIS_URL), prefix=f"switchyard-bench-{time.time_ns()}:", rate_window=60)
    else:
        counters = MemoryCounters()
    gov = Governance(SqliteRecords(workdir), counters, default_pricing(), shared=kind == "redis")
    await gov.start()
    try:
        await gov.create_team({"name": "eng", "budget": {"usd": 1e6, "window": "month"}, "limits": {"rpm": 10**9}})
        made = await gov.create_key(
            {"name": "bench", "team": "eng", "budget": {"usd": 1e6, "window": "1d"}, "limits": {"rpm": 10**9}}
        )
        secret = made["key"].encode()
        size = 120

        async def one() -> None:
            key = await gov.lookup(secret)
            assert key is not None
            gov.check_key(key)
            ticket = await gov.admit(key, "claude-sonnet-4-5", TARGETS, "anthropic", BODY, size)
            assert ticket is not None
            gov.rate_headers(ticket)
            await gov.settle(ticket, 0.0001, 30)

        for _ in range(500):  # warm up
            await one()
        server0 = await redis_cpu() if kind == "redis" else 0.0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(requests):
            await one()
        await gov.flush()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        server = (await redis_cpu() - server0) if kind == "redis" else 0.0
    finally:
        await gov.close()
    return {"cpu_us": cpu * 1e6 / requests, "wall_us": wall * 1e6 / requests, "redis_cpu_us": server * 1e6 / requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--backends", default="memory,redis")
    args = parser.parse_args()
    print(
        f"{'counters':<10} {'gateway CPU µs/request':>24} {'wall µs/request':>16} {'Redis server CPU µs/request':>28}"
    )
    for kind in args.backends.split(","):
        n = args.requests if kind == "memory" else max(1, args.requests // 4)
        r = asyncio.run(measure(kind, n))
        redis = f"{r['redis_cpu_us']:.1f}" if kind == "redis" else "-"
        print(f"{kind:<10} {r['cpu_us']:>24.1f} {r['wall_us']:>16.1f} {redis:>28}")


if __name__ == "__main__":
    main()
