"""Shared helpers for the Gemini codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocol_helpers import Fixtures, decode_stream, encode_stream, payloads

from switchyard.core.events import Event
from switchyard.protocols import gemini

_fixtures = Fixtures(Path(__file__).parent / "fixtures")
FIXTURES = _fixtures.folder
CLI = FIXTURES / "gemini_cli"
load, raw = _fixtures.load, _fixtures.raw
frames = payloads  # the JSON payloads of an SSE byte stream (comments skipped)


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Gemini decoder."""
    return decode_stream(gemini.StreamDecoder, data, cuts)


def encode(req: Any, events: list[Event]) -> bytes:
    return encode_stream(gemini.StreamEncoder(req), events)
