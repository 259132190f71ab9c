"""What the codec tests of every protocol share: reading a folder's fixture files, SSE bytes
through a codec's StreamDecoder / StreamEncoder (each protocol's ``*_helpers`` module binds
these to its own fixtures and codec), and the official OpenAI SDK as a client of the ``replay``
server."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import openai
import orjson

from switchyard.core import SSEDecoder, SSEFrame
from switchyard.core.events import Event
from switchyard.core.model import Usage


class Fixtures:
    """The fixture files of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, name: str) -> Any:
        return orjson.loads(self.raw(name))

    def raw(self, name: str) -> bytes:
        return (self.folder / name).read_bytes()

    def names(self, pattern: str) -> list[str]:
        return sorted(p.name for p in self.folder.glob(pattern))


def decode_stream(new_decoder: Callable[[], Any], data: bytes, cuts: Iterable[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (fed in the pieces ``cuts`` makes) -> core events through a new
    ``StreamDecoder``, finish() included."""
    sse = SSEDecoder()
    dec = new_decoder()
    events: list[Event] = []
    start = 0
    for cut in [*sorted(cuts or []), len(data)]:
        for frame in sse.feed(data[start:cut]):
            events += dec.feed(frame)
        start = cut
    for frame in sse.flush():
        events += dec.feed(frame)
    return events + dec.finish()


def encode_stream(enc: Any, events: Iterable[Event]) -> bytes:
    """Core events -> SSE bytes through the ``StreamEncoder`` ``enc``, finish() included."""
    return b"".join(enc.feed(e) for e in events) + enc.finish()


def sse_frames(data: bytes) -> list[SSEFrame]:
    """The frames of an SSE byte stream, comments skipped."""
    sse = SSEDecoder()
    return [f for f in sse.feed(data) + sse.flush() if f.comment is None]


def payloads(data: bytes) -> list[Any]:
    """The JSON payloads of an SSE byte stream (comments skipped)."""
    return [orjson.loads(f.data) for f in sse_frames(data)]


def named_payloads(data: bytes) -> list[tuple[str | None, Any]]:
    """(event name, JSON payload) of each frame of an SSE byte stream (comments skipped)."""
    return [(f.event, orjson.loads(f.data)) for f in sse_frames(data)]


def openai_client(replay: Any) -> openai.OpenAI:
    """The official OpenAI SDK pointed at the ``replay`` server (no retries)."""
    return openai.OpenAI(base_url=replay.url + "/v1", api_key="k", max_retries=0, timeout=10)


def full_usage() -> Usage:
    """Usage with every count the OpenAI wire formats carry (cache reads and reasoning included)."""
    return Usage(input_tokens=10, cache_read_tokens=4, output_tokens=9, reasoning_tokens=3)
