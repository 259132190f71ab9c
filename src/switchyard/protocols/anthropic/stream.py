"""Messages SSE (``event:`` + ``data:``) <-> core stream events.

Decoder (upstream -> core): ``message_start`` -> MessageStart (its usage: input and cache tokens,
``test_usage_in_message_start``); each ``text`` / ``tool_use`` / ``thinking`` /
``redacted_thinking`` block -> PartStart, deltas (``text_delta``, ``input_json_delta`` — the first
fragment is often empty and is skipped —, ``thinking_delta``, ``signature_delta`` ->
SignatureDelta with source ``anthropic``), PartStop; core indices count only those blocks, from
0. Other blocks (server tools, future kinds) are skipped with their deltas, unknown events and
deltas are ignored. ``message_delta`` usage is cumulative, and only newer servers repeat the input
and cache numbers there: MessageDelta carries the merge with ``message_start``'s usage, so it is
complete. A block still open at ``message_delta`` / ``message_stop`` (a stream cut by
``max_tokens`` in the middle of tool input) is stopped first. ``ping`` -> Heartbeat, ``error`` ->
StreamError (nothing after it). A stream that ends before ``message_stop`` gives StreamError.

Encoder (core -> client). Claude Code needs ``event:`` lines, ``message_start``,
``content_block_start`` and ``content_block_stop`` for every block (clients/NOTES.md):

- ``message_start``: id (``msg_`` prefixed), model, empty content, ``stop_reason: null``, usage
  with the input known so far (0 when unknown), sent before anything else but ``ping``.
- Blocks are numbered from 0 without gaps; a block is stopped before the next one starts (also
  when the events did not say so). Text and thinking blocks open at their first non-empty
  content, so a part with nothing to show (an empty text, a signature-only part of another
  provider) makes no empty block. A tool call opens at once (``input: {}``), arguments follow as
  ``input_json_delta`` (one fragment or many).
- Thinking: block start ``{"type":"thinking","thinking":"","signature":""}``, ``thinking_delta``
  per text delta, and a ``signature_delta`` carrying a signature only from Anthropic. Reasoning of
  another provider is still shown as a thinking block with its text but an empty signature (the
  client cannot send a foreign signature back; see ``test_foreign_reasoning_has_no_signature``),
  sent as a ``signature_delta`` as Anthropic ends every thinking block: a streamed answer gives
  the client the block the plain answer gives (``"signature": ""``), and clients that keep only
  signed thinking (the AI SDK) keep it.
  Redacted thinking -> a ``redacted_thinking`` block.
- MessageStop -> open block stopped, ``message_delta`` (stop reason — ``tool_use`` when tool
  calls were sent and the upstream said it ended normally —, stop sequence and the FULL usage:
  input, cache and output counters), ``message_stop``. ``finish()`` on a stream that started but
  never got MessageStop ends it the same way.
- Heartbeat -> ``event: ping``; StreamError -> ``event: error`` with the Anthropic error body,
  then nothing more.
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
from ...core.model import ReasoningPart, Request, TextPart, ToolCallPart, Usage, arguments_text
from ...core.sse import SSEFrame, encode_frame, frame_event
from ...core.util import stable_id
from .errors import error_from_object, wire_error
from .response import format_usage, parse_usage, stop_reason, wire_stop_reason
from .wire import NAME

ENDED_EARLY = "upstream stream ended before completion"


class StreamDecoder:
    """Anthropic SSE frames -> core events. One per upstream stream."""

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._blocks: dict[Any, int] = {}  # wire index -> core index, for the blocks the core models
        self._open: list[int] = []
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
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_stop":
            index = self._blocks.get(data.get("index"))
            return self._stop(index) if index is not None else []
        if kind == "message_start":
            return self._message_start(data.get("message"))
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            self._ended = True
            return [*self._stop_all(), MessageStop()]
        if kind == "ping":
            return [Heartbeat()]
        if kind == "error":
            return self._fail(error_from_object(data.get("error")))
        return []

    def finish(self) -> list[Event]:
        if self._ended:
            return []
        return self._fail(GatewayError(ErrorKind.SERVER, ENDED_EARLY))

    def _message_start(self, message: Any) -> list[Event]:
        if self._started or not isinstance(message, dict):
            return []
        self._started = True
        usage = message.get("usage")
        self._start_usage = dict(usage) if isinstance(usage, dict) else {}
        return [MessageStart(str(message.get("id") or ""), str(message.get("model") or ""), parse_usage(usage))]

    def _message_delta(self, data: dict[str, Any]) -> list[Event]:
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        merged = {**self._start_usage, **{k: v for k, v in usage.items() if v is not None}}
        sequence = delta.get("stop_sequence")
        return [
            *self._stop_all(),
            MessageDelta(
                stop_reason(delta.get("stop_reason")),
                sequence if isinstance(sequence, str) else None,
                parse_usage(merged) if merged else None,
            ),
        ]

    def _block_start(self, data: dict[str, Any]) -> list[Event]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        kind = block.get("type")
        follow: list[Event] = []
        index = self._next
        if kind == "text":
            part: Any = TextPart("")
            if block.get("text"):
                follow.append(TextDelta(index, block["text"]))
        elif kind == "tool_use":
            part = ToolCallPart(str(block.get("id") or ""), str(block.get("name") or ""), "")
            if isinstance(block.get("input"), dict) and block["input"]:
                follow.append(ToolArgsDelta(index, arguments_text(block["input"])))
        elif kind == "thinking":
            part = ReasoningPart("", None, NAME)
            if block.get("thinking"):
                follow.append(ReasoningDelta(index, block["thinking"]))
            if block.get("signature"):
                follow.append(SignatureDelta(index, block["signature"], NAME))
        elif kind == "redacted_thinking":
            part = ReasoningPart("", None, NAME, str(block.get("data") or ""))
        else:
            return []
        events = self._stop_all()  # blocks never interleave in the core
        self._next += 1
        self._blocks[data.get("index", index)] = index
        self._open.append(index)
        return [*events, PartStart(index, part), *follow]

    def _block_delta(self, data: dict[str, Any]) -> list[Event]:
        index = self._blocks.get(data.get("index"))
        delta = data.get("delta")
        if index is None or index not in self._open or not isinstance(delta, dict):
            return []
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

    def _stop(self, index: int) -> list[Event]:
        if index not in self._open:
            return []
        self._open.remove(index)
        return [PartStop(index)]

    def _stop_all(self) -> list[Event]:
        events: list[Event] = [PartStop(i) for i in self._open]
        self._open = []
        return events

    def _fail(self, error: GatewayError) -> list[Event]:
        self._ended = True
        return [StreamError(error)]


def _frame(kind: str, data: dict[str, Any]) -> bytes:
    return encode_frame(orjson.dumps(data), kind)


class StreamEncoder:
    """Core events -> Anthropic SSE for a Messages client. One per client stream."""

    def __init__(self, req: Request) -> None:
        self._model = req.model
        self._started = False
        self._ended = False
        self._index: int | None = None  # core index of the current part
        self._wire: int | None = None  # its block index once the block was started
        self._pending: dict[str, Any] | None = None  # block start not sent yet (text / thinking)
        self._kind = ""
        self._signature: str | None = None  # an Anthropic signature given with PartStart
        self._signed = False  # the open thinking block has had its signature_delta
        self._next = 0
        self._tools = False
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._usage: Usage | None = None

    def feed(self, event: Event) -> bytes:
        if self._ended:
            return b""
        if isinstance(event, StreamError):
            self._ended = True
            return _frame("error", wire_error(event.error))
        if isinstance(event, Heartbeat):
            return _frame("ping", {"type": "ping"})
        if isinstance(event, MessageStart):
            return b"" if self._started else self._start(event)
        out = b"" if self._started else self._start(None)
        if isinstance(event, PartStart):
            out += self._part_start(event)
        elif isinstance(event, TextDelta):
            out += self._content(event.index, "text", {"type": "text_delta", "text": event.text}, event.text)
        elif isinstance(event, ToolArgsDelta):
            out += self._content(
                event.index, "tool_use", {"type": "input_json_delta", "partial_json": event.json}, event.json
            )
        elif isinstance(event, ReasoningDelta):
            out += self._content(
                event.index, "thinking", {"type": "thinking_delta", "thinking": event.text}, event.text
            )
        elif isinstance(event, SignatureDelta):
            if event.source == NAME:
                delta = {"type": "signature_delta", "signature": event.signature}
                sent = self._content(event.index, "thinking", delta, event.signature)
                self._signed = self._signed or bool(sent)
                out += sent
        elif isinstance(event, PartStop):
            if event.index == self._index:
                out += self._close()
        elif isinstance(event, MessageDelta):
            self._stop_reason = event.stop_reason or self._stop_reason
            self._stop_sequence = event.stop_sequence or self._stop_sequence
            if event.usage is not None:
                self._usage = event.usage
        elif isinstance(event, MessageStop):
            out += self._end()
        return out

    def finish(self) -> bytes:
        """End of the upstream: a started stream is completed, an empty one gets an error."""
        if self._ended:
            return b""
        if not self._started:
            return self.feed(StreamError(GatewayError(ErrorKind.SERVER, ENDED_EARLY)))
        return self._end()

    def _start(self, event: MessageStart | None) -> bytes:
        self._started = True
        mid = ""
        if event is not None:
            self._model = event.model or self._model
            self._usage = event.usage
            mid = event.id
        mid = mid or stable_id("msg_", self._model)
        message = {
            "id": mid if mid.startswith("msg_") else f"msg_{mid}",
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": format_usage(self._usage),
        }
        return _frame("message_start", {"type": "message_start", "message": message})

    def _part_start(self, event: PartStart) -> bytes:
        out = self._close()
        part = event.part
        self._index = event.index
        if isinstance(part, ToolCallPart):
            self._tools = True
            block: dict[str, Any] = {"type": "tool_use", "id": part.id, "name": part.name, "input": {}}
            out += self._open("tool_use", block)
            if part.arguments:
                out += self._delta({"type": "input_json_delta", "partial_json": part.arguments})
            return out
        if isinstance(part, ReasoningPart):
            if part.redacted is not None:
                if part.signature_source in (None, NAME):
                    out += self._open("redacted", {"type": "redacted_thinking", "data": part.redacted})
                return out
            self._kind, self._pending = "thinking", {"type": "thinking", "thinking": "", "signature": ""}
            if part.signature and part.signature_source == NAME:
                self._signature = part.signature
                out += self._open("thinking", self._pending)
            if part.text:
                out += self._content(
                    event.index, "thinking", {"type": "thinking_delta", "thinking": part.text}, part.text
                )
            return out
        self._kind, self._pending = "text", {"type": "text", "text": ""}
        if isinstance(part, TextPart) and part.text:
            out += self._content(event.index, "text", {"type": "text_delta", "text": part.text}, part.text)
        return out

    def _open(self, kind: str, block: dict[str, Any]) -> bytes:
        self._kind, self._pending = kind, None
        self._wire = self._next
        self._next += 1
        return _frame(
            "content_block_start", {"type": "content_block_start", "index": self._wire, "content_block": block}
        )

    def _content(self, index: int, kind: str, delta: dict[str, Any], value: str) -> bytes:
        """A delta for the current part (opening its block first when it waited for content)."""
        if index != self._index or self._kind != kind or not value:
            return b""
        out = b""
        if self._wire is None:
            if self._pending is None:
                return b""
            out = self._open(kind, self._pending)
        return out + self._delta(delta)

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _frame("content_block_delta", {"type": "content_block_delta", "index": self._wire, "delta": delta})

    def _close(self) -> bytes:
        out = b""
        if self._wire is not None:
            if self._kind == "thinking" and (self._signature is not None or not self._signed):
                out += self._delta({"type": "signature_delta", "signature": self._signature or ""})
            out += _frame("content_block_stop", {"type": "content_block_stop", "index": self._wire})
        self._index = self._wire = self._pending = self._signature = None
        self._kind, self._signed = "", False
        return out

    def _end(self) -> bytes:
        out = self._close()
        stop = wire_stop_reason(self._stop_reason) or ("tool_use" if self._tools else "end_turn")
        if stop == "end_turn" and self._tools:
            stop = "tool_use"
        delta = {"stop_reason": stop, "stop_sequence": self._stop_sequence}
        out += _frame("message_delta", {"type": "message_delta", "delta": delta, "usage": format_usage(self._usage)})
        out += _frame("message_stop", {"type": "message_stop"})
        self._ended = True
        return out


_CONTENT_EVENTS = frozenset(("content_block_start", "content_block_delta", "content_block_stop", "ping"))


def content_only(frame: SSEFrame) -> bool:
    """True for a frame that carries content alone (no usage, stop reason, error or end).

    A relay that only watches those (the same-protocol fast path) may skip decoding it. A false
    answer is always safe: it only costs a decode.
    """
    return frame.event in _CONTENT_EVENTS


_CONTENT_EVENT_NAMES = frozenset(e.encode() for e in _CONTENT_EVENTS)


def content_frame(raw: bytes) -> bool:
    """:func:`content_only` of one frame's raw bytes, unparsed (a false answer is always safe)."""
    return frame_event(raw) in _CONTENT_EVENT_NAMES
