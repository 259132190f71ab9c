"""The usage log: one row per request, written in batches to a sink — ``data_dir/usage.db``
(SQLite, WAL; the default) or a PostgreSQL database shared by several gateway processes.

:meth:`UsageLog.record` only appends to a list (O(1), never blocks, call it from the event-loop
thread). A background task writes the pending rows every ``batch_size`` rows or every
``flush_interval`` seconds, whichever comes first, in one transaction (SQLite: on the database's
own thread; PostgreSQL: one COPY). :meth:`UsageLog.close` writes everything still pending: the
server calls it on graceful shutdown (SIGTERM), so nothing is lost then. A failed write keeps its
rows and is retried as the same batch (with backoff), so an unreachable database only delays rows:
they wait in memory, up to ``max_pending``, and none is lost or written twice while that holds.

Reading is for the CLI: :func:`query_usage` (totals grouped by model, provider, key or day since
a time) and :func:`format_table`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any, Literal

from ..core.model import Usage
from ..store._sqlite import SqliteWorker, transaction
from . import rollup

log = logging.getLogger("switchyard.usage")

USAGE_DB = "usage.db"
GroupBy = Literal["model", "provider", "key", "day", "client", "team"]
GROUPS = ("model", "provider", "key", "day", "client", "team")


@dataclass(slots=True)
class UsageRecord:
    """One request. Token buckets are disjoint (see :class:`~switchyard.core.model.Usage`):
    ``input_tokens`` is uncached input, ``reasoning_tokens`` is part of ``output_tokens``.

    ``ts``: unix seconds when the request arrived. ``status``: the HTTP status sent to the client
    (a stream that failed after its first byte keeps 200 and sets ``error``). ``key_id``: the
    masked key id, never the key. ``client_key_id`` / ``client_key_name`` / ``team``: the client
    key the caller presented (None without one). ``cost``: USD, None when unknown. Times in milliseconds:
    ``ttfb_ms`` until the first byte went to the client, ``latency_ms`` until the last,
    ``overhead_ms`` the gateway's own share (total minus time waiting on upstreams).
    ``usage_estimated``: the upstream reported no usage, the token counts are the gateway's
    estimate (:mod:`switchyard.accounting.estimate`).
    """

    request_id: str
    ts: float
    client_protocol: str
    provider: str | None
    model_requested: str
    model_served: str | None
    key_id: str | None
    status: int
    attempts: int = 1
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None
    ttfb_ms: float | None = None
    latency_ms: float | None = None
    overhead_ms: float | None = None
    stream: bool = False
    error: str | None = None
    client_key_id: str | None = None
    client_key_name: str | None = None
    team: str | None = None
    usage_estimated: bool = False
    attempt_log: str | None = None
    """The attempts as JSON: ``[{target, key_id, status, error, latency_ms}]`` (None: not recorded)."""
    cache_origin: str | None = None
    """Who placed the cache breakpoints of a request served by an Anthropic upstream: ``gateway``,
    ``client`` or ``none`` (None: another upstream). It describes the request, not the upstream's
    answer: a cache read on a ``none`` row is caching neither side asked for in this request, and is
    never the gateway's (:mod:`switchyard.prompt_cache`)."""

    def set_usage(self, usage: Usage | None) -> UsageRecord:
        """Copy the token buckets of ``usage`` (None leaves zeros: no answer began); returns self."""
        if usage is not None:
            self.input_tokens = usage.input_tokens
            self.cache_read_tokens = usage.cache_read_tokens
            self.cache_write_tokens = usage.cache_write_tokens
            self.output_tokens = usage.output_tokens
            self.reasoning_tokens = usage.reasoning_tokens
            self.usage_estimated = usage.estimated
        return self


COLUMNS = tuple(f.name for f in fields(UsageRecord))
_row = attrgetter(*COLUMNS)  # a record's values in column order (astuple deep-copies: slow)

MIGRATIONS = (
    """
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        ts REAL NOT NULL,
        client_protocol TEXT,
        provider TEXT,
        model_requested TEXT,
        model_served TEXT,
        key_id TEXT,
        status INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        cost REAL,
        ttfb_ms REAL,
        latency_ms REAL,
        overhead_ms REAL,
        stream INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX requests_ts ON requests (ts);
    CREATE INDEX requests_request_id ON requests (request_id)
    """,
    """
    ALTER TABLE requests ADD COLUMN client_key_id TEXT;
    ALTER TABLE requests ADD COLUMN client_key_name TEXT;
    ALTER TABLE requests ADD COLUMN team TEXT;
    CREATE INDEX requests_client_key ON requests (client_key_id, ts)
    """,
    # the upstream reported no usage: the token counts are the gateway's estimate
    """
    ALTER TABLE requests ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0
    """,
    # the dashboard: each attempt, and the request log's filters
    """
    ALTER TABLE requests ADD COLUMN attempt_log TEXT;
    CREATE INDEX requests_model ON requests (model_served, ts);
    CREATE INDEX requests_provider ON requests (provider, ts);
    CREATE INDEX requests_status ON requests (status, ts);
    CREATE INDEX requests_error ON requests (error, ts)
    """,
    # the dashboard's rollups (observability/rollup.py; PostgreSQL: rollup.POSTGRES_MIGRATION)
    rollup.MIGRATION,
    # who placed the cache breakpoints (automatic prompt caching)
    """
    ALTER TABLE requests ADD COLUMN cache_origin TEXT
    """,
)

_ROWS_PER_STATEMENT = 64  # 64 x 25 parameters, far below SQLite's limit of 32766
_VALUES = "(" + ", ".join("?" * len(COLUMNS)) + ")"


@lru_cache(maxsize=_ROWS_PER_STATEMENT)
def _insert_sql(rows: int) -> str:
    return f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES {', '.join([_VALUES] * rows)}"


def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    # Many rows per statement: sqlite3 releases and retakes the GIL around every step, and each
    # handover stalls the event loop's thread; one step per 64 rows instead of one per row.
    last_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM requests").fetchone()[0]
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        part = rows[start : start + _ROWS_PER_STATEMENT]
        conn.execute(_insert_sql(len(part)), [value for row in part for value in row])
    rollup.update(conn, last_id)


class UsageSink(abc.ABC):
    """Where :class:`UsageLog` writes its batches."""

    where: str
    """The database, for logs (no secrets)."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Create or migrate the schema (an unreachable remote database is not an error here)."""

    @abc.abstractmethod
    async def write(self, batch_id: str, rows: list[tuple[Any, ...]]) -> None:
        """Write ``rows`` (values in :data:`COLUMNS` order) in one transaction. A batch retried
        after a failure comes again with the same ``batch_id``; one already written is skipped."""

    @abc.abstractmethod
    async def close(self) -> None: ...


class SqliteSink(UsageSink):
    """``data_dir/usage.db``. A local commit cannot be in doubt: ``batch_id`` is not needed."""

    def __init__(self, data_dir: Path | str, synchronous: str = "NORMAL") -> None:
        self.path = Path(data_dir) / USAGE_DB
        self.where = str(self.path)
        self._db = SqliteWorker(self.path, MIGRATIONS, synchronous=synchronous)

    async def open(self) -> None:
        await self._db.open()

    async def write(self, batch_id: str, rows: list[tuple[Any, ...]]) -> None:
        await self._db.run(transaction, _insert, rows)

    async def close(self) -> None:
        await self._db.close()


class UsageLog:
    """Batched, off-the-hot-path writer of :class:`UsageRecord` rows (to PostgreSQL with ``dsn``,
    else to ``data_dir/usage.db``)."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        dsn: str | None = None,
        batch_size: int = 200,
        flush_interval: float = 0.5,
        max_pending: int = 1_000_000,
        synchronous: str = "NORMAL",
    ) -> None:
        if batch_size < 1 or flush_interval <= 0 or max_pending < batch_size:
            raise ValueError("batch_size >= 1, flush_interval > 0 and max_pending >= batch_size are required")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self._sink: UsageSink
        if dsn is None:
            self._sink = SqliteSink(data_dir, synchronous)
        else:
            from .usage_pg import PostgresSink

            self._sink = PostgresSink(dsn)
        self.where = self._sink.where
        self._pending: list[UsageRecord] = []
        self._retry: tuple[str, list[UsageRecord]] | None = None
        """A batch whose write failed: written again first, as the same batch."""
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._write_lock: asyncio.Lock | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0
        self.batches = 0

    async def start(self) -> UsageLog:
        """Open (and migrate) the database and start the background writer."""
        await self._sink.open()
        self._ensure_task()
        return self

    async def __aenter__(self) -> UsageLog:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pending(self) -> int:
        return len(self._pending) + (len(self._retry[1]) if self._retry is not None else 0)

    def record(self, rec: UsageRecord) -> None:
        """Queue one row. O(1); must be called from the event-loop thread.

        Rows recorded after :meth:`close` (or beyond ``max_pending``) are dropped, counted in
        ``dropped`` and logged: recording never raises into the request path.
        """
        if self._closing or self.pending >= self.max_pending:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                why = "it is closed" if self._closing else f"{self.where} is not keeping up"
                log.error("usage log: %d rows dropped, %s", self.dropped, why)
            return
        self._pending.append(rec)
        self._ensure_task()
        if len(self._pending) >= self.batch_size and self._wake is not None:
            self._wake.set()

    def _ensure_task(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._stop = asyncio.Event()
            self._write_lock = asyncio.Lock()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="switchyard-usage-log")

    async def _run(self) -> None:
        assert self._wake is not None and self._stop is not None
        backoff = self.flush_interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval)
            self._wake.clear()
            if self._closing:
                break
            try:
                while self.pending:
                    await self._write_some()
                backoff = self.flush_interval
            except Exception:
                log.exception("usage log: writing to %s failed; %d rows kept for retry", self.where, self.pending)
                with contextlib.suppress(TimeoutError):  # back off (a full batch does not cut this short)
                    await asyncio.wait_for(self._stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, 30.0)

    async def _write_some(self) -> int:
        """Write the batch that failed last, else the pending rows (all of them, in one
        transaction). A failed batch is kept, whole, for the next call."""
        assert self._write_lock is not None
        async with self._write_lock:
            if self._retry is not None:
                (batch_id, batch), self._retry = self._retry, None
            else:
                batch_id, batch, self._pending = uuid.uuid4().hex, self._pending, []
            if not batch:
                return 0
            try:
                await self._sink.write(batch_id, [_row(r) for r in batch])
            except asyncio.CancelledError:
                # The write still runs to its end (on the database thread, or shielded), before
                # the database is closed; putting the rows back would write them twice.
                self.written += len(batch)
                raise
            except BaseException:
                self._retry = (batch_id, batch)
                raise
            self.written += len(batch)
            self.batches += 1
            return len(batch)

    async def flush(self) -> int:
        """Write everything pending now; returns the number of rows written."""
        if self._task is None:
            self._ensure_task()
        written = 0
        while self.pending:
            written += await self._write_some()
        return written

    async def close(self) -> None:
        """Write every pending row, stop the writer and close the database (idempotent)."""
        if self._closing:
            return
        self._closing = True
        if self._task is not None:
            assert self._wake is not None and self._stop is not None
            self._wake.set()
            self._stop.set()
            with contextlib.suppress(Exception):
                await self._task
            try:
                while self.pending:
                    await self._write_some()
            except Exception:
                log.exception("usage log: %d rows could not be written to %s at shutdown", self.pending, self.where)
        await self._sink.close()


# ---------------------------------------------------------------------------- reading (CLI)

_GROUP_SQL = {
    None: "'total'",
    "model": "COALESCE(model_served, model_requested, '-')",
    "provider": "COALESCE(provider, '-')",
    "key": "COALESCE(provider, '-') || ' ' || COALESCE(key_id, '-')",
    "day": "{day}",
    "client": "COALESCE(client_key_name || ' (' || client_key_id || ')', '-')",
    "team": "COALESCE(team, '-')",
}
DAY = {"sqlite": "date({}, 'unixepoch')", "postgres": "to_char(to_timestamp({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"}
"""The UTC date (``YYYY-MM-DD``) of a unix time, per dialect (``DAY[dialect].format(column)``)."""
_KEYS = (
    "group", "requests", "errors", "input_tokens", "cache_read_tokens", "cache_write_tokens",
    "output_tokens", "reasoning_tokens", "cost", "unpriced", "avg_latency_ms", "avg_ttfb_ms",
    "avg_overhead_ms",
)  # fmt: skip


def usage_sql(by: GroupBy | None, since: float | None, until: float | None, dialect: str) -> tuple[str, list[float]]:
    """The totals query and its arguments, for ``dialect`` ``sqlite`` or ``postgres``."""
    if by not in _GROUP_SQL:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    where: list[str] = []
    args: list[float] = []
    for bound, op in ((since, ">="), (until, "<")):
        if bound is not None:
            args.append(bound)
            where.append(f"ts {op} " + ("?" if dialect == "sqlite" else f"${len(args)}"))
    group = _GROUP_SQL[by].replace("{day}", DAY[dialect].format("ts"))
    sql = f"""
        SELECT {group} AS grp,
               COUNT(*),
               CAST(SUM(CASE WHEN status >= 400 OR error IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
               CAST(SUM(input_tokens) AS BIGINT), CAST(SUM(cache_read_tokens) AS BIGINT),
               CAST(SUM(cache_write_tokens) AS BIGINT), CAST(SUM(output_tokens) AS BIGINT),
               CAST(SUM(reasoning_tokens) AS BIGINT),
               SUM(cost),
               CAST(SUM(CASE WHEN cost IS NULL AND input_tokens + cache_read_tokens + cache_write_tokens
                        + output_tokens > 0 THEN 1 ELSE 0 END) AS BIGINT),
               AVG(latency_ms), AVG(ttfb_ms), AVG(overhead_ms)
        FROM requests {"WHERE " + " AND ".join(where) if where else ""}
        GROUP BY grp
        ORDER BY {"grp" if by == "day" else "SUM(COALESCE(cost, 0)) DESC, COUNT(*) DESC, grp"}
    """
    return sql, args


def query_usage(
    data_dir: Path | str,
    *,
    since: float | None = None,
    until: float | None = None,
    by: GroupBy | None = None,
    dsn: str | None = None,
) -> list[dict[str, Any]]:
    """Totals per group (or one ``total`` row) of requests with ``since <= ts < until``, from
    PostgreSQL with ``dsn``, else from ``data_dir``'s usage.db.

    ``model`` groups by the served model (what was priced), ``key`` by provider and masked key
    id, ``day`` by UTC date, ``client`` by client key (name and id), ``team`` by team. ``cost`` sums known costs (None when none is known); ``unpriced``
    counts requests that used tokens but have no known cost. Returns [] when there is no log.
    """
    if dsn is not None:
        from .usage_pg import query_postgres

        sql, args = usage_sql(by, since, until, "postgres")
        rows = query_postgres(dsn, sql, args)
    else:
        sql, args = usage_sql(by, since, until, "sqlite")
        path = Path(data_dir)
        path = path if path.suffix == ".db" else path / USAGE_DB
        if not path.exists():
            return []
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            rows = conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    return [dict(zip(_KEYS, row, strict=True)) for row in rows]


_LABELS = {
    None: "TOTAL",
    "model": "MODEL",
    "provider": "PROVIDER",
    "key": "KEY",
    "day": "DAY (UTC)",
    "client": "CLIENT KEY",
    "team": "TEAM",
}
_INT_COLUMNS = (
    ("requests", "REQUESTS"),
    ("errors", "ERRORS"),
    ("input_tokens", "INPUT"),
    ("cache_read_tokens", "CACHE READ"),
    ("cache_write_tokens", "CACHE WRITE"),
    ("output_tokens", "OUTPUT"),
    ("reasoning_tokens", "REASONING"),
)


def format_table(rows: list[dict[str, Any]], by: GroupBy | None = None) -> str:
    """``rows`` of :func:`query_usage` as an aligned text table with a total line."""
    if not rows:
        return "no requests logged in this period"
    show_unpriced = any(r["unpriced"] for r in rows)
    header = [_LABELS.get(by, "GROUP"), *(label for _, label in _INT_COLUMNS), "COST (USD)"]
    header += ["UNPRICED"] if show_unpriced else []
    header += ["AVG LATENCY"]

    def line(r: dict[str, Any]) -> list[str]:
        cells = [str(r["group"])] + [f"{r[k] or 0:,}" for k, _ in _INT_COLUMNS]
        cells.append(f"${r['cost']:,.4f}" if r["cost"] is not None else "unknown")
        if show_unpriced:
            cells.append(f"{r['unpriced']:,}")
        cells.append(f"{r['avg_latency_ms']:,.0f} ms" if r["avg_latency_ms"] is not None else "-")
        return cells

    body = [line(r) for r in rows]
    if len(rows) > 1:
        total: dict[str, Any] = {"group": "total"}
        for k, _ in _INT_COLUMNS:
            total[k] = sum(r[k] or 0 for r in rows)
        costs = [r["cost"] for r in rows if r["cost"] is not None]
        total["cost"] = sum(costs) if costs else None
        total["unpriced"] = sum(r["unpriced"] for r in rows)
        timed = [(r["avg_latency_ms"], r["requests"]) for r in rows if r["avg_latency_ms"] is not None]
        weight = sum(n for _, n in timed)
        total["avg_latency_ms"] = sum(a * n for a, n in timed) / weight if weight else None
        body.append(line(total))
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def render(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]).rstrip()

    rule = render(["-" * w for w in widths])
    out = [render(header), rule, *(render(cells) for cells in body[: len(rows)])]
    if len(rows) > 1:
        out += [rule, render(body[-1])]
    if show_unpriced:
        out.append("UNPRICED: requests with tokens but no known price; their cost is not in COST.")
    return "\n".join(out)


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """``--since`` as unix seconds: ``90m``, ``24h``, ``7d``, ``2w``; an ISO date or date-time
    (``2025-06-01``, ``2025-06-01T12:00``; UTC unless it has an offset); or unix seconds."""
    now = time.time() if now is None else now
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since: {text!r} is not a duration (24h, 7d), a date (2025-06-01) or a time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
