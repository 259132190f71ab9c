"""Shared helpers for the OpenAI Chat codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from switchyard.core import SSEDecoder
from switchyard.core.events import Event
from switchyard.core.model import Request
from switchyard.protocols import openai_chat

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def names(pattern: str) -> list[str]:
    return sorted(p.name for p in FIXTURES.glob(pattern))


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Chat decoder."""
    sse = SSEDecoder()
    dec = openai_chat.StreamDecoder()
    events: list[Event] = []
    start = 0
    for cut in [*sorted(cuts or []), len(data)]:
        for frame in sse.feed(data[start:cut]):
            events += dec.feed(frame)
        start = cut
    for frame in sse.flush():
        events += dec.feed(frame)
    return events + dec.finish()


def encode(events: list[Event], req: Request | None = None) -> bytes:
    """Core events -> Chat SSE bytes through the encoder (finish() included)."""
    enc = openai_chat.StreamEncoder(req or Request(model="gpt-test", protocol="openai_chat"))
    return b"".join(enc.feed(e) for e in events) + enc.finish()


def chunks(data: bytes) -> list[Any]:
    """Parsed ``data:`` payloads of every frame (``[DONE]`` kept as the string)."""
    sse = SSEDecoder()
    out = []
    for f in sse.feed(data) + sse.flush():
        if f.comment is None:
            out.append("[DONE]" if f.data == "[DONE]" else orjson.loads(f.data))
    return out


def request(**body: Any) -> dict[str, Any]:
    """A minimal valid Chat body with ``body`` merged in."""
    return {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], **body}
