"""Rollups of the usage log, kept as rows are written, so the dashboard never scans ``requests``.

``requests_rollup`` holds per-minute (``period`` 60) and per-hour (``period`` 3600) totals for
each value of each dimension separately (``dim``: ``all`` — one ``total`` row per bucket —,
``model``, ``provider``, ``key_id``, ``client``, ``team``), not for their cross product, so a
bucket holds a few rows per dimension however varied the traffic. ``requests_latency`` holds
histograms of latency (``kind`` 0) and time to first byte (``kind`` 1) per minute and hour, in
the bins of :data:`LATENCY_BOUNDS` (milliseconds), from which percentiles are estimated.

The writer calls :func:`update` in the same transaction as each batch of inserted rows; the
migration (:data:`MIGRATION`) fills the tables from the rows already logged. The PostgreSQL
usage log keeps the same tables (:data:`POSTGRES_MIGRATION`, :data:`POSTGRES_BATCH`): there the
statements read the batch from its own table, and add to the rollups in key order so that writers
in several processes updating the same rows wait for each other instead of deadlocking.
"""

from __future__ import annotations

import sqlite3

from ..store._postgres import from_sqlite

PERIODS = (60, 3600)
LATENCY_BOUNDS = (
    5, 10, 20, 35, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000,
    5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000,
)  # fmt: skip
"""Upper bounds (ms, exclusive) of the histogram bins; the last bin is open-ended."""

DIMENSIONS = {
    "all": "'total'",
    "model": "COALESCE(model_served, model_requested, '-')",
    "provider": "COALESCE(provider, '-')",
    "key_id": "COALESCE(provider, '-') || ' ' || COALESCE(key_id, '-')",
    "client": "COALESCE(client_key_name || ' (' || client_key_id || ')', '-')",
    "team": "COALESCE(team, '-')",
}
"""Rollup dimensions, spelled as :func:`~.usage_log.query_usage` groups them."""

MEASURES = {
    "requests": "COUNT(*)",
    "errors": "SUM(CASE WHEN status >= 400 OR error IS NOT NULL THEN 1 ELSE 0 END)",
    "input_tokens": "SUM(input_tokens)",
    "cache_read_tokens": "SUM(cache_read_tokens)",
    "cache_write_tokens": "SUM(cache_write_tokens)",
    "output_tokens": "SUM(output_tokens)",
    "reasoning_tokens": "SUM(reasoning_tokens)",
    "cost": "COALESCE(SUM(cost), 0)",
    "priced": "COUNT(cost)",
    "unpriced": "SUM(CASE WHEN cost IS NULL AND input_tokens + cache_read_tokens + cache_write_tokens"
    " + output_tokens > 0 THEN 1 ELSE 0 END)",
    "latency_sum": "COALESCE(SUM(latency_ms), 0)",
    "latency_n": "COUNT(latency_ms)",
    "ttfb_sum": "COALESCE(SUM(ttfb_ms), 0)",
    "ttfb_n": "COUNT(ttfb_ms)",
    "overhead_sum": "COALESCE(SUM(overhead_ms), 0)",
    "overhead_n": "COUNT(overhead_ms)",
}

_PERIODS_SQL = " UNION ALL ".join(f"SELECT {p} AS period" for p in PERIODS)


def _bin(column: str) -> str:
    whens = " ".join(f"WHEN {column} < {b} THEN {i}" for i, b in enumerate(LATENCY_BOUNDS))
    return f"CASE {whens} ELSE {len(LATENCY_BOUNDS)} END"


_BUCKET = {  # the start of the row's period (ts is positive: SQLite's CAST truncates, PostgreSQL's rounds)
    "sqlite": "CAST(ts / p.period AS INTEGER) * p.period",
    "postgres": "CAST(floor(ts / p.period) AS BIGINT) * p.period",
}


def _upserts(source: str, where: str, dialect: str = "sqlite") -> list[str]:
    """The statements that add the rows of ``source`` matching ``where`` to the rollups."""
    dims = " UNION ALL ".join(f"SELECT '{d}' AS dim" for d in DIMENSIONS)
    value = "CASE d.dim " + " ".join(f"WHEN '{d}' THEN {sql}" for d, sql in DIMENSIONS.items()) + " END"
    bucket = _BUCKET[dialect]
    in_key_order = "ORDER BY 1, 2, 3, 4" if dialect == "postgres" else ""
    totals = f"""
        INSERT INTO requests_rollup (period, bucket, dim, value, {", ".join(MEASURES)})
        SELECT p.period, {bucket}, d.dim, {value}, {", ".join(MEASURES.values())}
        FROM {source}, ({_PERIODS_SQL}) AS p, ({dims}) AS d WHERE {where}
        GROUP BY 1, 2, 3, 4 {in_key_order}
        ON CONFLICT (period, dim, bucket, value) DO UPDATE
        SET {", ".join(f"{m} = requests_rollup.{m} + excluded.{m}" for m in MEASURES)}
    """
    histograms = [
        f"""
        INSERT INTO requests_latency (period, bucket, kind, bin, n)
        SELECT p.period, {bucket}, {kind}, {_bin(column)}, COUNT(*)
        FROM {source}, ({_PERIODS_SQL}) AS p WHERE {where} AND {column} IS NOT NULL
        GROUP BY 1, 2, 3, 4 {in_key_order}
        ON CONFLICT (period, bucket, kind, bin) DO UPDATE SET n = requests_latency.n + excluded.n
        """
        for kind, column in enumerate(("latency_ms", "ttfb_ms"))
    ]
    return [totals, *histograms]


_TABLES = [
    f"""
    CREATE TABLE requests_rollup (
        period INTEGER NOT NULL, bucket INTEGER NOT NULL, dim TEXT NOT NULL, value TEXT NOT NULL,
        {", ".join(f"{m} {'REAL' if m.endswith(('sum', 'cost')) else 'INTEGER'} NOT NULL" for m in MEASURES)},
        PRIMARY KEY (period, dim, bucket, value)
    )
    """,
    """
    CREATE TABLE requests_latency (
        period INTEGER NOT NULL, bucket INTEGER NOT NULL, kind INTEGER NOT NULL, bin INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (period, bucket, kind, bin)
    )
    """,
]

MIGRATION = ";".join([*(t + " WITHOUT ROWID" for t in _TABLES), *_upserts("requests", "true")])
"""Create the rollups and fill them from the rows already logged."""

POSTGRES_MIGRATION = ";".join([*(from_sqlite(t) for t in _TABLES), *_upserts("requests", "true", "postgres")])
"""The same, on a PostgreSQL usage log."""

BATCH_TABLE = "usage_batch"
POSTGRES_BATCH = _upserts(BATCH_TABLE, "true", "postgres")
"""Add the rows of the batch being written (in the temporary table :data:`BATCH_TABLE`, same
transaction) to the rollups of a PostgreSQL usage log."""

_BATCH = _upserts("requests", "requests.id > ?")


def update(conn: sqlite3.Connection, after_id: int) -> None:
    """Add the rows with ``id > after_id`` (just inserted, same transaction) to the rollups."""
    for statement in _BATCH:
        conn.execute(statement, (after_id,))
