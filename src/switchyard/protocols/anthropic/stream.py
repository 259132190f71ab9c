"""Messages SSE (``event:`` + ``data:``) <-> core stream events.

Decoder: ``message_start`` -> MessageStart (its usage: input and cache tokens); each content
block -> PartStart / deltas / PartStop with the block's own index mapped to a contiguous core
index (``text_delta``, ``input_json_delta``, ``thinking_delta``, ``signature_delta`` -> a
SignatureDelta with source ``anthropic``); blocks of kinds the core does not model (server tools)
are skipped with their deltas. ``message_delta`` usage is cumulative and newer servers repeat
the input numbers there, older ones do not: MessageDelta carries the merge of both, so it is
complete. ``ping`` -> Heartbeat, ``error`` -> StreamError. Unknown events are ignored. A stream
that ends before ``message_stop`` gives StreamError.

Encoder (what Claude Code needs: ``event:`` lines, ``message_start``, ``content_block_start`` and
``content_block_stop`` for every block): ``message_start`` with the input usage known so far;
blocks numbered from 0; a thinking block gets a ``signature_delta`` only for an Anthropic
signature (reasoning from another provider shows as thinking text without one); a block still
open at MessageStop is closed first; ``message_delta`` carries the stop reason and the full
usage, then ``message_stop``. Heartbeat -> ``ping``; StreamError -> ``error`` and nothing after.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...core.errors import ErrorKind, GatewayError
from ...core.events import (
    Event,
    Heartbeat,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from ...core.model import ReasoningPart, Request, TextPart, ToolCallPart, Usage
from ...core.sse import SSEFrame, encode_frame
from .errors import error_from_object, wire_error
from .request import NAME
from .response import format_usage, parse_usage, stop_reason, wire_stop_reason


class StreamDecoder:
    """Anthropic SSE frames -> core events. One per upstream stream."""

    def __init__(self) -> None:
        self._ended = False
        self._blocks: dict[int, tuple[int, str]] = {}  # wire index -> (core index, kind)
        self._next = 0
        self._start_usage: dict[str, Any] = {}

    def feed(self, frame: SSEFrame) -> list[Event]:
        if self._ended or frame.comment is not None or not frame.data:
            return []
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            return self._fail(GatewayError(ErrorKind.SERVER, "the upstream sent a stream event that is not JSON"))
        if not isinstance(data, dict):
            return []
        kind = data.get("type") or frame.event
        if kind == "message_start":
            message = data.get("message") or {}
            self._start_usage = dict(message.get("usage") or {})
            return [
                MessageStart(
                    str(message.get("id") or ""), str(message.get("model") or ""), parse_usage(message.get("usage"))
                )
            ]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_stop":
            known = self._blocks.pop(data.get("index", -1), None)
            return [PartStop(known[0])] if known else []
        if kind == "message_delta":
            delta = data.get("delta") or {}
            usage = {**self._start_usage, **{k: v for k, v in (data.get("usage") or {}).items() if v is not None}}
            return [MessageDelta(stop_reason(delta.get("stop_reason")), delta.get("stop_sequence"), parse_usage(usage))]
        if kind == "message_stop":
            self._ended = True
            return [MessageStop()]
        if kind == "ping":
            return [Heartbeat()]
        if kind == "error":
            err = data.get("error")
            return self._fail(error_from_object(err if isinstance(err, dict) else {}))
        return []

    def _block_start(self, data: dict[str, Any]) -> list[Event]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "text":
            part: Any = TextPart(block.get("text") or "")
        elif kind == "tool_use":
            part = ToolCallPart(block.get("id") or "", block.get("name") or "", "")
        elif kind == "thinking":
            part = ReasoningPart(block.get("thinking") or "", None, NAME)
        elif kind == "redacted_thinking":
            part = ReasoningPart("", None, NAME, block.get("data") or "")
        else:
            return []
        index = self._next
        self._next += 1
        self._blocks[data.get("index", index)] = (index, kind)
        return [PartStart(index, part)]

    def _block_delta(self, data: dict[str, Any]) -> list[Event]:
        known = self._blocks.get(data.get("index", -1))
        if known is None:
            return []
        index = known[0]
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(index, delta["text"])]
        if kind == "input_json_delta" and delta.get("partial_json"):
            return [ToolArgsDelta(index, delta["partial_json"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ReasoningDelta(index, delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):
            return [SignatureDelta(index, delta["signature"], NAME)]
        return []

    def _fail(self, error: GatewayError) -> list[Event]:
        self._ended = True
        return [StreamError(error)]

    def finish(self) -> list[Event]:
        if self._ended:
            return []
        return self._fail(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion"))


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return encode_frame(orjson.dumps(data), kind)


class StreamEncoder:
    """Core events -> Anthropic SSE for a client. One per client stream."""

    def __init__(self, req: Request) -> None:
        self._model = req.model
        self._started = False
        self._ended = False
        self._open: dict[int, int] = {}  # core index -> wire index
        self._kinds: dict[int, str] = {}
        self._next = 0
        self._stop: str | None = None
        self._stop_sequence: str | None = None
        self._usage = Usage()
        self._has_usage = False

    def _start(self, event: MessageStart | None) -> bytes:
        self._started = True
        if event is not None:
            self._model = event.model or self._model
            if event.usage is not None:
                self._usage = event.usage
        mid = event.id if event is not None and event.id else "msg_gateway"
        message = {
            "id": mid if mid.startswith("msg_") else f"msg_{mid}",
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": format_usage(self._usage, native=False),
        }
        return _event("message_start", {"type": "message_start", "message": message})

    def feed(self, event: Event) -> bytes:
        if self._ended:
            return b""
        if isinstance(event, StreamError):
            self._ended = True
            return _event("error", wire_error(event.error))
        if isinstance(event, Heartbeat):
            return _event("ping", {"type": "ping"})
        if isinstance(event, MessageStart):
            return b"" if self._started else self._start(event)
        out = b"" if self._started else self._start(None)
        if isinstance(event, PartStart):
            out += self._part_start(event)
        elif isinstance(event, TextDelta):
            out += self._delta(event.index, {"type": "text_delta", "text": event.text})
        elif isinstance(event, ToolArgsDelta):
            out += self._delta(event.index, {"type": "input_json_delta", "partial_json": event.json})
        elif isinstance(event, ReasoningDelta):
            out += self._delta(event.index, {"type": "thinking_delta", "thinking": event.text})
        elif isinstance(event, SignatureDelta):
            if event.source == NAME and self._kinds.get(event.index) == "thinking":
                out += self._delta(event.index, {"type": "signature_delta", "signature": event.signature})
        elif isinstance(event, PartStop):
            out += self._stop_block(event.index)
        elif isinstance(event, MessageDelta):
            self._stop = event.stop_reason or self._stop
            self._stop_sequence = event.stop_sequence or self._stop_sequence
            if event.usage is not None:
                self._usage, self._has_usage = event.usage, True
        elif isinstance(event, MessageStop):
            out += self._finish()
        return out

    def _part_start(self, event: PartStart) -> bytes:
        part = event.part
        if isinstance(part, ToolCallPart):
            block: dict[str, Any] = {"type": "tool_use", "id": part.id, "name": part.name, "input": {}}
            kind = "tool_use"
        elif isinstance(part, ReasoningPart):
            if part.redacted is not None:
                if part.signature_source != NAME:
                    return b""
                block, kind = {"type": "redacted_thinking", "data": part.redacted}, "redacted"
            else:
                block, kind = {"type": "thinking", "thinking": "", "signature": ""}, "thinking"
        else:
            block, kind = {"type": "text", "text": ""}, "text"
        out = b"".join(self._stop_block(i) for i in list(self._open))  # blocks never interleave
        wire = self._open[event.index] = self._next
        self._kinds[event.index] = kind
        self._next += 1
        out += _event("content_block_start", {"type": "content_block_start", "index": wire, "content_block": block})
        if isinstance(part, ToolCallPart) and part.arguments:
            out += self._delta(event.index, {"type": "input_json_delta", "partial_json": part.arguments})
        if isinstance(part, ReasoningPart) and part.text:
            out += self._delta(event.index, {"type": "thinking_delta", "thinking": part.text})
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        wire = self._open.get(index)
        if wire is None:
            return b""
        return _event("content_block_delta", {"type": "content_block_delta", "index": wire, "delta": delta})

    def _stop_block(self, index: int) -> bytes:
        wire = self._open.pop(index, None)
        if wire is None:
            return b""
        return _event("content_block_stop", {"type": "content_block_stop", "index": wire})

    def _finish(self) -> bytes:
        out = b"".join(self._stop_block(i) for i in list(self._open))
        delta = {"stop_reason": wire_stop_reason(self._stop) or "end_turn", "stop_sequence": self._stop_sequence}
        out += _event(
            "message_delta", {"type": "message_delta", "delta": delta, "usage": format_usage(self._usage, native=False)}
        )
        out += _event("message_stop", {"type": "message_stop"})
        self._ended = True
        return out

    def finish(self) -> bytes:
        if self._ended:
            return b""
        return self.feed(StreamError(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion")))
