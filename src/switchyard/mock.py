"""The built-in ``mock`` provider: deterministic answers without any network.

It produces core :class:`~switchyard.core.model.Response` objects and core stream events, which
the client's codec renders, so it answers in all four client protocols. Behaviour, decided from
the request (the *last user text* is the last text part of the last user message):

1. The last message holds tool results -> ``Tool result received: <first 80 characters of the
   first result's text>``.
2. Tools are offered and the last user text contains ``tool`` (any case) -> a call to the first
   tool; with ``parallel tools`` -> two calls, to the first two tools (the first tool twice when
   only one is offered). Arguments are built from each tool's JSON Schema: every *required*
   property gets a value of its type (string ``"mock"`` or the first ``enum`` value, integer
   ``1``, number ``1.5``, boolean ``true``, array ``[]``, object: its own required properties,
   null ``null``). A freeform tool gets ``{"input": "mock"}``.
3. Otherwise -> ``Hello from Switchyard mock. You said: <last user text>``.

When the request asks for JSON output (``response_format``), the text answer of 1 or 3 is JSON
instead: for a ``json_schema``, an instance of the schema built like tool arguments (the Gemini
CLI's router classifier gets ``{"complexity_reasoning": "mock", "complexity_score": 1}``); for
``json_object``, ``{"answer": <the text answer>}``.

A reasoning part comes first when the request asks for reasoning (any enabled reasoning setting)
or the last user text contains ``think``: ``Thinking about: <first 60 characters>``. It carries
no signature.

Usage counts *words* (whitespace-separated runs) as tokens: input = words of the system prompt
and every message (text, tool-call arguments, tool-result text); output = words of everything
generated; reasoning = words of the reasoning text. ``max_tokens`` is honoured: the answer text
is cut to that many words and the stop reason becomes ``max_tokens``.

Streams send the text a few words per delta, tool arguments in two fragments.

Embeddings (:func:`embed`): a unit vector seeded by the text's hash (SHAKE-256), so the same
text always gets the same vector and different texts different ones; :data:`EMBED_DIMENSIONS`
long unless ``dimensions`` says otherwise (the gateway refuses more than
:data:`MAX_EMBED_DIMENSIONS`). A shorter vector is the longer one's prefix, renormalised (as
Matryoshka-trained models behave).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from .core.events import (
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    TextDelta,
    ToolArgsDelta,
)
from .core.model import (
    Message,
    Part,
    ReasoningPart,
    Request,
    Response,
    StopReason,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
    arguments_text,
)
from .core.util import stable_id

GREETING = "Hello from Switchyard mock."
EMBED_DIMENSIONS = 256
MAX_EMBED_DIMENSIONS = 8192
WORDS_PER_DELTA = 3


def respond(req: Request) -> Response:
    """The mock's whole answer to ``req``."""
    text = last_user_text(req.messages)
    content: list[Part] = []
    if _wants_reasoning(req, text):
        content.append(ReasoningPart(text=f"Thinking about: {text[:60]}"))
    stop = StopReason.END_TURN
    result = _tool_result(req.messages)
    calls = _calls(req, text) if result is None else []
    if calls:
        content.extend(calls)
        stop = StopReason.TOOL_USE
    else:
        answer = f"Tool result received: {result[:80]}" if result is not None else _hello(text)
        answer = _formatted(req.response_format, answer)
        if req.max_tokens is not None and count_words(answer) > req.max_tokens:
            answer = " ".join(answer.split()[: max(req.max_tokens, 0)])
            stop = StopReason.MAX_TOKENS
        content.append(TextPart(answer))
    return Response(
        id=stable_id("mock_", req.model, text, len(req.messages)),
        model=req.model,
        content=content,
        stop_reason=stop,
        usage=_usage(req, content),
        protocol="mock",
    )


def events(req: Request) -> list[Event]:
    """The same answer as :func:`respond`, as a stream of core events."""
    resp = respond(req)
    usage = resp.usage or Usage()
    out: list[Event] = [MessageStart(resp.id, resp.model, Usage(input_tokens=usage.input_tokens))]
    for index, part in enumerate(resp.content):
        if isinstance(part, ReasoningPart):
            out.append(PartStart(index, ReasoningPart()))
            out.extend(ReasoningDelta(index, piece) for piece in _pieces(part.text))
        elif isinstance(part, ToolCallPart):
            out.append(PartStart(index, ToolCallPart(part.id, part.name, arguments="")))
            half = len(part.arguments) // 2
            out.extend(ToolArgsDelta(index, piece) for piece in (part.arguments[:half], part.arguments[half:]) if piece)
        elif isinstance(part, TextPart):
            out.append(PartStart(index, TextPart("")))
            out.extend(TextDelta(index, piece) for piece in _pieces(part.text))
        out.append(PartStop(index))
    out.append(MessageDelta(resp.stop_reason, usage=usage))
    out.append(MessageStop())
    return out


def count_tokens(req: Request) -> int:
    """The mock's token count for a request's input (words, at least 1)."""
    return max(1, _input_words(req))


def embed(texts: list[str], dimensions: int | None = None) -> list[list[float]]:
    """The mock's embedding of each text: a deterministic unit vector (see the module docstring)."""
    size = dimensions or EMBED_DIMENSIONS
    vectors = []
    for text in texts:
        digest = hashlib.shake_256(text.encode()).digest(2 * size)
        raw = [int.from_bytes(digest[i : i + 2], "little") / 32767.5 - 1.0 for i in range(0, 2 * size, 2)]
        norm = math.sqrt(sum(v * v for v in raw)) or 1.0
        vectors.append([v / norm for v in raw])
    return vectors


# ---------------------------------------------------------------------------- decisions


def last_user_text(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role != "user":
            continue
        for part in reversed(message.content):
            if isinstance(part, TextPart) and part.text.strip():
                return part.text.strip()
    return ""


def _tool_result(messages: list[Message]) -> str | None:
    """The first result's text when the last (non-system) message holds tool results."""
    for message in reversed(messages):
        if message.role in ("system", "developer"):
            continue
        results = [p for p in message.content if isinstance(p, ToolResultPart)]
        if not results:
            return None
        return _text_of(results[0].content)
    return None


def _wants_reasoning(req: Request, text: str) -> bool:
    return (req.reasoning is not None and req.reasoning.enabled) or "think" in text.lower()


def _hello(text: str) -> str:
    return f"{GREETING} You said: {text}" if text else GREETING


def _formatted(fmt: dict[str, Any] | None, answer: str) -> str:
    """The text answer in the requested output format (JSON for ``json_schema`` / ``json_object``)."""
    kind = fmt.get("type") if fmt else None
    if kind == "json_schema":
        return arguments_text(_example(fmt.get("schema") or {"type": "object"}))
    if kind == "json_object":
        return arguments_text({"answer": answer})
    return answer


def _calls(req: Request, text: str) -> list[ToolCallPart]:
    lowered = text.lower()
    if not req.tools or "tool" not in lowered:
        return []
    count = 2 if "parallel tools" in lowered else 1
    calls = []
    for n in range(count):
        tool = req.tools[n % len(req.tools)]
        args = {"input": "mock"} if tool.freeform else example_arguments(tool)
        calls.append(ToolCallPart(stable_id("call_mock", req.model, text, n), tool.name, arguments_text(args)))
    return calls


def example_arguments(tool: Tool) -> dict[str, Any]:
    value = _example(tool.parameters or {})
    return value if isinstance(value, dict) else {}


def _example(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "mock"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str) and k != "null"), "null")
    if isinstance(kind, str):
        kind = kind.lower()  # Gemini's OpenAPI subset spells types in upper case
    elif kind is not None:  # not a JSON Schema type (an object, a number): nothing to follow
        return "mock"
    if kind is None:
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return _example(schema[key][0])
        kind = "object" if "properties" in schema or "required" in schema else "string"
    if kind == "object":
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        return {name: _example(props.get(name)) for name in required if isinstance(name, str)}
    return {"string": "mock", "integer": 1, "number": 1.5, "boolean": True, "array": [], "null": None}.get(kind, "mock")


# ---------------------------------------------------------------------------- usage


def count_words(text: str) -> int:
    return len(text.split())


def _text_of(parts: list[Part]) -> str:
    out = []
    for part in parts:
        if isinstance(part, TextPart | ReasoningPart):
            out.append(part.text)
        elif isinstance(part, ToolCallPart):
            out.append(part.arguments)
        elif isinstance(part, ToolResultPart):
            out.append(_text_of(part.content))
    return " ".join(t for t in out if t)


def _input_words(req: Request) -> int:
    words = count_words(_text_of(req.system))
    for message in req.messages:
        words += count_words(_text_of(message.content))
    return words


def _usage(req: Request, content: list[Part]) -> Usage:
    reasoning = sum(count_words(p.text) for p in content if isinstance(p, ReasoningPart))
    return Usage(
        input_tokens=max(1, _input_words(req)),
        output_tokens=count_words(_text_of(content)),
        reasoning_tokens=reasoning,
    )


def _pieces(text: str) -> list[str]:
    """Text split into deltas of a few words each (spaces kept, so they join back exactly)."""
    words = text.split(" ")
    pieces = []
    for i in range(0, len(words), WORDS_PER_DELTA):
        chunk = " ".join(words[i : i + WORDS_PER_DELTA])
        pieces.append(chunk if i + WORDS_PER_DELTA >= len(words) else chunk + " ")
    return [p for p in pieces if p]
