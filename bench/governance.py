"""The hot-path cost of governance, per request, measured in one process without HTTP.

    python bench/governance.py [--requests 20000]

For each counters backend (memory: one process with the SQLite ledger; Redis: what several
processes share) it creates a client key in a team, both with a budget and limits, then runs the
per-request governance steps the server runs — the key's lookup by hash, admission (allowed
model, rate window, in-flight, budget reservation) and settlement (spend to the counters and the
batched ledger) — and prints CPU microseconds per request of this process (the ledger's database
thread included), and for Redis also of the Redis server (from its INFO).

``--crash`` measures what a ``kill -9`` loses: a gateway process serves a governed key with
requests back to back (at 8 connections) for a few seconds and is killed; the settled spend that
reached the ledger is compared with the answers the clients received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from switchyard.accounting.pricing import default_pricing  # noqa: E402
from switchyard.governance import Governance, MemoryCounters, SqliteRecords  # noqa: E402
from switchyard.governance.redis_counters import RedisCounters  # noqa: E402
from switchyard.governance.service import LEDGER_INTERVAL  # noqa: E402
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


def crash(seconds: float = 3.0, connections: int = 8) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-gov-crash-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    key = "sk-crash-bench-key-0001"
    config = {
        "server": {
            "port": port,
            "data_dir": str(workdir),
            "auth_keys": [{"key": key, "name": "crash", "limits": {"rpm": 10**9}}],
        },
        "observability": {"usage_log": False},
        "pricing": {"mock-1": {"input": 1.0, "output": 1.0}},
    }
    (workdir / "c.yaml").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(workdir / "c.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    body = json.dumps({"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}).encode()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    url = f"http://127.0.0.1:{port}/v1/chat/completions"

    def post() -> bool:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    while not post():
        time.sleep(0.05)
    done = [0]
    stop = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < stop:
            if await asyncio.to_thread(post):
                done[0] += 1

    async def drive() -> None:
        await asyncio.gather(*(client() for _ in range(connections)))

    asyncio.run(drive())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(workdir / "governance.db") as conn:
        (booked,) = conn.execute("SELECT COALESCE(SUM(requests), 0) FROM spend").fetchone()
    done[0] += 1  # the start-up probe
    rate = done[0] / seconds
    lost = done[0] - booked
    print(f"kill -9 after {done[0]} answered requests ({rate:.0f}/s): the ledger holds {booked};")
    print(
        f"lost {lost} settlements = {lost / rate * 1000:.0f} ms of settled spend (ledger written every {LEDGER_INTERVAL * 1000:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--backends", default="memory,redis")
    parser.add_argument("--crash", action="store_true", help="measure what a kill -9 loses of the ledger")
    args = parser.parse_args()
    if args.crash:
        crash()
        return
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
