"""The dashboard's queries on a big usage log: seeds ``--rows`` requests (default 1,000,000) over
30 days through the usage log's own writer (rows and rollups, in batches), then times each
page's query (the median of ``--repeat`` runs) against the 300 ms goal.

    python bench/ui_queries.py [--rows 1000000] [--data-dir DIR | --dsn postgresql://...] [--repeat 5]

An existing ``DIR/usage.db`` (or PostgreSQL usage log) with at least ``--rows`` rows is reused,
not seeded again.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from switchyard.observability.usage_log import COLUMNS, MIGRATIONS, USAGE_DB, UsageRecord, _insert, _row
from switchyard.observability.usage_pg import PostgresSink
from switchyard.store._sqlite import migrate
from switchyard.ui import queries
from switchyard.ui.usage_reader import PostgresReader, SqliteReader, UsageReader

GOAL_MS = 300
BATCH = 20_000
MODELS = [f"model-{i}" for i in range(12)]
PROVIDERS = ["openai", "anthropic", "gemini", "azure"]
ERRORS = ["rate_limit", "server", "timeout", "invalid_request"]


def record(rng: random.Random, ts: float, n: int) -> tuple[Any, ...]:
    provider = rng.choice(PROVIDERS)
    failed = rng.random() < 0.03
    client = rng.randrange(60)
    latency = rng.lognormvariate(6.5, 0.8)
    rec = UsageRecord(
        request_id=f"req_bench_{n:08d}",
        ts=ts,
        client_protocol=rng.choice(["openai_chat", "openai_responses", "anthropic", "gemini"]),
        provider=provider,
        model_requested=rng.choice(MODELS),
        model_served=rng.choice(MODELS),
        key_id=f"…{rng.randrange(4):04d}",
        status=rng.choice([429, 500, 400]) if failed else 200,
        input_tokens=rng.randrange(50, 5000),
        output_tokens=rng.randrange(10, 1500),
        cost=None if rng.random() < 0.05 else rng.random() / 100,
        ttfb_ms=latency * 0.3,
        latency_ms=latency,
        overhead_ms=rng.random(),
        error=rng.choice(ERRORS) if failed else None,
        client_key_id=f"ck_{client:04d}",
        client_key_name=f"client-{client}",
        team=f"team-{client % 6}",
        attempt_log='[{"target": "x/y", "key_id": null, "status": 200, "error": null, "latency_ms": 1.0}]',
    )
    return _row(rec)


def spread(have: int, rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of the requests ``have`` .. ``rows`` of ``rows`` spread over the last 30 days."""
    rng = random.Random(16)
    now, span = time.time(), 30 * 86400
    for start in range(have, rows, BATCH):
        count = min(BATCH, rows - start)
        times = sorted(now - span + span * (start + i) / rows + rng.random() for i in range(count))
        yield [record(rng, ts, start + i) for i, ts in enumerate(times)]


def seed(path: Path, rows: int) -> float:
    """Write ``rows`` requests into ``path`` (usage.db); returns the seconds it took."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    migrate(conn, MIGRATIONS, USAGE_DB)
    have = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    started = time.perf_counter()
    for batch in spread(have, rows):
        conn.execute("BEGIN")
        _insert(conn, batch)
        conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


async def seed_postgres(dsn: str, rows: int) -> float:
    """Write ``rows`` requests into the PostgreSQL usage log at ``dsn``, as its writer does."""
    sink = PostgresSink(dsn)
    await sink.open()
    (found,) = await PostgresReader(dsn, 1).fetch(("SELECT COUNT(*) FROM requests", ()))
    started = time.perf_counter()
    for batch in spread(found[0][0], rows):
        await sink.write(uuid.uuid4().hex, batch)
    await sink.close()
    return time.perf_counter() - started


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


async def bench(reader: UsageReader, repeat: int) -> None:
    first = await queries.requests_page(reader, {"range": "30d"})
    some = first["data"][0]
    checks: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        *((f"overview {r}", lambda r=r: queries.overview(reader, r)) for r in queries.RANGES),
        ("requests, newest page", lambda: queries.requests_page(reader, {"range": "30d"})),
        (
            "requests, next page",
            lambda: queries.requests_page(reader, {"range": "30d", "before": str(first["next"])}),
        ),
        ("requests, status=error", lambda: queries.requests_page(reader, {"range": "30d", "status": "error"})),
        ("requests, status=429", lambda: queries.requests_page(reader, {"range": "30d", "status": "429"})),
        ("requests, model", lambda: queries.requests_page(reader, {"range": "30d", "model": "model-3"})),
        ("requests, provider", lambda: queries.requests_page(reader, {"range": "30d", "provider": "gemini"})),
        ("requests, client key", lambda: queries.requests_page(reader, {"range": "30d", "client_key": "ck_0007"})),
        ("requests, error class", lambda: queries.requests_page(reader, {"range": "30d", "error": "timeout"})),
        ("requests, filter lists", lambda: queries.filter_values(reader, "30d")),
        ("request page", lambda: queries.request_row(reader, some["request_id"])),
        *(
            (f"usage 30d by {by}", lambda by=by: queries.usage(reader, "30d", by))
            for by in (*queries.USAGE_GROUPS, "day")
        ),
    ]
    worst = 0.0
    for name, fn in checks:
        ms = await timed(fn, repeat)
        worst = max(worst, ms)
        print(f"  {name:<28} {ms:8.1f} ms{'' if ms < GOAL_MS else '   OVER THE GOAL'}")
    await reader.close()
    print(f"slowest: {worst:.1f} ms (goal: under {GOAL_MS} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--dsn", help="a PostgreSQL usage log instead of DIR/usage.db")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reader: UsageReader
    if args.dsn:
        seconds = asyncio.run(seed_postgres(args.dsn, args.rows))
        reader = PostgresReader(args.dsn)
        where = reader.where
    else:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="switchyard-ui-bench-"))
        data_dir.mkdir(parents=True, exist_ok=True)
        seconds = seed(data_dir / USAGE_DB, args.rows)
        where, reader = str(data_dir / USAGE_DB), SqliteReader(data_dir)
    print(f"{where}: {args.rows:,} rows ({len(COLUMNS)} columns); seeding took {seconds:.1f} s")
    asyncio.run(bench(reader, args.repeat))


if __name__ == "__main__":
    main()
