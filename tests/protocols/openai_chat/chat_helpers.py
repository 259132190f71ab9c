"""Shared helpers for the OpenAI Chat codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from protocol_helpers import Fixtures, decode_stream, encode_stream, sse_frames

from switchyard.core.events import Event, MessageDelta, MessageStart, MessageStop, PartStart, PartStop, TextDelta
from switchyard.core.model import Request, StopReason, TextPart, Usage
from switchyard.protocols import openai_chat

_fixtures = Fixtures(Path(__file__).parent / "fixtures")
FIXTURES = _fixtures.folder
load, raw, names = _fixtures.load, _fixtures.raw, _fixtures.names


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Chat decoder."""
    return decode_stream(openai_chat.StreamDecoder, data, cuts)


def encode(events: list[Event], req: Request | None = None) -> bytes:
    """Core events -> Chat SSE bytes through the encoder (finish() included)."""
    return encode_stream(openai_chat.StreamEncoder(req or Request(model="gpt-test", protocol="openai_chat")), events)


def text_events(usage: Usage | None = None) -> list[Event]:
    """A text answer, "Hel" + "lo", ending with ``usage``."""
    return [
        MessageStart("msg_1", "claude-x"),
        PartStart(0, TextPart("")),
        TextDelta(0, "Hel"),
        TextDelta(0, "lo"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN, usage=usage),
        MessageStop(),
    ]


def chunks(data: bytes) -> list[Any]:
    """Parsed ``data:`` payloads of every frame (``[DONE]`` kept as the string)."""
    return ["[DONE]" if f.data == "[DONE]" else orjson.loads(f.data) for f in sse_frames(data)]


def request(**body: Any) -> dict[str, Any]:
    """A minimal valid Chat body with ``body`` merged in."""
    return {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], **body}
