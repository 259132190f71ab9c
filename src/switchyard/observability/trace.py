"""The opt-in transform trace: one JSONL file per request under ``data_dir/traces/``.

Each line is ``{"stage", "ts", "data"}`` for one pass of the request (client request, neutral
request, upstream request, upstream response or stream frame, client response). Every entry is
redacted (:mod:`.redact`, plus the configured keys as known secrets) before it touches the disk.

Off the hot path: :meth:`TraceWriter.write` only snapshots ``data`` with orjson (so later
mutation by the caller cannot race the writer) and queues it; a background thread redacts,
serialises and appends. When disabled, ``write`` returns at once and nothing is created.

Bounds: a file never grows past ``max_file_bytes``. The entry that would cross the bound is
replaced by a marker ``{"stage", "ts", "truncated": true, "bytes": <its size>, "data": <the start
of its redacted JSON text>}``, and later entries of that request are dropped. If the queue is
full (the disk cannot keep up), entries are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from .redact import redact

log = logging.getLogger("switchyard.trace")

# Stage names the pipeline uses (any string is accepted).
CLIENT_REQUEST = "client_request"
NEUTRAL_REQUEST = "neutral_request"
UPSTREAM_REQUEST = "upstream_request"
UPSTREAM_RESPONSE = "upstream_response"
UPSTREAM_FRAME = "upstream_frame"
CLIENT_RESPONSE = "client_response"
CLIENT_FRAME = "client_frame"

MARKER_RESERVE = 1024
"""Bytes kept free at the end of each file so the truncation marker always fits."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_STOP = object()


def safe_name(request_id: str) -> str:
    """A file name for ``request_id``: only ``[A-Za-z0-9._-]``, no leading dot, at most ~100
    characters; an id that had to be changed gets a hash suffix so distinct ids stay distinct."""
    cleaned = _UNSAFE.sub("_", request_id)[:80].lstrip(".-")
    if cleaned != request_id or not cleaned or cleaned.split(".")[0].upper() in _RESERVED:
        digest = hashlib.sha256(request_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        cleaned = f"{cleaned or 'request'}-{digest}"
    return cleaned + ".jsonl"


def _snapshot_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


class TraceWriter:
    def __init__(
        self,
        data_dir: Path | str,
        *,
        enabled: bool = False,
        max_file_bytes: int = 4 * 1024 * 1024,
        secrets: Iterable[str] = (),
        max_queue: int = 10_000,
    ) -> None:
        if max_file_bytes < 2 * MARKER_RESERVE:
            raise ValueError(f"max_file_bytes must be at least {2 * MARKER_RESERVE}")
        self.enabled = enabled
        self.dir = Path(data_dir) / "traces"
        self.max_file_bytes = max_file_bytes
        self._secrets: tuple[str, ...] = tuple(s for s in secrets if s)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._files: OrderedDict[Path, list[Any]] = OrderedDict()  # path -> [bytes written, truncated]
        self.dropped = 0
        self._closed = False

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Also remove these exact strings from every later entry."""
        self._secrets = tuple({*self._secrets, *(s for s in secrets if s)})

    def path_for(self, request_id: str) -> Path:
        return self.dir / safe_name(request_id)

    def write(self, request_id: str, stage: str, data: Any, secrets: tuple[str, ...] = ()) -> None:
        """Queue one entry (cheap; never blocks on disk). A no-op when the trace is disabled.
        ``secrets``: more exact strings to remove from this entry (a client's own credential)."""
        if not self.enabled or self._closed:
            return
        try:
            snapshot = orjson.dumps(data, default=_snapshot_default, option=orjson.OPT_NON_STR_KEYS)
        except (TypeError, ValueError) as exc:  # a trace never fails the request it observes
            snapshot = orjson.dumps(
                {"unserialisable": type(data).__name__, "error": str(exc), "repr": repr(data)[:65536]}
            )
        self._ensure_thread()
        try:
            self._queue.put_nowait((request_id, stage, time.time(), snapshot, secrets))
        except queue.Full:
            self.dropped += 1

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="switchyard-trace", daemon=True)
                    self._thread.start()

    # ------------------------------------------------------------------ background thread

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < 256:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            try:
                self._write_batch([item for item in batch if item is not _STOP])
            except Exception:  # a trace must never take the gateway down
                log.exception("transform trace: could not write %d entries", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                return

    def _write_batch(self, batch: list[tuple[str, str, float, bytes, tuple[str, ...]]]) -> None:
        if not batch:
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        by_path: dict[Path, list[bytes]] = {}
        for request_id, stage, ts, snapshot, secrets in batch:
            path = self.path_for(request_id)
            line = self._line(path, stage, ts, snapshot, secrets)
            if line is not None:
                by_path.setdefault(path, []).append(line)
        for path, lines in by_path.items():
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, b"".join(lines))
            finally:
                os.close(fd)

    def _state(self, path: Path) -> list[Any]:
        state = self._files.get(path)
        if state is None:
            size = path.stat().st_size if path.exists() else 0
            state = [size, size > self.max_file_bytes - MARKER_RESERVE]
            self._files[path] = state
            if len(self._files) > 4096:
                self._files.popitem(last=False)
        else:
            self._files.move_to_end(path)
        return state

    def _line(self, path: Path, stage: str, ts: float, snapshot: bytes, secrets: tuple[str, ...]) -> bytes | None:
        state = self._state(path)
        if state[1]:
            return None
        data = redact(orjson.loads(snapshot), self._secrets + secrets)
        line = orjson.dumps({"stage": stage, "ts": ts, "data": data}) + b"\n"
        if state[0] + len(line) <= self.max_file_bytes - MARKER_RESERVE:
            state[0] += len(line)
            return line
        state[1] = True
        marker = self._marker(stage, ts, data, len(line), self.max_file_bytes - state[0])
        state[0] += len(marker)
        return marker

    @staticmethod
    def _marker(stage: str, ts: float, data: Any, size: int, room: int) -> bytes:
        text = orjson.dumps(data).decode()
        keep = max(0, room - 200)
        while True:
            line = orjson.dumps({"stage": stage, "ts": ts, "truncated": True, "bytes": size, "data": text[:keep]})
            if len(line) + 1 <= room or keep == 0:
                return line + b"\n"
            keep = int(keep * 0.8)

    # ------------------------------------------------------------------ flush / close

    def flush_sync(self) -> None:
        """Wait until every queued entry is on disk (blocks; use :meth:`flush` from async code)."""
        if self._thread is not None:
            self._queue.join()

    async def flush(self) -> None:
        await asyncio.to_thread(self.flush_sync)

    async def close(self) -> None:
        """Write everything queued, then stop the thread. Later writes are ignored."""
        self._closed = True
        if self._thread is not None:
            await asyncio.to_thread(self._queue.put, _STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
