"""The protocol-neutral request and response model.

Every protocol codec parses its wire JSON into these types and builds its wire JSON from them.
Conventions that keep translations lossless:

- ``extensions`` on every type holds wire fields the model does not represent, keyed by their
  wire name, so a same-protocol round trip (parse -> build) gives the same JSON. Keys starting
  with ``_`` are codec-private hints about the original wire form (e.g. "system was a string").
  A builder applies extensions only when the object came from its own protocol
  (``Request.protocol`` / ``Response.protocol`` says which).
- ``Request.native_only`` lists fields (JSON paths as strings) that changed meaning and that only
  the source protocol can carry (e.g. ``n`` > 1). A builder for another protocol raises
  :class:`~switchyard.core.errors.TranslationError` naming the first of them.
- Tool-call arguments are kept as the JSON *text* (``arguments``); protocols whose wire form is
  an object (Anthropic ``input``, Gemini ``args``) parse it with :func:`arguments_object`.
- Opaque provider state (Anthropic thinking signatures, Gemini thought signatures, Responses
  encrypted reasoning) is tagged with the protocol that produced it (``signature_source``);
  builders of other protocols never forward a foreign signature.
- Roles: ``system`` and ``developer`` messages may stand anywhere in ``messages`` (OpenAI Chat
  allows it, Claude Code sends a mid-conversation ``system`` message). ``Request.system`` holds
  top-level instructions (Anthropic ``system``, Gemini ``systemInstruction``, Responses
  ``instructions``). Tool results travel in messages of role ``tool`` holding
  :class:`ToolResultPart` items; builders group them as their protocol requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

Role = Literal["system", "developer", "user", "assistant", "tool"]


def _ext() -> dict[str, Any]:
    return {}


@dataclass(slots=True)
class TextPart:
    text: str
    extensions: dict[str, Any] = field(default_factory=_ext)
    kind: Literal["text"] = "text"


@dataclass(slots=True)
class ImagePart:
    """An image given by URL (``url``) or inline bytes (``data``: base64, with ``media_type``)."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)
    kind: Literal["image"] = "image"


@dataclass(slots=True)
class DocumentPart:
    """A document or file: inline base64 ``data``, a ``url``, a provider ``file_id``, or plain ``text``."""

    data: str | None = None
    url: str | None = None
    file_id: str | None = None
    text: str | None = None
    media_type: str | None = None
    filename: str | None = None
    title: str | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)
    kind: Literal["document"] = "document"


ID_MINTED = "_id_minted"
"""``ToolCallPart.extensions`` hint: the client sent the call back without the id it was given
(LangChain's Gemini client does), so the parser made one up; state kept for the call is then
found by its name and arguments."""


@dataclass(slots=True)
class ToolCallPart:
    """A call the model made. ``arguments`` is JSON text (may be partial only inside streams)."""

    id: str
    name: str
    arguments: str = "{}"
    signature: str | None = None
    signature_source: str | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)
    kind: Literal["tool_call"] = "tool_call"


@dataclass(slots=True)
class ToolResultPart:
    """The result of a tool call. ``content`` is text and/or rich parts; ``name`` is known when
    the source protocol carries it (Gemini requires it on the way out)."""

    tool_call_id: str
    content: list[Part] = field(default_factory=list)
    is_error: bool = False
    name: str | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)
    kind: Literal["tool_result"] = "tool_result"


@dataclass(slots=True)
class ReasoningPart:
    """Reasoning / thinking. ``text`` is the visible thinking or summary; ``signature`` the opaque
    continuity token (Anthropic signature, Gemini thoughtSignature, Responses encrypted_content)
    produced by ``signature_source``; ``redacted`` holds Anthropic ``redacted_thinking`` data."""

    text: str = ""
    signature: str | None = None
    signature_source: str | None = None
    redacted: str | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)
    kind: Literal["reasoning"] = "reasoning"


Part = TextPart | ImagePart | DocumentPart | ToolCallPart | ToolResultPart | ReasoningPart


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=_ext)


@dataclass(slots=True)
class Tool:
    """A function tool. ``parameters`` is a JSON Schema object (None: takes no parameters)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    freeform: bool = False
    """A freeform (Responses ``custom``) tool takes one raw string. Protocols without freeform
    tools carry it as a function with one string parameter ``input``; its calls carry
    ``{"input": <string>}`` as arguments."""
    extensions: dict[str, Any] = field(default_factory=_ext)


@dataclass(slots=True)
class ToolChoice:
    """``auto`` | ``none`` | ``required`` (some tool) | ``tool`` (the one named)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)


@dataclass(slots=True)
class Reasoning:
    """Reasoning settings. ``effort``: minimal|low|medium|high|xhigh|max; ``budget_tokens``: an
    explicit thinking budget; ``enabled`` False turns thinking off; ``adaptive`` lets the model
    decide (Anthropic ``{"type":"adaptive"}``); ``summary``: Responses summary mode;
    ``include_thoughts``: return visible thinking (Gemini ``includeThoughts``)."""

    enabled: bool = True
    effort: str | None = None
    budget_tokens: int | None = None
    adaptive: bool = False
    summary: str | None = None
    include_thoughts: bool | None = None
    extensions: dict[str, Any] = field(default_factory=_ext)


@dataclass(slots=True)
class Request:
    model: str
    messages: list[Message] = field(default_factory=list)
    system: list[Part] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    reasoning: Reasoning | None = None
    response_format: dict[str, Any] | None = None
    """JSON-schema output: ``{"type": "json_schema", "name", "schema", "strict"}`` or ``{"type": "json_object"}``."""
    stream: bool = False
    include_usage: bool = False
    """The client asked for usage in its stream (OpenAI ``stream_options.include_usage``)."""
    user: str | None = None
    metadata: dict[str, Any] | None = None
    protocol: str = ""
    native_only: list[str] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=_ext)


class StopReason:
    """Neutral stop reasons (string constants)."""

    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_USE = "tool_use"
    CONTENT_FILTER = "content_filter"
    REFUSAL = "refusal"
    PAUSE_TURN = "pause_turn"
    CONTEXT_WINDOW = "context_window"
    ERROR = "error"


@dataclass(slots=True)
class Usage:
    """Token usage with disjoint buckets, so nothing is counted twice.

    ``input_tokens``: prompt tokens neither read from nor written to a cache (Anthropic
    ``input_tokens``; OpenAI ``prompt_tokens - cached_tokens``; Gemini ``promptTokenCount -
    cachedContentTokenCount``). ``cache_read_tokens`` / ``cache_write_tokens``: prompt tokens read
    from / written to a cache. ``output_tokens``: all generated tokens *including* reasoning.
    ``reasoning_tokens``: the part of ``output_tokens`` spent on reasoning (a subset, not added).
    Prompt total = input + cache_read + cache_write; grand total = prompt total + output.

    ``estimated``: the upstream reported no usage and the gateway counted it itself
    (:mod:`switchyard.accounting.estimate`); a usage the upstream did not report is never 0.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    extensions: dict[str, Any] = field(default_factory=_ext)

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens


@dataclass(slots=True)
class Response:
    id: str
    model: str
    content: list[Part] = field(default_factory=list)
    stop_reason: str | None = StopReason.END_TURN
    stop_sequence: str | None = None
    usage: Usage | None = None
    created: int | None = None
    protocol: str = ""
    extensions: dict[str, Any] = field(default_factory=_ext)


def arguments_object(arguments: str) -> dict[str, Any]:
    """Parse tool-call arguments JSON text into an object ({} for empty text).

    Raises ValueError when the text is not a JSON object.
    """
    if not arguments.strip():
        return {}
    value = orjson.loads(arguments)
    if not isinstance(value, dict):
        raise ValueError("tool-call arguments are not a JSON object")
    return value


def arguments_text(arguments: Any) -> str:
    """Serialise a tool-call arguments object compactly, keeping key order."""
    return orjson.dumps(arguments if arguments is not None else {}).decode()
