"""Shared helpers for the Responses codec tests (fixtures live next to the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protocol_helpers import Fixtures, decode_stream, encode_stream, named_payloads

from switchyard.core.events import Event
from switchyard.protocols import openai_responses

_fixtures = Fixtures(Path(__file__).parent / "fixtures")
FIXTURES = _fixtures.folder
CODEX = FIXTURES / "codex"
load, raw = _fixtures.load, _fixtures.raw
frames = named_payloads  # (event name, JSON payload) of each frame (comments skipped)


def decode(data: bytes, cuts: list[int] | None = None) -> list[Event]:
    """Upstream SSE bytes (in the given chunking) -> core events through the Responses decoder."""
    return decode_stream(openai_responses.StreamDecoder, data, cuts)


def encode(req: Any, events: list[Event]) -> bytes:
    return encode_stream(openai_responses.StreamEncoder(req), events)


def request(**fields: Any) -> Any:
    """A parsed Responses request with the given body fields (model and input defaulted)."""
    return openai_responses.parse_request({"model": "gpt-x", "input": "hi", **fields})
