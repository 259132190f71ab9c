"""Chat Completions request body <-> core Request.

Parsing keeps every message where it stands (system and developer messages anywhere), one core
message per wire message (``role: tool`` -> a ``tool`` message with one ToolResultPart), and
records the wire form of each field that has several (string vs. parts content, ``max_tokens``
vs. ``max_completion_tokens``, ``stop`` as a string) in ``_``-prefixed extensions so a
same-protocol build gives back the same JSON.

Building from another protocol:

- ``Request.system`` becomes one leading ``system`` message; ``developer`` messages become
  ``system`` (OpenAI-compatible servers such as vLLM do not all know ``developer``). A system
  message's text parts are sent as one string, joined by a blank line (llama-cpp-python's server,
  among others, refuses an array there).
- Tool results become one ``role: tool`` message each, in order. Images in a tool result cannot
  ride in a tool message: they follow in one ``user`` message after the tool messages of that
  turn. An error result is prefixed ``Error: `` (Chat has no error flag). A result whose call is
  not in the preceding assistant turn (an orphan, which the API rejects) becomes user text.
- Reasoning parts are dropped (Chat takes no reasoning back); foreign signatures likewise. An
  assistant message left empty by that is not sent.
- ``tool_choice`` / ``parallel_tool_calls`` are sent only with tools (OpenAI rejects them alone;
  a source's hosted tools may all have been left out).
- ``top_k`` is dropped (OpenAI rejects it; add it back with a ``rename_field`` adapter for servers
  that take it). A thinking budget becomes ``reasoning_effort`` by :data:`BUDGET_EFFORT`.
- Streaming always asks for usage (``stream_options.include_usage``).
- The token limit goes in the field the upstream reads (``build_request``'s ``max_tokens_field``,
  from the provider declaration): OpenAI-compatible servers such as llama.cpp's ignore
  ``max_completion_tokens``.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Reasoning,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    arguments_object,
    arguments_text,
)
from ...core.util import data_url, optional, require, split_data_url

NAME = "openai_chat"

# Fields that change the answer's meaning and that other protocols cannot carry.
NATIVE_ONLY = ("n", "logprobs", "top_logprobs", "logit_bias", "audio", "modalities")
MODELED = frozenset(
    {
        "model",
        "messages",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "reasoning_effort",
        "response_format",
        "stream",
        "stream_options",
        "user",
        "metadata",
    }
)
# thinking budget (tokens) -> reasoning_effort, first bound that holds
BUDGET_EFFORT = ((2048, "low"), (16384, "medium"))
FREEFORM_PARAMETERS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The raw input for the tool."}},
    "required": ["input"],
}


# ------------------------------------------------------------------------------------- parsing


def parse_request(body: dict[str, Any]) -> Request:
    """Validate and parse a Chat Completions body."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = require(body, "model", str)
    wire_messages = require(body, "messages", list)
    req = Request(model=model, protocol=NAME)
    req.messages = [_parse_message(m, f"messages[{i}]") for i, m in enumerate(wire_messages)]
    req.tools = [_parse_tool(t, f"tools[{i}]") for i, t in enumerate(optional(body, "tools", list) or [])]
    if "tool_choice" in body and body["tool_choice"] is not None:
        req.tool_choice = _parse_tool_choice(body["tool_choice"], req)
    req.parallel_tool_calls = optional(body, "parallel_tool_calls", bool)
    for key in ("max_completion_tokens", "max_tokens"):
        value = optional(body, key, int)
        if value is not None:
            req.max_tokens = value
            req.extensions["_max_tokens_field"] = key
            break
    req.temperature = optional(body, "temperature", (int, float))
    req.top_p = optional(body, "top_p", (int, float))
    stop = optional(body, "stop", (str, list))
    if isinstance(stop, str):
        req.stop = [stop]
        req.extensions["_stop_string"] = True
    elif stop is not None:
        if not all(isinstance(s, str) for s in stop):
            raise RequestError("field 'stop' must be a string or a list of strings", param="stop")
        req.stop = list(stop)
    effort = optional(body, "reasoning_effort", str)
    if effort is not None:
        req.reasoning = Reasoning(effort=effort, enabled=effort != "none")
    fmt = optional(body, "response_format", dict)
    if fmt is not None:
        req.response_format = _parse_response_format(fmt)
    req.stream = bool(optional(body, "stream", bool))
    if body.get("stream") is False:
        req.extensions["_stream_false"] = True
    stream_options = optional(body, "stream_options", dict)
    if stream_options is not None:
        req.include_usage = bool(stream_options.get("include_usage"))
        req.extensions["stream_options"] = stream_options
    req.user = optional(body, "user", str)
    req.metadata = optional(body, "metadata", dict)
    for key, value in body.items():
        if key not in MODELED:
            req.extensions[key] = value
    if (body.get("n") or 1) > 1:
        req.native_only.append("n")
    for key in NATIVE_ONLY[1:]:
        if body.get(key) and not (key == "modalities" and body[key] == ["text"]):
            req.native_only.append(key)
    return req


def _parse_message(raw: Any, where: str) -> Message:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    role = require(raw, "role", str, f"{where}.")
    extra = {
        k: v for k, v in raw.items() if k not in ("role", "content", "tool_calls", "tool_call_id", "reasoning_content")
    }
    if role in ("system", "developer", "user"):
        content = _parse_content(raw.get("content"), f"{where}.content", role)
        return Message(role, content.parts, {**extra, **content.form})
    if role == "assistant":
        return _parse_assistant(raw, where, extra)
    if role == "tool":
        call_id = require(raw, "tool_call_id", str, f"{where}.")
        content = _parse_content(raw.get("content"), f"{where}.content", role)
        result = ToolResultPart(call_id, content.parts, extensions=content.form)
        return Message("tool", [result], extra)
    if role == "function":
        raise RequestError(
            f"'{where}.role': the legacy 'function' role is not supported; use 'tool'", param=f"{where}.role"
        )
    raise RequestError(
        f"'{where}.role' must be system, developer, user, assistant or tool, got {role!r}", param=f"{where}.role"
    )


class _Content:
    __slots__ = ("form", "parts")

    def __init__(self, parts: list[Part], form: dict[str, Any]) -> None:
        self.parts = parts
        self.form = form


def _parse_content(content: Any, where: str, role: str) -> _Content:
    if content is None:
        if role in ("user", "tool"):
            raise RequestError(f"missing required field '{where}'", param=where)
        return _Content([], {"_content": "null"})
    if isinstance(content, str):
        return _Content([TextPart(content)], {"_content": "string"})
    if not isinstance(content, list):
        raise RequestError(f"field '{where}' must be a string or an array of content parts", param=where)
    return _Content([_parse_part(p, f"{where}[{i}]") for i, p in enumerate(content)], {"_content": "list"})


def _parse_part(raw: Any, where: str) -> Part:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    kind = require(raw, "type", str, f"{where}.")
    extra = {k: v for k, v in raw.items() if k not in ("type", kind)}
    if kind == "text":
        return TextPart(require(raw, "text", str, f"{where}."), extra)
    if kind == "refusal":
        return TextPart(require(raw, "refusal", str, f"{where}."), {**extra, "refusal": True})
    if kind == "image_url":
        image = require(raw, "image_url", (dict, str), f"{where}.")
        url = image if isinstance(image, str) else require(image, "url", str, f"{where}.image_url.")
        detail = None if isinstance(image, str) else image.get("detail")
        split = split_data_url(url)
        part = (
            ImagePart(data=split[1], media_type=split[0], detail=detail) if split else ImagePart(url=url, detail=detail)
        )
        part.extensions.update(extra)
        if isinstance(image, str):
            part.extensions["_url_string"] = True
        return part
    if kind == "input_audio":
        audio = require(raw, "input_audio", dict, f"{where}.")
        fmt = require(audio, "format", str, f"{where}.input_audio.")
        return DocumentPart(
            data=require(audio, "data", str, f"{where}.input_audio."), media_type=f"audio/{fmt}", extensions=extra
        )
    if kind == "file":
        file = require(raw, "file", dict, f"{where}.")
        part = DocumentPart(file_id=file.get("file_id"), filename=file.get("filename"), extensions=extra)
        file_data = file.get("file_data")
        if isinstance(file_data, str):
            split = split_data_url(file_data)
            if split:
                part.media_type, part.data = split
            else:
                part.data, part.extensions["_raw_file_data"] = file_data, True
        if part.data is None and part.file_id is None:
            raise RequestError(f"'{where}.file' needs file_data or file_id", param=f"{where}.file")
        return part
    raise RequestError(f"'{where}.type': unsupported content part type {kind!r}", param=f"{where}.type")


def _parse_assistant(raw: dict[str, Any], where: str, extra: dict[str, Any]) -> Message:
    parts: list[Part] = []
    reasoning = raw.get("reasoning_content")
    if isinstance(reasoning, str):
        parts.append(ReasoningPart(reasoning))
    content = _parse_content(raw.get("content"), f"{where}.content", "assistant")
    parts.extend(content.parts)
    if raw.get("refusal") is not None:
        extra = {k: v for k, v in extra.items() if k != "refusal"}
        parts.append(TextPart(str(raw["refusal"]), {"refusal": True, "_field": True}))
    calls = optional(raw, "tool_calls", list, f"{where}.")
    for i, call in enumerate(calls or []):
        parts.append(_parse_tool_call(call, f"{where}.tool_calls[{i}]"))
    form = dict(content.form)
    if calls is not None:
        form["_tool_calls"] = True
    if "content" not in raw:
        form["_content"] = "absent"
    return Message("assistant", parts, {**extra, **form})


def _parse_tool_call(raw: Any, where: str) -> ToolCallPart:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    call_id = require(raw, "id", str, f"{where}.")
    extra = {k: v for k, v in raw.items() if k not in ("id", "type", "function", "custom")}
    if raw.get("type") == "custom":
        custom = require(raw, "custom", dict, f"{where}.")
        arguments = arguments_text({"input": custom.get("input", "")})
        return ToolCallPart(
            call_id, require(custom, "name", str, f"{where}.custom."), arguments, extensions={**extra, "_custom": True}
        )
    function = require(raw, "function", dict, f"{where}.")
    name = require(function, "name", str, f"{where}.function.")
    arguments = optional(function, "arguments", str, f"{where}.function.")
    return ToolCallPart(call_id, name, arguments if arguments is not None else "", extensions=extra)


def _parse_tool(raw: Any, where: str) -> Tool:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    kind = raw.get("type", "function")
    if kind == "custom":
        custom = require(raw, "custom", dict, f"{where}.")
        extra = {k: v for k, v in custom.items() if k not in ("name", "description")}
        return Tool(
            require(custom, "name", str, f"{where}.custom."), custom.get("description"), freeform=True, extensions=extra
        )
    if kind != "function":
        raise RequestError(f"'{where}.type': unsupported tool type {kind!r}", param=f"{where}.type")
    function = require(raw, "function", dict, f"{where}.")
    parameters = optional(function, "parameters", dict, f"{where}.function.")
    extra = {k: v for k, v in function.items() if k not in ("name", "description", "parameters", "strict")}
    return Tool(
        require(function, "name", str, f"{where}.function."),
        optional(function, "description", str, f"{where}.function."),
        parameters,
        optional(function, "strict", bool, f"{where}.function."),
        extensions=extra,
    )


def _parse_tool_choice(raw: Any, req: Request) -> ToolChoice:
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    if isinstance(raw, dict) and raw.get("type") == "function" and isinstance(raw.get("function"), dict):
        name = raw["function"].get("name")
        if isinstance(name, str):
            return ToolChoice("tool", name)
    if isinstance(raw, dict) and raw.get("type") == "custom" and isinstance(raw.get("custom"), dict):
        return ToolChoice("tool", raw["custom"].get("name"), {"_custom": True})
    if isinstance(raw, dict) and raw.get("type") == "allowed_tools":
        req.native_only.append("tool_choice")
        return ToolChoice("auto", extensions={"_allowed_tools": raw})
    raise RequestError("field 'tool_choice' must be none, auto, required or a named function", param="tool_choice")


def _parse_response_format(fmt: dict[str, Any]) -> dict[str, Any] | None:
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("json_schema")
        if not isinstance(schema, dict):
            raise RequestError("'response_format.json_schema' must be an object", param="response_format.json_schema")
        out = {"type": "json_schema", "name": schema.get("name", "response"), "schema": schema.get("schema", {})}
        for key in ("strict", "description"):
            if key in schema:
                out[key] = schema[key]
        return out
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "text":
        return {"type": "text"}
    raise RequestError(
        f"'response_format.type' must be text, json_object or json_schema, got {kind!r}", param="response_format.type"
    )


# ------------------------------------------------------------------------------------ building


def build_request(req: Request, *, max_tokens_field: str | None = None) -> dict[str, Any]:
    """A Chat Completions body for an upstream.

    ``max_tokens_field`` names the field the token limit goes in, as the upstream declares it
    (``max_tokens`` for most OpenAI-compatible servers, ``max_completion_tokens`` for OpenAI's own
    API). Without it a Chat request keeps the field its client used, and a request of another
    protocol is sent ``max_completion_tokens``.
    """
    native = req.protocol == NAME
    if req.native_only and not native:
        raise TranslationError(req.native_only[0], NAME)
    body: dict[str, Any] = {"model": req.model, "messages": _build_messages(req, native)}
    if req.tools:
        body["tools"] = [_build_tool(t, native) for t in req.tools]
    # OpenAI rejects tool_choice / parallel_tool_calls without tools (a source's hosted tools may
    # all have been left out): a native body is sent as the client wrote it
    if req.tool_choice is not None and (native or req.tools):
        body["tool_choice"] = _build_tool_choice(req.tool_choice)
    if req.parallel_tool_calls is not None and (native or req.tools):
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        field = max_tokens_field or (
            req.extensions.get("_max_tokens_field", "max_completion_tokens") if native else "max_completion_tokens"
        )
        body[field] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = req.stop[0] if native and req.extensions.get("_stop_string") else list(req.stop)
    effort = _effort(req.reasoning)
    if effort is not None:
        body["reasoning_effort"] = effort
    if req.response_format is not None:
        body["response_format"] = _build_response_format(req.response_format)
    if native:
        if req.user is not None:
            body["user"] = req.user
        if req.metadata is not None:
            body["metadata"] = req.metadata
        for key, value in req.extensions.items():
            if not key.startswith("_"):
                body[key] = value
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    elif native and req.extensions.get("_stream_false"):
        body["stream"] = False
    return body


def _effort(reasoning: Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    if not reasoning.enabled:
        return "none" if reasoning.effort == "none" else None
    if reasoning.effort is not None:
        return reasoning.effort
    if reasoning.budget_tokens is not None:
        return next((effort for bound, effort in BUDGET_EFFORT if reasoning.budget_tokens <= bound), "high")
    return None


def _build_messages(req: Request, native: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if req.system:
        out.append({"role": "system", "content": _join_text(req.system, "system")})
    open_calls: set[str] = set()
    pending_images: list[dict[str, Any]] = []
    for i, msg in enumerate(req.messages):
        where = f"messages[{i}]"
        if msg.role != "tool" and pending_images:
            out.append({"role": "user", "content": pending_images})
            pending_images = []
        if msg.role == "tool":
            for result in msg.content:
                if isinstance(result, ToolResultPart):
                    out.extend(_build_tool_result(result, native, open_calls, pending_images, msg, where))
            continue
        if msg.role == "assistant":
            assistant = _build_assistant(msg, native, where)
            if not native and assistant["content"] is None and "tool_calls" not in assistant:
                continue  # only reasoning, which Chat does not take back: nothing to send
            out.append(assistant)
            open_calls = {p.id for p in msg.content if isinstance(p, ToolCallPart)}
            continue
        open_calls = set()
        role = msg.role if native or msg.role != "developer" else "system"
        if not native and role == "system" and all(isinstance(p, TextPart) for p in msg.content):
            content: Any = "\n\n".join(p.text for p in msg.content)  # servers may take only a string here
        else:
            content = _build_content(msg.content, msg.extensions, native, where)
        wire: dict[str, Any] = {"role": role, "content": content}
        if native:
            wire.update({k: v for k, v in msg.extensions.items() if not k.startswith("_")})
        out.append(wire)
    if pending_images:
        out.append({"role": "user", "content": pending_images})
    return out


def _build_tool_result(
    result: ToolResultPart, native: bool, open_calls: set[str], images: list[dict[str, Any]], msg: Message, where: str
) -> list[dict[str, Any]]:
    text_parts = [p for p in result.content if isinstance(p, TextPart)]
    for part in result.content:
        if isinstance(part, ImagePart):
            images.append(_build_part(part, native, where))
        elif not isinstance(part, TextPart):
            raise TranslationError(f"{where}.content", NAME, f"a tool result holding {part.kind} content")
    if native and result.extensions.get("_content") == "list":
        content: Any = [_build_part(p, native, where) for p in text_parts]
    else:
        content = "\n\n".join(p.text for p in text_parts)
        if result.is_error and not native:
            content = f"Error: {content}" if content else "Error"
    if not native and result.tool_call_id not in open_calls:
        return [{"role": "user", "content": f"[result of tool call {result.tool_call_id}]\n{content}"}]
    wire: dict[str, Any] = {"role": "tool", "tool_call_id": result.tool_call_id, "content": content}
    if native:
        wire.update({k: v for k, v in msg.extensions.items() if not k.startswith("_")})
    return [wire]


def _build_assistant(msg: Message, native: bool, where: str) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": "assistant"}
    texts = [p for p in msg.content if isinstance(p, TextPart) and not p.extensions.get("_field")]
    refusals = [p for p in msg.content if isinstance(p, TextPart) and p.extensions.get("_field")]
    calls = [p for p in msg.content if isinstance(p, ToolCallPart)]
    form = msg.extensions.get("_content") if native else None
    if form == "list":
        wire["content"] = [_build_part(p, native, where) for p in texts]
    elif form == "absent":
        pass
    elif texts or form == "string":
        wire["content"] = "".join(p.text for p in texts)
    else:
        wire["content"] = None
    if native:
        reasoning = [p for p in msg.content if isinstance(p, ReasoningPart) and p.signature is None]
        if reasoning:
            wire["reasoning_content"] = "".join(p.text for p in reasoning)
        if refusals:
            wire["refusal"] = refusals[0].text
        wire.update({k: v for k, v in msg.extensions.items() if not k.startswith("_")})
    if calls or (native and msg.extensions.get("_tool_calls")):
        wire["tool_calls"] = [_build_tool_call(c, native) for c in calls]
    for part in msg.content:
        if not isinstance(part, TextPart | ToolCallPart | ReasoningPart):
            raise TranslationError(f"{where}.content", NAME, f"assistant messages cannot hold {part.kind} content")
    return wire


def _build_tool_call(call: ToolCallPart, native: bool) -> dict[str, Any]:
    extra = {k: v for k, v in call.extensions.items() if not k.startswith("_")} if native else {}
    if native and call.extensions.get("_custom"):
        return {
            "id": call.id,
            "type": "custom",
            "custom": {"name": call.name, "input": arguments_object(call.arguments).get("input", "")},
            **extra,
        }
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}, **extra}


def _build_content(parts: list[Part], form: dict[str, Any], native: bool, where: str) -> Any:
    if native and form.get("_content") == "string" and len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    if not native and all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts) if len(parts) == 1 else [_build_part(p, native, where) for p in parts]
    return [_build_part(p, native, f"{where}.content[{i}]") for i, p in enumerate(parts)]


def _build_part(part: Part, native: bool, where: str) -> dict[str, Any]:
    extra = {k: v for k, v in part.extensions.items() if not k.startswith("_") and k != "refusal"} if native else {}
    if isinstance(part, TextPart):
        if part.extensions.get("refusal"):
            return {"type": "refusal", "refusal": part.text, **extra}
        return {"type": "text", "text": part.text, **extra}
    if isinstance(part, ImagePart):
        url = part.url if part.url is not None else data_url(part.media_type, part.data or "")
        if native and part.extensions.get("_url_string"):
            return {"type": "image_url", "image_url": url, **extra}
        image: dict[str, Any] = {"url": url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image, **extra}
    if isinstance(part, DocumentPart):
        if part.media_type and part.media_type.startswith("audio/") and part.data is not None:
            return {"type": "input_audio", "input_audio": {"data": part.data, "format": part.media_type[6:]}, **extra}
        if part.text is not None and part.data is None and part.file_id is None:
            title = f"{part.title}\n\n" if part.title else ""
            return {"type": "text", "text": title + part.text}
        if part.data is None and part.file_id is None:
            raise TranslationError(
                where, NAME, "a document given by URL (Chat Completions takes files inline or by id)"
            )
        file: dict[str, Any] = {}
        if part.data is not None:
            file["file_data"] = (
                part.data if part.extensions.get("_raw_file_data") else data_url(part.media_type, part.data)
            )
        if part.file_id is not None:
            file["file_id"] = part.file_id
        if part.filename is not None:
            file["filename"] = part.filename
        elif part.data is not None and not native:
            file["filename"] = part.title or "document.pdf"
        return {"type": "file", "file": file, **extra}
    raise TranslationError(where, NAME, f"{part.kind} content in a message")


def _join_text(parts: list[Part], where: str) -> str:
    for part in parts:
        if not isinstance(part, TextPart):
            raise TranslationError(where, NAME, f"{part.kind} content in system instructions")
    return "\n\n".join(p.text for p in parts if isinstance(p, TextPart))


def _build_tool(tool: Tool, native: bool) -> dict[str, Any]:
    if tool.freeform and native:
        return {
            "type": "custom",
            "custom": {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                **tool.extensions,
            },
        }
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.freeform:
        function["parameters"] = FREEFORM_PARAMETERS
    elif tool.parameters is not None:
        function["parameters"] = tool.parameters
    elif not native:
        function["parameters"] = {"type": "object", "properties": {}}
    if tool.strict is not None:
        function["strict"] = tool.strict
    if native:
        function.update({k: v for k, v in tool.extensions.items() if not k.startswith("_")})
    return {"type": "function", "function": function}


def _build_tool_choice(choice: ToolChoice) -> Any:
    if "_allowed_tools" in choice.extensions:  # Chat's own (other codecs keep their "_raw" forms)
        return choice.extensions["_allowed_tools"]
    if choice.mode == "tool":
        if choice.extensions.get("_custom"):
            return {"type": "custom", "custom": {"name": choice.name}}
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _build_response_format(fmt: dict[str, Any]) -> dict[str, Any]:
    if fmt.get("type") == "json_schema":
        schema = {k: v for k, v in fmt.items() if k != "type"}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": fmt.get("type", "text")}
