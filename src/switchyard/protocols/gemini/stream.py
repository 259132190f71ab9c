"""Gemini ``streamGenerateContent?alt=sse`` <-> core stream events.

Upstream (decoder). Every frame is a whole ``GenerateContentResponse``; there are no start or
stop events and no terminator (the stream ends at EOF), ``usageMetadata`` is cumulative on every
chunk (the last one wins), ``finishReason`` comes on the last chunk.

- The first chunk gives MessageStart (``responseId``, ``modelVersion``, usage so far).
- Text parts extend the open text part; ``thought: true`` parts extend an open ReasoningPart.
- A ``thoughtSignature`` on a text or thought part becomes a SignatureDelta (source "gemini") on
  that part, emitted *before* the delta of the chunk that carried it, so a Gemini encoder can put
  it back on the same wire part without holding text back. A part that already has a signature
  is closed before the next signed part, so each part carries at most one signature.
- An empty part that only carries a signature (``{"text": "", "thoughtSignature"}``, as Gemini
  3.x sends last) becomes a ReasoningPart with just that signature, so it can be replayed.
- Each ``functionCall`` is a whole ToolCallPart: PartStart, one ToolArgsDelta with the args JSON,
  SignatureDelta if signed, PartStop. Missing ids are minted as in :mod:`.response`.
- Other parts (``executableCode``, inline images, ...) become opaque TextParts (``_raw_part``).
- ``finishReason`` closes the open part and gives MessageDelta(stop reason, usage); EOF gives
  MessageStop (plus a MessageDelta first if usage changed after the finish chunk). EOF without a
  finish reason, an ``{"error": ...}`` frame or a frame that is not JSON give StreamError.
  Candidates other than the first are ignored.

Client side (encoder), what the Gemini CLI and google-genai accept: no start frame; one chunk per
text / thought delta (thought text only when the client asked ``includeThoughts``; a Gemini
signature is kept either way); tool calls are buffered and sent whole at PartStop as one
``functionCall`` part (args parsed from the buffered JSON, id unless minted, thoughtSignature if
a Gemini signature rode on it); a final chunk carries ``finishReason`` (required by the Gemini
CLI) and usage. Every chunk carries ``responseId``, ``modelVersion`` and the usage known so far;
frames end with CRLF CRLF. StreamError -> ``data: {"error": {...}}`` and nothing after.

Heartbeat -> a chunk with one empty text part, *not* an SSE comment: the official google-genai
Python SDK (3.4) feeds every non-``data:`` line to its JSON parser and fails on ``: keepalive``
(see ``test_sdk.py``); an empty text part is what Gemini itself sends in its last chunk.
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
from ...core.model import (
    Reasoning,
    ReasoningPart,
    Request,
    TextPart,
    ToolCallPart,
    Usage,
    arguments_object,
    arguments_text,
)
from ...core.sse import SSEFrame, encode_frame
from .errors import error_from_status, format_error
from .response import finish_reason, format_usage, parse_usage, stop_reason
from .wire import NAME, is_minted, mint_call_id, normalized


class StreamDecoder:
    """Gemini SSE frames -> core events. One per upstream stream."""

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._id = ""
        self._next = 0
        self._open: int | None = None
        self._open_kind: str | None = None
        self._open_signed = False
        self._calls = 0
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._reported: Usage | None = None

    def feed(self, frame: SSEFrame) -> list[Event]:
        if self._done or frame.comment is not None or not frame.data.strip():
            return []
        try:
            data = orjson.loads(frame.data)
        except orjson.JSONDecodeError:
            return self._fail(GatewayError(ErrorKind.SERVER, "upstream sent a stream frame that is not JSON"))
        events: list[Event] = []
        for chunk in data if isinstance(data, list) else [data]:
            if self._done:
                break
            if isinstance(chunk, dict):
                events += self._chunk(normalized(chunk))
        return events

    def finish(self) -> list[Event]:
        if self._done:
            return []
        if not self._started or self._finish is None:
            return self._fail(GatewayError(ErrorKind.SERVER, "upstream stream ended before completion"))
        self._done = True
        events = self._close()
        if self._usage is not self._reported:
            events.append(MessageDelta(stop_reason(self._finish, self._calls > 0), usage=self._usage))
        events.append(MessageStop())
        return events

    def _fail(self, error: GatewayError) -> list[Event]:
        self._done = True
        return [StreamError(error)]

    def _chunk(self, chunk: dict[str, Any]) -> list[Event]:
        if isinstance(chunk.get("error"), dict):
            return self._fail(error_from_status(chunk["error"]))
        events: list[Event] = []
        usage = parse_usage(chunk.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        if not self._started:
            self._started = True
            self._id = chunk.get("responseId") if isinstance(chunk.get("responseId"), str) else ""
            model = chunk.get("modelVersion") if isinstance(chunk.get("modelVersion"), str) else ""
            events.append(MessageStart(self._id, model, usage=usage))
        candidates = chunk.get("candidates")
        cand = _first(candidates)
        if cand is not None:
            content = cand.get("content")
            parts = normalized(content).get("parts") if isinstance(content, dict) else None
            for raw in parts if isinstance(parts, list) else []:
                if isinstance(raw, dict):
                    events += self._part(normalized(raw))
            finish = cand.get("finishReason")
            if isinstance(finish, str) and finish:
                events += self._finished(finish)
        elif not candidates and _blocked(chunk.get("promptFeedback")):
            events += self._finished("PROHIBITED_CONTENT")
        return events

    def _finished(self, finish: str) -> list[Event]:
        self._finish = finish
        events = self._close()
        self._reported = self._usage
        events.append(MessageDelta(stop_reason(finish, self._calls > 0), usage=self._usage))
        return events

    def _part(self, p: dict[str, Any]) -> list[Event]:
        sig = p.get("thoughtSignature") if isinstance(p.get("thoughtSignature"), str) else None
        if isinstance(p.get("functionCall"), dict):
            return self._function_call(normalized(p["functionCall"]), sig)
        text = p.get("text")
        if isinstance(text, str) and (text or not sig):
            kind = "reasoning" if p.get("thought") is True else "text"
            if not text and not sig:
                return []
            events = self._ensure(kind, signed=sig is not None)
            index = self._open
            assert index is not None
            if sig:
                self._open_signed = True
                events.append(SignatureDelta(index, sig, NAME))
            if text:
                events.append(TextDelta(index, text) if kind == "text" else ReasoningDelta(index, text))
            return events
        if sig is not None and not any(
            k in p for k in ("inlineData", "fileData", "executableCode", "codeExecutionResult")
        ):
            events = self._close()
            index = self._start()
            return [*events, PartStart(index, ReasoningPart()), SignatureDelta(index, sig, NAME), PartStop(index)]
        events = self._close()
        index = self._start()
        return [*events, PartStart(index, TextPart("", extensions={"_raw_part": p})), PartStop(index)]

    def _function_call(self, fc: dict[str, Any], sig: str | None) -> list[Event]:
        name = fc.get("name") if isinstance(fc.get("name"), str) else ""
        call_id = (
            fc.get("id") if isinstance(fc.get("id"), str) and fc.get("id") else mint_call_id(self._id, self._calls)
        )
        self._calls += 1
        args = fc.get("args") if isinstance(fc.get("args"), dict) else {}
        events = self._close()
        index = self._start()
        events += [PartStart(index, ToolCallPart(call_id, name, "")), ToolArgsDelta(index, arguments_text(args))]
        if sig:
            events.append(SignatureDelta(index, sig, NAME))
        events.append(PartStop(index))
        return events

    def _ensure(self, kind: str, signed: bool) -> list[Event]:
        if self._open is not None and self._open_kind == kind and not (signed and self._open_signed):
            return []
        events = self._close()
        index = self._start()
        self._open, self._open_kind, self._open_signed = index, kind, False
        events.append(PartStart(index, TextPart("") if kind == "text" else ReasoningPart()))
        return events

    def _start(self) -> int:
        index = self._next
        self._next += 1
        return index

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open, self._open_kind, self._open_signed = self._open, None, None, False
        return [PartStop(index)]


def _blocked(feedback: Any) -> bool:
    return isinstance(feedback, dict) and bool(normalized(feedback).get("blockReason"))


def _first(candidates: Any) -> dict[str, Any] | None:
    if not isinstance(candidates, list):
        return None
    for cand in candidates:
        if isinstance(cand, dict) and cand.get("index", 0) == 0:
            return normalized(cand)
    return None


class StreamEncoder:
    """Core events -> Gemini SSE bytes for the client. One per client stream."""

    def __init__(self, req: Request) -> None:
        reasoning: Reasoning | None = req.reasoning
        self._thoughts = bool(reasoning and reasoning.include_thoughts)
        self._id = ""
        self._model = ""
        self._usage: Usage | None = None
        self._stop: str | None = None
        self._finishing = False
        self._done = False
        self._kinds: dict[int, str] = {}
        self._signatures: dict[int, str] = {}
        self._calls: dict[int, tuple[ToolCallPart, list[str]]] = {}

    def feed(self, event: Event) -> bytes:
        if self._done:
            return b""
        if isinstance(event, TextDelta | ReasoningDelta):
            return self._delta(event)
        if isinstance(event, PartStart):
            return self._part_start(event)
        if isinstance(event, ToolArgsDelta):
            if event.index in self._calls:
                self._calls[event.index][1].append(event.json)
            return b""
        if isinstance(event, SignatureDelta):
            if event.source == NAME:
                self._signatures[event.index] = self._signatures.get(event.index, "") + event.signature
            return b""
        if isinstance(event, PartStop):
            return self._part_stop(event.index)
        if isinstance(event, MessageStart):
            self._id, self._model = event.id, event.model
            if event.usage is not None:
                self._usage = event.usage
            return b""
        if isinstance(event, MessageDelta):
            if event.stop_reason is not None:
                self._stop = event.stop_reason
            if event.usage is not None:
                self._usage = event.usage
            self._finishing = True
            return b""
        if isinstance(event, MessageStop):
            return self._final()
        if isinstance(event, StreamError):
            self._done = True
            _, body = format_error(event.error)
            return encode_frame(orjson.dumps(body), crlf=True)
        if isinstance(event, Heartbeat):
            return self._chunk([{"text": ""}])
        return b""

    def finish(self) -> bytes:
        if self._done or not self._finishing:
            return b""
        return self._final()

    def _part_start(self, event: PartStart) -> bytes:
        part = event.part
        if isinstance(part, ToolCallPart):
            self._kinds[event.index] = "tool"
            self._calls[event.index] = (part, [part.arguments] if part.arguments else [])
            if part.signature and part.signature_source == NAME:
                self._signatures[event.index] = part.signature
            return b""
        if isinstance(part, ReasoningPart):
            self._kinds[event.index] = "reasoning"
            if part.signature and part.signature_source == NAME:
                self._signatures[event.index] = part.signature
            if part.text:
                return self._delta(ReasoningDelta(event.index, part.text))
            return b""
        self._kinds[event.index] = "text"
        raw = part.extensions.get("_raw_part")
        if isinstance(raw, dict):
            self._kinds[event.index] = "raw"
            return self._chunk([raw])
        return self._delta(TextDelta(event.index, part.text)) if part.text else b""

    def _delta(self, event: TextDelta | ReasoningDelta) -> bytes:
        thought = isinstance(event, ReasoningDelta)
        if not event.text or (thought and not self._thoughts):
            return b""
        part: dict[str, Any] = {"text": event.text}
        if thought:
            part["thought"] = True
        sig = self._signatures.pop(event.index, None)
        if sig:
            part["thoughtSignature"] = sig
        return self._chunk([part])

    def _part_stop(self, index: int) -> bytes:
        kind = self._kinds.pop(index, None)
        sig = self._signatures.pop(index, None)
        if kind == "tool":
            call, buf = self._calls.pop(index)
            try:
                args = arguments_object("".join(buf))
            except ValueError:
                args = {}
            fc: dict[str, Any] = {"name": call.name, "args": args}
            if call.id and not is_minted(call.id):
                fc["id"] = call.id
            part: dict[str, Any] = {"functionCall": fc}
            if sig:
                part["thoughtSignature"] = sig
            return self._chunk([part])
        if sig:
            return self._chunk([{"text": "", "thoughtSignature": sig}])
        return b""

    def _final(self) -> bytes:
        self._done = True
        return self._chunk([{"text": ""}], finish_reason(self._stop))

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish is not None:
            cand["finishReason"] = finish
        out: dict[str, Any] = {"candidates": [cand]}
        if self._usage is not None:
            out["usageMetadata"] = format_usage(self._usage)
        if self._model:
            out["modelVersion"] = self._model
        if self._id:
            out["responseId"] = self._id
        return encode_frame(orjson.dumps(out), crlf=True)


def content_only(frame: SSEFrame) -> bool:
    """True for a frame that carries content alone (no usage, stop reason, error or end).

    A relay that only watches those (the same-protocol fast path) may skip decoding it. A false
    answer is always safe: it only costs a decode.
    """
    data = frame.data  # every frame has the cumulative usage: the relay decodes the last one it skipped
    return '"finishReason"' not in data and '"finish_reason"' not in data and '"error"' not in data


def content_frame(raw: bytes) -> bool:
    """:func:`content_only` of one frame's raw bytes, unparsed (a false answer is always safe)."""
    return b'"finishReason"' not in raw and b'"finish_reason"' not in raw and b'"error"' not in raw
