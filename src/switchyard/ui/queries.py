"""The dashboard's reads of the usage log, each one bounded in work, through a
:class:`~.usage_reader.UsageReader` (``data_dir/usage.db`` or the PostgreSQL usage log).

Charts, tops and usage totals read the rollups (:mod:`switchyard.observability.rollup`), never
the whole ``requests`` table; the request log walks the ``ts`` index (or a filter's index) newest
first and pages with a cursor (the last row's ``ts``), so no query counts or skips rows. The SQL is
written once for both databases: sums of integers are cast back to integers (PostgreSQL's are
``numeric``).
"""

from __future__ import annotations

import time
from typing import Any

from ..observability.rollup import LATENCY_BOUNDS
from ..observability.usage_log import DAY
from .usage_reader import UsageReader

RANGES = {
    "1h": (3600, 60, 60),
    "24h": (86400, 60, 900),
    "7d": (7 * 86400, 3600, 3600),
    "30d": (30 * 86400, 3600, 21600),
}
"""range -> (seconds, rollup period, chart step)."""
USAGE_GROUPS = {"model": "model", "provider": "provider", "key": "key_id", "client": "client", "team": "team"}
PAGE_SIZE = 50
TOP = 8


def _sum(expr: str) -> str:
    return f"CAST(SUM({expr}) AS BIGINT)"


def window(range_name: str, now: float | None = None) -> tuple[int, int, int]:
    """(start, rollup period, chart step) of a range name (ValueError for an unknown one)."""
    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}")
    span, period, step = RANGES[range_name]
    now = time.time() if now is None else now
    return int((now - span) // step * step), period, step


def percentile(counts: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a latency histogram {bin: count}, interpolated within its bin."""
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for b in sorted(counts):
        n = counts[b]
        if seen + n >= rank:
            low = LATENCY_BOUNDS[b - 1] if b > 0 else 0
            high = LATENCY_BOUNDS[b] if b < len(LATENCY_BOUNDS) else LATENCY_BOUNDS[-1] * 2
            return round(low + (high - low) * (rank - seen) / n, 1)
        seen += n
    return float(LATENCY_BOUNDS[-1])


async def overview(reader: UsageReader, range_name: str, now: float | None = None) -> dict[str, Any]:
    """Series per chart step (requests/s, error rate, p50/p95 latency and TTFB, tokens, cost),
    totals, and the top models, providers and client keys of the range."""
    start, period, step = window(range_name, now)
    top_sql = f"""
        SELECT value, {_sum("requests")}, {_sum("errors")}, SUM(cost) FROM requests_rollup
        WHERE period = ? AND dim = ? AND bucket >= ? GROUP BY value ORDER BY 2 DESC, 1 LIMIT ?
    """
    tops_by = ("model", "provider", "client")
    rows, hist, *top_rows = await reader.fetch(
        (
            f"""
            SELECT bucket / ? * ? AS t, {_sum("requests")}, {_sum("errors")},
                   {_sum("input_tokens + cache_read_tokens + cache_write_tokens")}, {_sum("output_tokens")}, SUM(cost)
            FROM requests_rollup WHERE period = ? AND dim = 'all' AND bucket >= ? GROUP BY t
            """,
            (step, step, period, start),
        ),
        (
            f"""
            SELECT bucket / ? * ? AS t, kind, bin, {_sum("n")} FROM requests_latency
            WHERE period = ? AND bucket >= ? GROUP BY t, kind, bin
            """,
            (step, step, period, start),
        ),
        *((top_sql, (period, name, start, TOP)) for name in tops_by),
    )
    tops = {
        name: [{"name": r[0], "requests": r[1], "errors": r[2], "cost": r[3]} for r in found]
        for name, found in zip(tops_by, top_rows, strict=True)
    }
    times = list(range(start, int(time.time() if now is None else now) // step * step + 1, step))
    by_time = {r[0]: r for r in rows}
    per_time: dict[tuple[int, int], dict[int, int]] = {}
    whole: dict[int, dict[int, int]] = {0: {}, 1: {}}
    for t, kind, b, n in hist:
        per_time.setdefault((t, kind), {})[b] = n
        whole[kind][b] = whole[kind].get(b, 0) + n
    series: dict[str, list[Any]] = {k: [] for k in ("rps", "error_rate", "p50", "p95", "ttfb_p50", "ttfb_p95")}
    series |= {"input_tokens": [], "output_tokens": [], "cost": []}
    for t in times:
        _, requests, errors, tin, tout, cost = by_time.get(t) or (t, 0, 0, 0, 0, 0.0)
        series["rps"].append(round(requests / step, 4))
        series["error_rate"].append(round(errors / requests, 4) if requests else None)
        for kind, name in ((0, ""), (1, "ttfb_")):
            counts = per_time.get((t, kind), {})
            series[f"{name}p50"].append(percentile(counts, 0.5))
            series[f"{name}p95"].append(percentile(counts, 0.95))
        series["input_tokens"].append(tin)
        series["output_tokens"].append(tout)
        series["cost"].append(round(cost, 6))
    requests = sum(r[1] for r in rows)
    errors = sum(r[2] for r in rows)
    totals = {
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 4) if requests else None,
        "rps": round(requests / (len(times) * step), 4),
        "p50": percentile(whole[0], 0.5),
        "p95": percentile(whole[0], 0.95),
        "ttfb_p50": percentile(whole[1], 0.5),
        "ttfb_p95": percentile(whole[1], 0.95),
        "tokens": sum(r[3] + r[4] for r in rows),
        "cost": round(sum(r[5] for r in rows), 6),
    }
    return {"range": range_name, "step": step, "times": times, "series": series, "totals": totals, "top": tops}


REQUEST_COLUMNS = (
    "request_id", "ts", "client_protocol", "provider", "model_requested", "model_served", "key_id", "status",
    "attempts", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
    "cost", "ttfb_ms", "latency_ms", "overhead_ms", "stream", "error", "client_key_id", "client_key_name", "team",
)  # fmt: skip
FILTERS = {
    "model": "model_served = ?",
    "provider": "provider = ?",
    "client_key": "client_key_id = ?",
    "error": "error = ?",
}


async def requests_page(reader: UsageReader, filters: dict[str, str], now: float | None = None) -> dict[str, Any]:
    """One page of the request log, newest first. Filters: ``range``, ``status`` (``ok``,
    ``error`` or a code), ``model``, ``provider``, ``client_key``, ``error`` (class), ``before``
    (the cursor: a ``ts``). ``next`` is the cursor of the next page (None: the last page)."""
    start, _, _ = window(filters.get("range") or "24h", now)
    where, args = ["ts >= ?"], [float(start)]
    if filters.get("before"):
        where.append("ts < ?")
        args.append(float(filters["before"]))
    status = filters.get("status") or ""
    if status == "ok":
        where.append("status < 400 AND error IS NULL")
    elif status == "error":
        where.append("(status >= 400 OR error IS NOT NULL)")
    elif status:
        if not status.isdigit():
            raise ValueError("status must be ok, error or an HTTP status code")
        where.append("status = ?")
        args.append(int(status))
    for name, clause in FILTERS.items():
        if filters.get(name):
            where.append(clause)
            args.append(filters[name])
    sql = f"SELECT {', '.join(REQUEST_COLUMNS)} FROM requests WHERE {' AND '.join(where)} ORDER BY ts DESC LIMIT ?"
    (rows,) = await reader.fetch((sql, [*args, PAGE_SIZE + 1]))
    items = [dict(zip(REQUEST_COLUMNS, r, strict=True)) for r in rows[:PAGE_SIZE]]
    return {"data": items, "next": items[-1]["ts"] if len(rows) > PAGE_SIZE else None}


async def request_row(reader: UsageReader, request_id: str) -> dict[str, Any] | None:
    (rows,) = await reader.fetch(
        (f"SELECT {', '.join(REQUEST_COLUMNS)}, attempt_log FROM requests WHERE request_id = ? LIMIT 1", (request_id,))
    )
    return dict(zip((*REQUEST_COLUMNS, "attempt_log"), rows[0], strict=True)) if rows else None


async def filter_values(reader: UsageReader, range_name: str) -> dict[str, list[str]]:
    """The values seen in the range, for the request log's filter lists."""
    start, period, _ = window(range_name)
    names = ("model", "provider")
    sql = "SELECT DISTINCT value FROM requests_rollup WHERE period = ? AND dim = ? AND bucket >= ? ORDER BY 1"
    found = await reader.fetch(*((sql, (period, name, start)) for name in names))
    return {name: [r[0] for r in rows] for name, rows in zip(names, found, strict=True)}


USAGE_KEYS = (
    "group", "requests", "errors", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
    "reasoning_tokens", "cost", "unpriced", "avg_latency_ms", "avg_ttfb_ms", "avg_overhead_ms",
)  # fmt: skip


async def usage(reader: UsageReader, range_name: str, by: str) -> list[dict[str, Any]]:
    """Totals per group, in the shape of :func:`~switchyard.observability.usage_log.query_usage`
    (read from the hourly rollup: the range starts on the hour)."""
    if by != "day" and by not in USAGE_GROUPS:
        raise ValueError(f"by must be one of day, {', '.join(USAGE_GROUPS)}")
    start, _, _ = window(range_name)
    dim, group = ("all", DAY[reader.dialect].format("bucket")) if by == "day" else (USAGE_GROUPS[by], "value")
    order = "grp" if by == "day" else "SUM(cost) DESC, SUM(requests) DESC, grp"
    counts = ", ".join(_sum(column) for column in USAGE_KEYS[1:8])  # requests .. reasoning_tokens
    sql = f"""
        SELECT {group} AS grp, {counts},
               CASE WHEN SUM(priced) > 0 THEN SUM(cost) END, {_sum("unpriced")},
               SUM(latency_sum) / NULLIF(SUM(latency_n), 0), SUM(ttfb_sum) / NULLIF(SUM(ttfb_n), 0),
               SUM(overhead_sum) / NULLIF(SUM(overhead_n), 0)
        FROM requests_rollup WHERE period = 3600 AND dim = ? AND bucket >= ? GROUP BY grp ORDER BY {order}
    """
    (rows,) = await reader.fetch((sql, (dim, start // 3600 * 3600)))
    return [dict(zip(USAGE_KEYS, r, strict=True)) for r in rows]
