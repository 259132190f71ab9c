"""Shared helpers for the Anthropic codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocol_helpers import Fixtures, decode_stream, encode_stream, named_payloads

from switchyard.core.events import Event
from switchyard.core.model import Request
from switchyard.protocols import anthropic

_fixtures = Fixtures(Path(__file__).parent / "fixtures")
FIXTURES = _fixtures.folder
CLAUDE_CODE = FIXTURES / "claude_code"
load, raw, names = _fixtures.load, _fixtures.raw, _fixtures.names
frames = named_payloads  # (event name, parsed data) of every frame


def capture_bodies() -> list[Path]:
    return sorted(CLAUDE_CODE.glob("*/*_v1_messages.body.json"))


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Anthropic decoder."""
    return decode_stream(anthropic.StreamDecoder, data, cuts)


def encode(events: list[Event], req: Request | None = None) -> bytes:
    """Core events -> Anthropic SSE bytes through the encoder (finish() included)."""
    return encode_stream(anthropic.StreamEncoder(req or Request(model="claude-test", protocol="anthropic")), events)


def request(**body: Any) -> dict[str, Any]:
    """A minimal valid Messages body with ``body`` merged in."""
    return {"model": "claude-test", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **body}
