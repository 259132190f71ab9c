"""Chat Completions SSE (``data:`` chunks, ``data: [DONE]``) <-> core stream events.

Decoder: the first chunk with an id or choices gives MessageStart (Azure's leading
``prompt_filter_results`` chunk has neither and is skipped); ``delta.content`` extends a text part,
``delta.reasoning_content`` (or ``delta.reasoning``, as OpenAI-compatible servers send) a
reasoning part, ``delta.refusal`` a refusal text part; each new ``tool_calls[].index`` closes the
open part and starts a tool call (id and name come on its first fragment), and its argument
fragments follow. ``finish_reason`` and the usage chunk (``choices: []``) are held until
``[DONE]``, which closes the open part and gives MessageDelta + MessageStop. A chunk with a
top-level ``error`` becomes StreamError. A stream that ends without ``[DONE]`` is complete if a
finish reason and usage were seen (some compatible servers omit ``[DONE]``), else an error.
Argument fragments for a call other than the latest one (interleaved parallel calls) cannot be
expressed as core events: they end the stream with a clear error rather than being dropped.

Encoder: a role chunk first (``{"role": "assistant"}``, no content field), then one chunk per delta (tool calls numbered 0, 1, … in order of
first appearance), a final chunk with ``finish_reason``, the usage chunk only when the client
asked ``stream_options.include_usage`` (MessageDelta usage, else MessageStart's), then ``data: [DONE]``. Reasoning is sent as
``delta.reasoning_content``. StreamError -> ``data: {"error": {...}}`` and nothing after.
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
from ...core.model import ReasoningPart, Request, TextPart, ToolCallPart
from ...core.sse import SSEFrame, encode_comment
from ...core.util import stable_id
from ..openai_responses.errors import error_from_object, format_error
from .response import finish_reason, format_usage, parse_usage, stop_reason

DONE = b"data: [DONE]\n\n"


class StreamDecoder:
    """Chat chunks -> core events. One per upstream stream."""

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._id = ""
        self._next = 0
        self._open: tuple[str, int] | None = None  # (kind, core index); kind: text|refusal|reasoning|tool
        self._tools: dict[int, int] = {}  # wire tool index -> core index
        self._latest_tool: int | None = None
        self._finish: str | None = None
        self._usage = None

    def feed(self, frame: SSEFrame) -> list[Event]:
        if self._ended or frame.comment is not None or not frame.data:
            return []
        if frame.data.strip() == "[DONE]":
            return self._end()
        try:
            chunk = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            return self._fail(GatewayError(ErrorKind.SERVER, "the upstream sent a stream chunk that is not JSON"))
        if not isinstance(chunk, dict):
            return []
        if isinstance(chunk.get("error"), dict):
            return self._fail(error_from_object(chunk["error"]))
        out: list[Event] = []
        if not self._started and not chunk.get("id") and not chunk.get("choices"):
            return []  # Azure's leading prompt_filter_results chunk: no id, model or choices
        if not self._started:
            self._started = True
            self._id = str(chunk.get("id") or "")
            out.append(MessageStart(self._id, str(chunk.get("model") or ""), created=chunk.get("created")))
        if chunk.get("usage"):
            self._usage = parse_usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out += self._delta(choice.get("delta") or {})
                if choice.get("finish_reason"):
                    self._finish = choice["finish_reason"]
        return out

    def _delta(self, delta: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._ensure("reasoning", ReasoningPart())
            out.append(ReasoningDelta(self._open[1], reasoning))  # type: ignore[index]
        if isinstance(delta.get("content"), str) and delta["content"]:
            out += self._ensure("text", TextPart(""))
            out.append(TextDelta(self._open[1], delta["content"]))  # type: ignore[index]
        if isinstance(delta.get("refusal"), str) and delta["refusal"]:
            out += self._ensure("refusal", TextPart("", {"refusal": True}))
            out.append(TextDelta(self._open[1], delta["refusal"]))  # type: ignore[index]
        for call in delta.get("tool_calls") or ():
            out += self._tool_call(call)
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        out: list[Event] = []
        wire_index = call.get("index", 0)
        function = call.get("function") or {}
        if wire_index not in self._tools:
            out += self._close()
            index = self._next
            self._next += 1
            self._tools[wire_index] = index
            self._latest_tool = wire_index
            self._open = ("tool", index)
            call_id = call.get("id") or stable_id("call_", self._id, wire_index)
            out.append(PartStart(index, ToolCallPart(call_id, function.get("name") or "", "")))
        elif wire_index != self._latest_tool:
            return self._fail(
                GatewayError(ErrorKind.SERVER, "the upstream interleaved the arguments of parallel tool calls")
            )
        args = function.get("arguments")
        if isinstance(args, str) and args:
            out.append(ToolArgsDelta(self._tools[wire_index], args))
        return out

    def _ensure(self, kind: str, part: TextPart | ReasoningPart) -> list[Event]:
        if self._open is not None and self._open[0] == kind:
            return []
        out = self._close()
        self._open = (kind, self._next)
        out.append(PartStart(self._next, part))
        self._next += 1
        return out

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        index = self._open[1]
        self._open = None
        return [PartStop(index)]

    def _end(self) -> list[Event]:
        out: list[Event] = [] if self._started else [MessageStart(self._id, "")]
        self._started = True
        out += self._close()
        out.append(MessageDelta(stop_reason(self._finish), usage=self._usage))
        out.append(MessageStop())
        self._ended = True
        return out

    def _fail(self, error: GatewayError) -> list[Event]:
        self._ended = True
        return [StreamError(error)]

    def finish(self) -> list[Event]:
        if self._ended:
            return []
        if self._finish is not None and self._usage is not None:
            return self._end()
        return self._fail(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion"))


class StreamEncoder:
    """Core events -> Chat chunks for a client. One per client stream."""

    def __init__(self, req: Request) -> None:
        self._include_usage = req.include_usage
        self._id = ""
        self._model = req.model
        self._created = 0
        self._started = False
        self._ended = False
        self._tools: dict[int, int] = {}  # core index -> wire tool index
        self._refusal: set[int] = set()
        self._stop: str | None = None
        self._usage = None

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def _start(self, event: MessageStart | None = None) -> bytes:
        self._started = True
        if event is not None:
            self._id = event.id if event.id.startswith("chatcmpl") else f"chatcmpl-{event.id}"
            self._model = event.model or self._model
            self._created = event.created or 0
            self._usage = event.usage
        # no content field until there is content: a tool-call-only answer must not start with an
        # empty text (the AI SDK makes a text part of it)
        return self._chunk({"role": "assistant"})

    def feed(self, event: Event) -> bytes:
        if self._ended:
            return b""
        if isinstance(event, Heartbeat):
            return encode_comment()
        if isinstance(event, StreamError):
            self._ended = True
            return b"data: " + orjson.dumps(format_error(event.error)[1]) + b"\n\n"
        if isinstance(event, MessageStart):
            return b"" if self._started else self._start(event)
        out = b"" if self._started else self._start()
        if isinstance(event, PartStart):
            part = event.part
            if isinstance(part, ToolCallPart):
                index = self._tools[event.index] = len(self._tools)
                call = {
                    "index": index,
                    "id": part.id,
                    "type": "function",
                    "function": {"name": part.name, "arguments": ""},
                }
                out += self._chunk({"tool_calls": [call]})
                if part.arguments:
                    out += self._chunk({"tool_calls": [{"index": index, "function": {"arguments": part.arguments}}]})
            elif isinstance(part, TextPart) and part.extensions.get("refusal"):
                self._refusal.add(event.index)
        elif isinstance(event, TextDelta):
            out += self._chunk({"refusal" if event.index in self._refusal else "content": event.text})
        elif isinstance(event, ReasoningDelta):
            out += self._chunk({"reasoning_content": event.text})
        elif isinstance(event, ToolArgsDelta):
            out += self._chunk(
                {"tool_calls": [{"index": self._tools.get(event.index, 0), "function": {"arguments": event.json}}]}
            )
        elif isinstance(event, MessageDelta):
            self._stop = event.stop_reason or self._stop
            self._usage = event.usage or self._usage
        elif isinstance(event, MessageStop):
            out += self._finish()
        elif isinstance(event, PartStop | SignatureDelta):
            pass
        return out

    def _finish(self) -> bytes:
        self._ended = True
        out = self._chunk({}, finish_reason(self._stop))
        if self._include_usage and self._usage is not None:
            chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": format_usage(self._usage, native=False),
            }
            out += b"data: " + orjson.dumps(chunk) + b"\n\n"
        return out + DONE

    def finish(self) -> bytes:
        if self._ended:
            return b""
        return self.feed(StreamError(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion")))


def content_only(frame: SSEFrame) -> bool:
    """True for a frame that carries content alone (no usage, stop reason, error or end).

    A relay that only watches those (the same-protocol fast path) may skip decoding it. A false
    answer is always safe: it only costs a decode.
    """
    data = frame.data
    return '"finish_reason":null' in data and '"usage"' not in data and '"error"' not in data


def content_frame(raw: bytes) -> bool:
    """:func:`content_only` of one frame's raw bytes, unparsed (a false answer is always safe)."""
    return b'"finish_reason":null' in raw and b'"usage"' not in raw and b'"error"' not in raw
