"""Core stream events -> the Responses SSE stream a client reads (see :mod:`.stream` for the
event sequence). One :class:`StreamEncoder` per client stream; it owns the response id, item ids
(stable, from the response id and output index), output / content / summary indexes and the
sequence numbers, and accumulates the Response it finally sends (``final_response``).
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
from ...core.model import Request, StopReason, TextPart, ToolCallPart, Usage
from ...core.sse import encode_comment, encode_frame
from .errors import wire_error
from .items import custom_input
from .response import call_item, echo, format_usage, status_fields
from .tools import tool_wire_names
from .wire import NAME, item_id, response_id

# ResponseError.code values the openai SDK knows, by error kind (response.failed's error)
_FAILED_CODE: dict[str, str] = {
    ErrorKind.RATE_LIMIT: "rate_limit_exceeded",
    ErrorKind.INVALID_REQUEST: "invalid_prompt",
}


class StreamEncoder:
    """Core events -> Responses SSE bytes for the client of ``req``."""

    def __init__(self, req: Request) -> None:
        self._echo = echo(req)
        self._names = tool_wire_names(req)
        self._model = req.model
        self._rid = ""
        self._created = 0
        self._seq = 0
        self._started = False
        self._done = False
        self._output: list[dict[str, Any]] = []
        self._message: dict[str, Any] | None = None  # the open message item
        self._item: dict[str, Any] | None = None  # the open call / reasoning item
        self._part: dict[str, Any] | None = None  # the open content / summary part
        self._kind: str | None = None  # text | refusal | call | custom | reasoning | skip
        self._index: int | None = None  # core index of the open part
        self._buffer: list[str] = []
        self._signature: list[str] = []
        self._stop: str | None = None
        self._usage: Usage | None = None
        self.final_response: dict[str, Any] | None = None
        """The last Response object sent (``response.completed`` / ``incomplete`` / ``failed``)."""

    def feed(self, event: Event) -> bytes:
        if isinstance(event, Heartbeat):
            return b"" if self._done else encode_comment("keepalive")
        if self._done:
            return b""
        out = b"" if self._started or isinstance(event, MessageStart | StreamError) else self._start(None)
        handler = _HANDLERS.get(type(event))
        return out + handler(self, event) if handler is not None else out

    def finish(self) -> bytes:
        if self._done:
            return b""
        return self._error(StreamError(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion")))

    # --- framing -----------------------------------------------------------------------------

    def _emit(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        return encode_frame(orjson.dumps(data), kind)

    def _response(self, status: dict[str, Any], final: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self._rid, "object": "response", "created_at": self._created, **status}
        body.update(self._echo)
        body["model"] = self._model
        body["output"] = self._output if final else []
        body["usage"] = format_usage(self._usage) if final and self._usage is not None else None
        return body

    def _start(self, event: MessageStart | None) -> bytes:
        if event is not None:
            self._model = event.model or self._model
            self._created = event.created or 0
            self._usage = event.usage
        self._rid = response_id(event.id if event else None, self._model, self._created)
        self._started = True
        shell = self._response({"status": "in_progress", "error": None, "incomplete_details": None}, False)
        return self._emit("response.created", {"response": shell}) + self._emit(
            "response.in_progress", {"response": shell}
        )

    def _ids(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"item_id": item["id"], "output_index": self._output.index(item)}

    # --- parts -------------------------------------------------------------------------------

    def _part_start(self, event: PartStart) -> bytes:
        part = event.part
        out = self._close_open()
        if not isinstance(part, TextPart):
            out += self._close_message("completed")
        self._index, self._buffer, self._signature = event.index, [], []
        if isinstance(part, TextPart):
            return out + self._text_start(part)
        if isinstance(part, ToolCallPart):
            self._item = call_item(part, self._rid, len(self._output), self._names, False, "in_progress")
            self._kind = "custom" if self._item["type"] == "custom_tool_call" else "call"
            own = part.extensions.get("id")  # a Responses upstream's item id rides on the part
            if isinstance(own, str) and own.startswith("ctc_" if self._kind == "custom" else "fc_"):
                self._item["id"] = own
            self._item["input" if self._kind == "custom" else "arguments"] = ""
            out += self._add(self._item)
            return out + (self._args(part.arguments) if part.arguments else b"")
        if part.redacted is not None and not part.text:
            self._kind = "skip"  # Anthropic redacted thinking has no Responses form
            return out
        self._kind = "reasoning"
        own = part.extensions.get("id")
        rid = own if isinstance(own, str) and own.startswith("rs_") else item_id("rs_", self._rid, len(self._output))
        self._item = {"id": rid, "type": "reasoning", "summary": []}
        self._part = None
        out += self._add(self._item)
        return out + (self._reasoning(part.text) if part.text else b"")

    def _add(self, item: dict[str, Any]) -> bytes:
        self._output.append(item)
        return self._emit("response.output_item.added", {"output_index": len(self._output) - 1, "item": item})

    def _text_start(self, part: TextPart) -> bytes:
        out = b""
        if self._message is None:
            self._message = {
                "id": item_id("msg_", self._rid, len(self._output)),
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            out += self._add(self._message)
        refusal = part.extensions.get("refusal") is True
        self._kind = "refusal" if refusal else "text"
        self._part = (
            {"type": "refusal", "refusal": ""}
            if refusal
            else {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        )
        self._message["content"].append(self._part)
        out += self._emit("response.content_part.added", self._content_ids() | {"part": self._part})
        return out + (self._text(part.text) if part.text else b"")

    def _content_ids(self) -> dict[str, Any]:
        assert self._message is not None
        return self._ids(self._message) | {"content_index": len(self._message["content"]) - 1}

    def _text(self, delta: str) -> bytes:
        if self._kind == "refusal":
            self._part["refusal"] += delta  # type: ignore[index]
            return self._emit("response.refusal.delta", self._content_ids() | {"delta": delta})
        self._part["text"] += delta  # type: ignore[index]
        return self._emit("response.output_text.delta", self._content_ids() | {"delta": delta, "logprobs": []})

    def _args(self, delta: str) -> bytes:
        self._buffer.append(delta)
        if self._kind == "custom":
            return b""  # sent whole at the end: the input is the decoded "input" string
        return self._emit("response.function_call_arguments.delta", self._ids(self._item) | {"delta": delta})  # type: ignore[arg-type]

    def _reasoning(self, delta: str) -> bytes:
        assert self._item is not None
        out = b""
        if self._part is None:
            self._part = {"type": "summary_text", "text": ""}
            self._item["summary"].append(self._part)
            out += self._emit(
                "response.reasoning_summary_part.added",
                self._ids(self._item) | {"summary_index": 0, "part": {"type": "summary_text", "text": ""}},
            )
        self._part["text"] += delta
        ids = self._ids(self._item) | {"summary_index": 0, "delta": delta}
        return out + self._emit("response.reasoning_summary_text.delta", ids)

    def _delta(self, event: TextDelta | ToolArgsDelta | ReasoningDelta) -> bytes:
        if event.index != self._index:
            return b""
        if isinstance(event, TextDelta) and self._kind in ("text", "refusal"):
            return self._text(event.text)
        if isinstance(event, ToolArgsDelta) and self._kind in ("call", "custom"):
            return self._args(event.json)
        if isinstance(event, ReasoningDelta) and self._kind == "reasoning":
            return self._reasoning(event.text)
        return b""

    def _signature_delta(self, event: SignatureDelta) -> bytes:
        if event.index == self._index and self._kind == "reasoning" and event.source == NAME:
            self._signature.append(event.signature)
        return b""

    def _part_stop(self, event: PartStop) -> bytes:
        if event.index != self._index:
            return b""
        kind, self._kind, self._index = self._kind, None, None
        if kind in ("text", "refusal"):
            return self._text_stop(kind)
        item, self._item = self._item, None
        if item is None:
            return b""
        ids = self._ids(item)
        out = b""
        if kind == "call":
            item["arguments"] = "".join(self._buffer) or "{}"
            out += self._emit("response.function_call_arguments.done", ids | {"arguments": item["arguments"]})
        elif kind == "custom":
            text = custom_input("".join(self._buffer))
            item["input"] = text
            if text:
                out += self._emit("response.custom_tool_call_input.delta", ids | {"delta": text})
            out += self._emit("response.custom_tool_call_input.done", ids | {"input": text})
        elif kind == "reasoning":
            if self._part is not None:
                sid = ids | {"summary_index": 0}
                out += self._emit("response.reasoning_summary_text.done", sid | {"text": self._part["text"]})
                out += self._emit("response.reasoning_summary_part.done", sid | {"part": self._part})
                self._part = None
            if self._signature:
                item["encrypted_content"] = "".join(self._signature)
        if "status" in item:
            item["status"] = "completed"
        return out + self._emit("response.output_item.done", {"output_index": ids["output_index"], "item": item})

    def _text_stop(self, kind: str) -> bytes:
        part, self._part = self._part, None
        assert part is not None
        ids = self._content_ids()
        if kind == "refusal":
            out = self._emit("response.refusal.done", ids | {"refusal": part["refusal"]})
        else:
            out = self._emit("response.output_text.done", ids | {"text": part["text"], "logprobs": []})
        return out + self._emit("response.content_part.done", ids | {"part": part})

    def _close_message(self, status: str) -> bytes:
        message, self._message = self._message, None
        if message is None:
            return b""
        message["status"] = status
        return self._emit("response.output_item.done", {"output_index": self._output.index(message), "item": message})

    # --- end ---------------------------------------------------------------------------------

    def _message_delta(self, event: MessageDelta) -> bytes:
        if event.stop_reason is not None:
            self._stop = event.stop_reason
        if event.usage is not None:
            self._usage = event.usage
        return b""

    def _message_stop(self, event: MessageStop) -> bytes:
        out = self._close_open()
        status = status_fields(self._stop)
        out += self._close_message("incomplete" if status["status"] == "incomplete" else "completed")
        self._done = True
        self.final_response = self._response(status, True)
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            status["status"], "response.failed"
        )
        return out + self._emit(kind, {"response": self.final_response})

    def _close_open(self) -> bytes:
        """Close a part the events left open (a tolerant end for a truncated sequence)."""
        return self._part_stop(PartStop(self._index)) if self._index is not None else b""

    def _error(self, event: StreamError) -> bytes:
        out = b"" if self._started else self._start(None)
        err = event.error
        wire = wire_error(err)
        payload = {"code": wire["code"], "message": wire["message"], "param": wire["param"], "error": wire}
        out += self._emit("error", payload)
        code = err.code if err.code else _FAILED_CODE.get(err.kind, "server_error")
        self._done = True
        self.final_response = self._response(
            status_fields(StopReason.ERROR, {"code": code, "message": err.message}), True
        )
        return out + self._emit("response.failed", {"response": self.final_response})


_HANDLERS: dict[type, Any] = {
    MessageStart: lambda self, e: b"" if self._started else self._start(e),
    PartStart: StreamEncoder._part_start,
    TextDelta: StreamEncoder._delta,
    ToolArgsDelta: StreamEncoder._delta,
    ReasoningDelta: StreamEncoder._delta,
    SignatureDelta: StreamEncoder._signature_delta,
    PartStop: StreamEncoder._part_stop,
    MessageDelta: StreamEncoder._message_delta,
    MessageStop: StreamEncoder._message_stop,
    StreamError: StreamEncoder._error,
}
