"""Shared helpers for the Responses codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from switchyard.core import SSEDecoder
from switchyard.core.events import Event
from switchyard.protocols import openai_responses

FIXTURES = Path(__file__).parent / "fixtures"
CODEX = FIXTURES / "codex"


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Responses decoder."""
    sse = SSEDecoder()
    dec = openai_responses.StreamDecoder()
    events: list[Event] = []
    start = 0
    for cut in [*sorted(cuts or []), len(data)]:
        for frame in sse.feed(data[start:cut]):
            events += dec.feed(frame)
        start = cut
    for frame in sse.flush():
        events += dec.feed(frame)
    return events + dec.finish()


def encode(req: Any, events: list[Event]) -> bytes:
    enc = openai_responses.StreamEncoder(req)
    return b"".join(enc.feed(e) for e in events) + enc.finish()


def frames(data: bytes) -> list[tuple[str | None, Any]]:
    """(event name, JSON payload) of each frame of an SSE byte stream (comments skipped)."""
    sse = SSEDecoder()
    return [(f.event, orjson.loads(f.data)) for f in sse.feed(data) + sse.flush() if f.comment is None]


def request(**fields: Any) -> Any:
    """A parsed Responses request with the given body fields (model and input defaulted)."""
    return openai_responses.parse_request({"model": "gpt-x", "input": "hi", **fields})
