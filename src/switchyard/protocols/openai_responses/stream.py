"""Responses SSE stream <-> core stream events.

Upstream (decoder). Every frame is ``event: <type>`` + ``data: {"type": <type>,
"sequence_number": n, ...}`` (dispatch is on the JSON ``type``); there is no ``[DONE]``, the
stream ends after its terminal event.

- ``response.created`` (or the first ``in_progress`` / ``queued``) -> MessageStart.
- ``content_part.added`` (``output_text`` / ``refusal``) opens a TextPart (a refusal part has
  ``extensions["refusal"]``); ``output_text.delta`` / ``refusal.delta`` -> TextDelta;
  ``content_part.done`` (or the item's ``output_item.done``) closes it.
- ``output_item.added`` of a ``function_call`` -> ToolCallPart (``call_id``, name, item id and
  namespace in extensions) + ``function_call_arguments.delta`` -> ToolArgsDelta; a
  ``custom_tool_call`` streams its raw input as the JSON text ``{"input": "..."}`` (escaped
  fragments), so the arguments are valid JSON when the part stops.
- ``reasoning`` items -> ReasoningPart; ``reasoning_summary_text.delta`` and
  ``reasoning_text.delta`` -> ReasoningDelta, separate summary / content parts joined with a
  blank line; ``encrypted_content`` (from ``output_item.done``, else ``output_item.added``) ->
  SignatureDelta (source "openai_responses") just before PartStop.
- ``.done`` events that carry text nobody streamed (no deltas) emit it as one delta.
- ``response.completed`` / ``response.incomplete`` -> MessageDelta (stop reason, usage) +
  MessageStop; ``response.failed`` and ``event: error`` -> StreamError. Hosted-tool items and
  unknown events give nothing. EOF without a terminal event -> StreamError at ``finish()``.

Client side (encoder). ``response.created`` + ``response.in_progress`` (the Response with status
``in_progress``, no output, the request's settings echoed), then per item
``output_item.added`` ... ``output_item.done`` with the full item (Codex builds its turn from
``output_item.done`` and requires ``response.completed``): messages get ``content_part.added``,
``output_text.delta`` *, ``output_text.done``, ``content_part.done`` per text part (consecutive
text parts share one message item; refusals use ``refusal.delta`` / ``.done``); function calls
``function_call_arguments.delta`` * / ``.done``; freeform calls (the client's tool is ``custom``)
one ``custom_tool_call_input.delta`` with the whole input and ``.done``; reasoning
``reasoning_summary_part.added``, ``reasoning_summary_text.delta`` *, ``.done``,
``reasoning_summary_part.done``, and ``encrypted_content`` on the done item when the signature
came from Responses. Then ``response.completed`` (``response.incomplete`` with
``incomplete_details`` for max_tokens / content_filter) carrying the whole Response with usage.
Every event has ``type`` and a ``sequence_number`` counting from 0; the ``event:`` line repeats
the type. StreamError -> ``event: error`` (the error both nested in ``error``, as the live API
sends it and the openai SDK checks, and at the top level, as the spec describes it) and then
``response.failed``; nothing after. Heartbeat -> ``: keepalive``. ``final_response`` is the last
Response object sent (for a response store).
"""

from __future__ import annotations

from typing import Any

import orjson

from ...core.errors import ErrorKind, GatewayError, RequestError
from ...core.events import (
    Event,
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
from ...core.model import ReasoningPart, TextPart, ToolCallPart, Usage
from ...core.sse import SSEFrame, frame_event
from .encoder import StreamEncoder
from .errors import error_from_event, error_from_response
from .items import parse_call
from .response import parse_usage, stop_reason
from .wire import NAME, rest

__all__ = ["StreamDecoder", "StreamEncoder"]

_CUSTOM_OPEN = '{"input":"'
_CUSTOM_CLOSE = '"}'


def _escaped(text: str) -> str:
    """``text`` as the inside of a JSON string literal."""
    return orjson.dumps(text).decode()[1:-1]


class StreamDecoder:
    """Responses SSE frames -> core events. One per upstream stream."""

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._next = 0
        self._open: int | None = None  # core index of the open part
        self._kind: str | None = None  # text | call | custom | reasoning
        self._item: int | None = None  # output_index the open part belongs to
        self._sent = False  # the open part got text / arguments
        self._key: tuple[str, int] | None = None  # reasoning: the summary / content part streaming
        self._keys_sent: set[tuple[str, int]] = set()
        self._signature: str | None = None
        self._calls = False
        self._text = False
        self._refusal = False
        self._usage: Usage | None = None

    def feed(self, frame: SSEFrame) -> list[Event]:
        if self._done or frame.comment is not None or not frame.data.strip():
            return []
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            return self._fail(GatewayError(ErrorKind.SERVER, "upstream sent a stream frame that is not JSON"))
        if not isinstance(data, dict):
            return []
        kind = data.get("type") if isinstance(data.get("type"), str) else frame.event
        handler = _HANDLERS.get(kind or "")
        return handler(self, data) if handler is not None else []

    def finish(self) -> list[Event]:
        if self._done:
            return []
        return self._fail(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion"))

    def _fail(self, error: GatewayError) -> list[Event]:
        self._done = True
        return [StreamError(error)]

    def _start(self, data: dict[str, Any]) -> list[Event]:
        if self._started:
            return []
        self._started = True
        r = data.get("response") if isinstance(data.get("response"), dict) else {}
        created = r.get("created_at")
        self._usage = parse_usage(r.get("usage"))
        return [
            MessageStart(
                id=r.get("id") if isinstance(r.get("id"), str) else "",
                model=r.get("model") if isinstance(r.get("model"), str) else "",
                usage=self._usage,
                created=created if isinstance(created, int) else None,
            )
        ]

    def _begin(self, part: TextPart | ToolCallPart | ReasoningPart, kind: str, item: Any) -> list[Event]:
        events = self._close()
        self._open, self._kind, self._item, self._sent = self._next, kind, item, False
        self._key, self._keys_sent, self._signature = None, set(), None
        self._next += 1
        return [*events, PartStart(self._open, part)]

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        events: list[Event] = []
        if self._kind == "custom":
            events.append(ToolArgsDelta(self._open, _CUSTOM_CLOSE))
        if self._kind == "reasoning" and self._signature:
            events.append(SignatureDelta(self._open, self._signature, NAME))
        events.append(PartStop(self._open))
        self._open = self._kind = self._item = None
        return events

    def _item_added(self, data: dict[str, Any]) -> list[Event]:
        item = data.get("item")
        if not isinstance(item, dict):
            return []
        kind, index = item.get("type"), data.get("output_index")
        events = self._start({})
        if kind in ("function_call", "custom_tool_call"):
            custom = kind == "custom_tool_call"
            fields = {k: v for k, v in item.items() if v is not None and k != "status"}
            defaults = {"call_id": item.get("id") or "", "name": "", "input" if custom else "arguments": ""}
            try:
                call = parse_call({**defaults, **fields}, "item")
            except RequestError:
                return events
            call.arguments = ""
            self._calls = True
            events += self._begin(call, "custom" if custom else "call", index)
            first = item.get("input") if custom else item.get("arguments")
            if custom:
                events.append(ToolArgsDelta(self._open, _CUSTOM_OPEN))  # type: ignore[arg-type]
            events += self._args(first if isinstance(first, str) else "")
        elif kind == "reasoning":
            ext = rest(item, ("type", "summary", "content", "encrypted_content"))
            events += self._begin(ReasoningPart(extensions=ext), "reasoning", index)
            enc = item.get("encrypted_content")
            self._signature = enc if isinstance(enc, str) and enc else None
        return events

    def _args(self, text: str) -> list[Event]:
        if not text or self._open is None:
            return []
        self._sent = True
        return [ToolArgsDelta(self._open, _escaped(text) if self._kind == "custom" else text)]

    def _content_added(self, data: dict[str, Any]) -> list[Event]:
        part = data.get("part") if isinstance(data.get("part"), dict) else {}
        refusal = part.get("type") == "refusal"
        events = self._start({}) + self._begin(
            TextPart("", {"refusal": True} if refusal else {}), "text", data.get("output_index")
        )
        return events + self._text_delta({"delta": part.get("refusal" if refusal else "text") or ""}, refusal)

    def _text_delta(self, data: dict[str, Any], refusal: bool = False) -> list[Event]:
        delta = data.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        events: list[Event] = []
        if self._kind != "text":
            events += self._start({}) + self._begin(
                TextPart("", {"refusal": True} if refusal else {}), "text", data.get("output_index")
            )
        self._sent = True
        self._refusal |= refusal
        self._text |= not refusal
        return [*events, TextDelta(self._open, delta)]  # type: ignore[arg-type]

    def _text_done(self, data: dict[str, Any], key: str) -> list[Event]:
        if self._kind == "text" and not self._sent:
            return self._text_delta({"delta": data.get(key)}, key == "refusal")
        return []

    def _content_done(self, data: dict[str, Any]) -> list[Event]:
        return self._close() if self._kind == "text" else []

    def _args_delta(self, data: dict[str, Any], custom: bool) -> list[Event]:
        delta = data.get("delta")
        if self._kind != ("custom" if custom else "call") or not isinstance(delta, str):
            return []
        return self._args(delta)

    def _args_done(self, data: dict[str, Any], custom: bool) -> list[Event]:
        value = data.get("input" if custom else "arguments")
        if self._kind != ("custom" if custom else "call") or self._sent or not isinstance(value, str):
            return []
        return self._args(value)

    def _reasoning_key(self, key: tuple[str, int]) -> list[Event]:
        if self._kind != "reasoning" or key == self._key:
            return []
        previous, self._key = self._key, key
        return [ReasoningDelta(self._open, "\n\n")] if previous is not None else []  # type: ignore[arg-type]

    def _summary_part(self, data: dict[str, Any]) -> list[Event]:
        return self._reasoning_key(("s", _int(data.get("summary_index"))))

    def _reasoning_delta(self, data: dict[str, Any], key: tuple[str, int], field: str = "delta") -> list[Event]:
        text = data.get(field)
        if self._kind != "reasoning" or not isinstance(text, str) or not text:
            return []
        if field != "delta" and key in self._keys_sent:
            return []
        events = self._reasoning_key(key)
        self._keys_sent.add(key)
        return [*events, ReasoningDelta(self._open, text)]  # type: ignore[arg-type]

    def _summary_delta(self, data: dict[str, Any], field: str = "delta") -> list[Event]:
        return self._reasoning_delta(data, ("s", _int(data.get("summary_index"))), field)

    def _content_delta(self, data: dict[str, Any], field: str = "delta") -> list[Event]:
        return self._reasoning_delta(data, ("c", _int(data.get("content_index"))), field)

    def _item_done(self, data: dict[str, Any]) -> list[Event]:
        item = data.get("item") if isinstance(data.get("item"), dict) else {}
        if self._open is None or data.get("output_index") != self._item:
            return []
        events: list[Event] = []
        if self._kind in ("call", "custom") and not self._sent:
            value = item.get("input" if self._kind == "custom" else "arguments")
            events += self._args(value if isinstance(value, str) else "")
        elif self._kind == "reasoning":
            for key, parts in (("s", item.get("summary")), ("c", item.get("content"))):
                for i, p in enumerate(parts if isinstance(parts, list) else []):
                    if isinstance(p, dict):
                        events += self._reasoning_delta(p, (key, i), "text")
            enc = item.get("encrypted_content")
            if isinstance(enc, str) and enc:
                self._signature = enc
        return events + self._close()

    def _terminal(self, data: dict[str, Any]) -> list[Event]:
        r = data.get("response") if isinstance(data.get("response"), dict) else {}
        events = self._start(data) + self._close()
        self._done = True
        refused = self._refusal and not self._text
        stop = stop_reason(r.get("status"), r.get("incomplete_details"), self._calls, refused)
        usage = parse_usage(r.get("usage")) or self._usage
        return [*events, MessageDelta(stop, usage=usage), MessageStop()]

    def _failed(self, data: dict[str, Any]) -> list[Event]:
        return self._fail(error_from_response(data.get("response")))

    def _error(self, data: dict[str, Any]) -> list[Event]:
        return self._fail(error_from_event(data))


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


_HANDLERS: dict[str, Any] = {
    "response.created": StreamDecoder._start,
    "response.in_progress": StreamDecoder._start,
    "response.queued": StreamDecoder._start,
    "response.output_item.added": StreamDecoder._item_added,
    "response.content_part.added": StreamDecoder._content_added,
    "response.output_text.delta": StreamDecoder._text_delta,
    "response.refusal.delta": lambda self, d: self._text_delta(d, True),
    "response.output_text.done": lambda self, d: self._text_done(d, "text"),
    "response.refusal.done": lambda self, d: self._text_done(d, "refusal"),
    "response.content_part.done": StreamDecoder._content_done,
    "response.function_call_arguments.delta": lambda self, d: self._args_delta(d, False),
    "response.function_call_arguments.done": lambda self, d: self._args_done(d, False),
    "response.custom_tool_call_input.delta": lambda self, d: self._args_delta(d, True),
    "response.custom_tool_call_input.done": lambda self, d: self._args_done(d, True),
    "response.reasoning_summary_part.added": StreamDecoder._summary_part,
    "response.reasoning_summary_text.delta": StreamDecoder._summary_delta,
    "response.reasoning_summary_text.done": lambda self, d: self._summary_delta(d, "text"),
    "response.reasoning_text.delta": StreamDecoder._content_delta,
    "response.reasoning_text.done": lambda self, d: self._content_delta(d, "text"),
    "response.output_item.done": StreamDecoder._item_done,
    "response.completed": StreamDecoder._terminal,
    "response.incomplete": StreamDecoder._terminal,
    "response.failed": StreamDecoder._failed,
    "error": StreamDecoder._error,
}


def content_only(frame: SSEFrame) -> bool:
    """True for a frame that carries content alone (no usage, stop reason, error or end).

    A relay that only watches those (the same-protocol fast path) may skip decoding it. A false
    answer is always safe: it only costs a decode.
    """
    return frame.event is not None and frame.event.endswith(".delta")


def content_frame(raw: bytes) -> bool:
    """:func:`content_only` of one frame's raw bytes, unparsed (a false answer is always safe)."""
    event = frame_event(raw)
    return event is not None and event.endswith(b".delta")
