"""Protocol-neutral stream events.

A stream decoder turns upstream frames into these; a stream encoder turns them into client
frames. The sequence for one response is::

    MessageStart
    ( PartStart  (TextDelta | ToolArgsDelta | ReasoningDelta | SignatureDelta)*  PartStop )*
    MessageDelta        (stop reason and usage; may come more than once, later values win)
    MessageStop
    -- or, at any point, StreamError (and nothing after it); Heartbeat may appear anywhere.

``index`` numbers the parts of the message from 0 in order of their start; a decoder assigns it.
Parts do not interleave: a part stops before the next one starts (decoders of protocols that
interleave, such as OpenAI parallel tool-call deltas, close the previous part first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import GatewayError
from .model import ReasoningPart, TextPart, ToolCallPart, Usage


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage | None = None
    """Usage known at the start (Anthropic reports input tokens here)."""
    created: int | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class PartStart:
    """A part begins. ``part`` is an empty TextPart, a ToolCallPart with id and name (arguments
    empty), or a ReasoningPart (``redacted`` set for redacted thinking)."""

    index: int
    part: TextPart | ToolCallPart | ReasoningPart


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True)
class ToolArgsDelta:
    index: int
    json: str


@dataclass(slots=True)
class ReasoningDelta:
    index: int
    text: str


@dataclass(slots=True)
class SignatureDelta:
    """Opaque continuity token for the part at ``index`` (appended, Anthropic-style)."""

    index: int
    signature: str
    source: str


@dataclass(slots=True)
class PartStop:
    index: int


@dataclass(slots=True)
class MessageDelta:
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    """Cumulative usage so far (replaces earlier values, it is not added to them)."""


@dataclass(slots=True)
class MessageStop:
    pass


@dataclass(slots=True)
class StreamError:
    error: GatewayError


@dataclass(slots=True)
class Heartbeat:
    pass


Event = (
    MessageStart
    | PartStart
    | TextDelta
    | ToolArgsDelta
    | ReasoningDelta
    | SignatureDelta
    | PartStop
    | MessageDelta
    | MessageStop
    | StreamError
    | Heartbeat
)


def is_content(event: Event) -> bool:
    """An event that means the answer has begun (not the start marker, a ping or an error)."""
    return not isinstance(event, MessageStart | Heartbeat | StreamError)
