"""Shared helpers for the Anthropic codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from switchyard.core import SSEDecoder
from switchyard.core.events import Event
from switchyard.core.model import Request
from switchyard.protocols import anthropic

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_CODE = FIXTURES / "claude_code"


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def names(pattern: str) -> list[str]:
    return sorted(p.name for p in FIXTURES.glob(pattern))


def capture_bodies() -> list[Path]:
    return sorted(CLAUDE_CODE.glob("*/*_v1_messages.body.json"))


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Anthropic decoder."""
    sse = SSEDecoder()
    dec = anthropic.StreamDecoder()
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
    """Core events -> Anthropic SSE bytes through the encoder (finish() included)."""
    enc = anthropic.StreamEncoder(req or Request(model="claude-test", protocol="anthropic"))
    return b"".join(enc.feed(e) for e in events) + enc.finish()


def frames(data: bytes) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) of every frame."""
    sse = SSEDecoder()
    return [(f.event, orjson.loads(f.data)) for f in sse.feed(data) + sse.flush() if f.comment is None]


def request(**body: Any) -> dict[str, Any]:
    """A minimal valid Messages body with ``body`` merged in."""
    return {"model": "claude-test", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **body}
