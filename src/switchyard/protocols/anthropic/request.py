"""Messages request body <-> core Request.

Parsing:

- Top-level ``system`` (a string or text blocks, ``cache_control`` kept) -> ``Request.system``.
  A ``role: "system"`` message inside ``messages`` (Claude Code sends one mid-conversation) is a
  core ``system`` message kept in place.
- A user message holding ``tool_result`` blocks becomes a ``tool`` message with the results,
  then a ``user`` message with its other blocks; ``_split`` / ``_order`` hints let a same-protocol
  build put the wire message back together exactly.
- ``thinking`` / ``redacted_thinking`` blocks -> ReasoningPart with source ``anthropic``.
- Blocks the core does not model (server-tool blocks, search results, ...) travel as an empty
  TextPart carrying the whole block in ``_block``; a same-protocol build restores it, other
  builders see an empty text. Server tools (typed tools such as ``web_search_20250305``) only an
  Anthropic upstream can run: they are native-only.

Building from another protocol:

- ``Request.system`` and every system/developer message -> top-level ``system`` (in order).
- Tool results -> ``tool_result`` blocks at the start of the user message right after the
  assistant turn; a result whose call is not in that turn (an orphan, which the API rejects)
  becomes a text block. Consecutive messages of one role are merged.
- ``max_tokens`` is required by the API: :data:`DEFAULT_MAX_TOKENS` when the client set none,
  raised above the thinking budget when needed.
- Reasoning effort -> a thinking budget by :data:`EFFORT_BUDGET`. With thinking on, the API
  takes no ``temperature`` other than 1, no ``top_k``, ``top_p`` only from 0.95, and no forced tool
  choice: such sampling settings are left out, and a forced tool choice turns thinking off.
  Thinking is also left out when the conversation continues a tool loop whose assistant turn
  does not start with an Anthropic-signed thinking block (the API answers 400 otherwise).
- Only reasoning signed by Anthropic is sent back; other reasoning is dropped.
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
from ...core.util import optional, require

NAME = "anthropic"
DEFAULT_MAX_TOKENS = 4096
MIN_BUDGET = 1024
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000, "max": 32000}
ADAPTIVE_BUDGET = 8192  # an "adaptive" / dynamic request from another protocol
MODELED = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "thinking",
        "stream",
        "metadata",
        "output_config",
    }
)
FREEFORM_SCHEMA = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


# ------------------------------------------------------------------------------------- parsing


def parse_request(body: dict[str, Any], *, count_tokens: bool = False) -> Request:
    """Validate and parse a Messages body (``count_tokens``: a count_tokens body, no max_tokens)."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    req = Request(model=require(body, "model", str), protocol=NAME)
    if count_tokens:
        req.max_tokens = optional(body, "max_tokens", int)
        if req.max_tokens is None:
            req.extensions["_no_max_tokens"] = True
    else:
        req.max_tokens = require(body, "max_tokens", int)
    system = optional(body, "system", (str, list))
    if isinstance(system, str):
        req.system = [TextPart(system)]
        req.extensions["_system_string"] = True
    elif system is not None:
        req.system = [_parse_block(b, f"system[{i}]") for i, b in enumerate(system)]
    for i, raw in enumerate(require(body, "messages", list)):
        req.messages.extend(_parse_message(raw, f"messages[{i}]"))
    for i, raw in enumerate(optional(body, "tools", list) or []):
        _parse_tool(raw, f"tools[{i}]", i, req)
    choice = optional(body, "tool_choice", dict)
    if choice is not None:
        req.tool_choice = _parse_tool_choice(choice, req)
    req.temperature = optional(body, "temperature", (int, float))
    req.top_p = optional(body, "top_p", (int, float))
    req.top_k = optional(body, "top_k", int)
    stops = optional(body, "stop_sequences", list)
    if stops is not None:
        req.stop = [s for s in stops if isinstance(s, str)]
    thinking = optional(body, "thinking", dict)
    if thinking is not None:
        req.reasoning = _parse_thinking(thinking)
    output_config = optional(body, "output_config", dict)
    if output_config is not None:
        _parse_output_config(output_config, req)
    req.stream = bool(optional(body, "stream", bool))
    if body.get("stream") is False:
        req.extensions["_stream_false"] = True
    metadata = optional(body, "metadata", dict)
    if metadata is not None:
        req.metadata = metadata
        if isinstance(metadata.get("user_id"), str):
            req.user = metadata["user_id"]
    for key, value in body.items():
        if key not in MODELED:
            req.extensions[key] = value
    return req


def _content_blocks(content: Any, where: str) -> tuple[list[Any], bool]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}], True
    if not isinstance(content, list):
        raise RequestError(f"field '{where}' must be a string or an array of content blocks", param=where)
    return content, False


def _parse_message(raw: Any, where: str) -> list[Message]:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    role = require(raw, "role", str, f"{where}.")
    if role not in ("user", "assistant", "system"):
        raise RequestError(f"'{where}.role' must be user or assistant, got {role!r}", param=f"{where}.role")
    if "content" not in raw:
        raise RequestError(f"missing required field '{where}.content'", param=f"{where}.content")
    blocks, as_string = _content_blocks(raw["content"], f"{where}.content")
    extra = {k: v for k, v in raw.items() if k not in ("role", "content")}
    form = {"_string": True} if as_string else {}
    if role != "user" or not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks):
        parts = [_parse_block(b, f"{where}.content[{i}]") for i, b in enumerate(blocks)]
        return [Message(role, parts, {**extra, **form})]
    results: list[Part] = []
    rest: list[Part] = []
    order = ""
    for i, block in enumerate(blocks):
        part = _parse_block(block, f"{where}.content[{i}]")
        if isinstance(part, ToolResultPart):
            results.append(part)
            order += "r"
        else:
            rest.append(part)
            order += "o"
    hints: dict[str, Any] = {"_split": True}
    if order != "r" * len(results) + "o" * len(rest):
        hints["_order"] = order
    out = [Message("tool", results, {**extra, **hints})]
    if rest:
        out.append(Message("user", rest, {"_split_rest": True}))
    return out


def _parse_block(raw: Any, where: str) -> Part:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    kind = require(raw, "type", str, f"{where}.")
    if kind == "text":
        return TextPart(require(raw, "text", str, f"{where}."), _rest(raw, "type", "text"))
    if kind == "thinking":
        part = ReasoningPart(
            raw.get("thinking") or "",
            raw.get("signature"),
            NAME,
            extensions=_rest(raw, "type", "thinking", "signature"),
        )
        if part.signature is None:
            part.signature_source = None
        return part
    if kind == "redacted_thinking":
        return ReasoningPart("", None, NAME, require(raw, "data", str, f"{where}."), _rest(raw, "type", "data"))
    if kind == "tool_use":
        return ToolCallPart(
            require(raw, "id", str, f"{where}."),
            require(raw, "name", str, f"{where}."),
            arguments_text(raw.get("input") if raw.get("input") is not None else {}),
            extensions=_rest(raw, "type", "id", "name", "input"),
        )
    if kind == "tool_result":
        content = raw.get("content")
        if content is None:
            parts: list[Part] = []
            form = "absent"
        elif isinstance(content, str):
            parts, form = [TextPart(content)], "string"
        elif isinstance(content, list):
            parts = [_parse_block(b, f"{where}.content[{i}]") for i, b in enumerate(content)]
            form = "list"
        else:
            raise RequestError(f"field '{where}.content' must be a string or an array", param=f"{where}.content")
        ext = _rest(raw, "type", "tool_use_id", "content", "is_error")
        ext["_content"] = form
        if "is_error" in raw:
            ext["_is_error_present"] = True
        return ToolResultPart(
            require(raw, "tool_use_id", str, f"{where}."), parts, bool(raw.get("is_error")), extensions=ext
        )
    if kind in ("image", "document"):
        return _parse_media(raw, kind, where)
    return TextPart("", {"_block": raw})


def _parse_media(raw: dict[str, Any], kind: str, where: str) -> Part:
    source = require(raw, "source", dict, f"{where}.")
    stype = source.get("type")
    ext = _rest(raw, "type", "source", "title")
    ext["_source"] = {k: v for k, v in source.items() if k not in ("type", "data", "media_type", "url", "file_id")}
    if kind == "image":
        if stype == "base64":
            return ImagePart(data=source.get("data"), media_type=source.get("media_type"), extensions=ext)
        if stype == "url":
            return ImagePart(url=source.get("url"), extensions=ext)
        if stype == "file":
            return DocumentPart(file_id=source.get("file_id"), media_type="image/*", extensions={**ext, "_image": True})
        raise RequestError(f"'{where}.source.type' {stype!r} is not supported for images", param=f"{where}.source.type")
    doc = DocumentPart(title=raw.get("title"), extensions=ext)
    if stype == "base64":
        doc.data, doc.media_type = source.get("data"), source.get("media_type")
    elif stype == "url":
        doc.url, doc.media_type = source.get("url"), "application/pdf"
    elif stype == "file":
        doc.file_id = source.get("file_id")
    elif stype == "text":
        doc.text, doc.media_type = source.get("data", ""), source.get("media_type", "text/plain")
    else:
        return TextPart("", {"_block": raw})
    doc.extensions["_stype"] = stype
    return doc


def _rest(raw: dict[str, Any], *known: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in known}


def _parse_tool(raw: Any, where: str, position: int, req: Request) -> None:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    kind = raw.get("type")
    if kind not in (None, "custom"):
        req.extensions.setdefault("_server_tools", []).append([position, raw])
        req.native_only.append(where)
        return
    schema = optional(raw, "input_schema", dict, f"{where}.")
    req.tools.append(
        Tool(
            require(raw, "name", str, f"{where}."),
            optional(raw, "description", str, f"{where}."),
            schema,
            extensions=_rest(raw, "name", "description", "input_schema"),
        )
    )


def _parse_tool_choice(raw: dict[str, Any], req: Request) -> ToolChoice:
    kind = raw.get("type")
    modes = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
    if kind not in modes:
        raise RequestError("'tool_choice.type' must be auto, any, tool or none", param="tool_choice.type")
    if "disable_parallel_tool_use" in raw:
        req.parallel_tool_calls = not raw["disable_parallel_tool_use"]
    name = raw.get("name") if kind == "tool" else None
    if kind == "tool" and not isinstance(name, str):
        raise RequestError("missing required field 'tool_choice.name'", param="tool_choice.name")
    return ToolChoice(modes[kind], name, _rest(raw, "type", "name", "disable_parallel_tool_use"))  # type: ignore[arg-type]


def _parse_thinking(raw: dict[str, Any]) -> Reasoning:
    kind = raw.get("type")
    ext = _rest(raw, "type", "budget_tokens")
    if kind == "enabled":
        budget = raw.get("budget_tokens")
        if not isinstance(budget, int):
            raise RequestError("missing required field 'thinking.budget_tokens'", param="thinking.budget_tokens")
        return Reasoning(budget_tokens=budget, extensions=ext)
    if kind == "disabled":
        return Reasoning(enabled=False, extensions=ext)
    if kind == "adaptive":
        return Reasoning(adaptive=True, extensions=ext)
    raise RequestError("'thinking.type' must be enabled, disabled or adaptive", param="thinking.type")


def _parse_output_config(raw: dict[str, Any], req: Request) -> None:
    effort = raw.get("effort")
    if isinstance(effort, str):
        if req.reasoning is None:
            req.reasoning = Reasoning(extensions={"_no_thinking": True})
        req.reasoning.effort = effort
    fmt = raw.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        req.response_format = {
            "type": "json_schema",
            "name": fmt.get("name", "response"),
            "schema": fmt.get("schema", {}),
        }
    req.extensions["_output_config"] = raw


# ------------------------------------------------------------------------------------ building


def build_request(req: Request) -> dict[str, Any]:
    """A Messages body for an upstream."""
    native = req.protocol == NAME
    if req.native_only and not native:
        raise TranslationError(req.native_only[0], NAME)
    body: dict[str, Any] = {"model": req.model}
    system_parts = list(req.system)
    messages = _build_messages(req, native, system_parts)
    if system_parts:
        if native and req.extensions.get("_system_string") and len(system_parts) == 1:
            body["system"] = system_parts[0].text  # type: ignore[union-attr]
        elif not native and all(isinstance(p, TextPart) and not p.extensions for p in system_parts):
            body["system"] = "\n\n".join(p.text for p in system_parts)  # type: ignore[union-attr]
        else:
            body["system"] = [_build_block(p, native, "system") for p in system_parts]
    body["messages"] = messages
    tools = [_build_tool(t, native) for t in req.tools]
    for position, raw in req.extensions.get("_server_tools", []) if native else ():
        tools.insert(position, raw)
    if tools:
        body["tools"] = tools
    thinking = _build_thinking(req, native, messages)
    choice = _build_tool_choice(req, native)
    if choice is not None:
        body["tool_choice"] = choice
    max_tokens = req.max_tokens if req.max_tokens is not None else DEFAULT_MAX_TOKENS
    if thinking is not None and thinking.get("type") == "enabled" and not native:
        max_tokens = max(max_tokens, thinking["budget_tokens"] + 1)
    if not (native and req.extensions.get("_no_max_tokens")):
        body["max_tokens"] = max_tokens
    if thinking is not None:
        body["thinking"] = thinking
    thinking_on = thinking is not None and thinking.get("type") != "disabled"
    if req.temperature is not None and (native or not thinking_on or req.temperature == 1):
        body["temperature"] = req.temperature
    if req.top_p is not None and (native or not thinking_on or req.top_p >= 0.95):
        body["top_p"] = req.top_p
    if req.top_k is not None and (native or not thinking_on):
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    output_config = _build_output_config(req, native)
    if output_config:
        body["output_config"] = output_config
    if native:
        if req.metadata is not None:
            body["metadata"] = req.metadata
        body.update({k: v for k, v in req.extensions.items() if not k.startswith("_")})
    elif req.user:
        body["metadata"] = {"user_id": req.user[:256]}
    if req.stream:
        body["stream"] = True
    elif native and req.extensions.get("_stream_false"):
        body["stream"] = False
    return body


def _build_messages(req: Request, native: bool, system: list[Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    open_calls: set[str] = set()
    seen_turn = False
    for i, msg in enumerate(req.messages):
        where = f"messages[{i}]"
        if msg.role in ("system", "developer"):
            if native and seen_turn:
                out.append(_wire("system", [_build_block(p, native, where) for p in msg.content], msg, native))
            else:
                system.extend(msg.content)
            continue
        seen_turn = True
        if msg.role == "assistant":
            blocks = _assistant_blocks(msg, native, where)
            open_calls = {p.id for p in msg.content if isinstance(p, ToolCallPart)}
            if not blocks:
                continue
            _append(out, "assistant", blocks, msg, native)
            continue
        if msg.role == "tool":
            blocks = [_build_result(p, native, open_calls, where) for p in msg.content if isinstance(p, ToolResultPart)]
            if native and msg.extensions.get("_split"):
                out.append(_wire("user", blocks, msg, native))
                continue
            _append(out, "user", blocks, msg, native, results=True)
            continue
        blocks = [_build_block(p, native, f"{where}.content[{j}]") for j, p in enumerate(msg.content)]
        if not native:
            blocks = [b for b in blocks if not (b.get("type") == "text" and not b.get("text"))]
        if native and msg.extensions.get("_split_rest") and out:
            _merge_split(out[-1], blocks, req.messages[i - 1].extensions.get("_order"))
            continue
        open_calls = set()
        if blocks or native:
            _append(out, "user", blocks, msg, native)
    return out


def _wire(role: str, blocks: list[dict[str, Any]], msg: Message, native: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": role, "content": blocks}
    if native:
        if (
            msg.extensions.get("_string")
            and len(blocks) == 1
            and blocks[0].get("type") == "text"
            and len(blocks[0]) == 2
        ):
            wire["content"] = blocks[0]["text"]
        wire.update({k: v for k, v in msg.extensions.items() if not k.startswith("_")})
    return wire


def _append(
    out: list[dict[str, Any]],
    role: str,
    blocks: list[dict[str, Any]],
    msg: Message,
    native: bool,
    results: bool = False,
) -> None:
    """Add a turn, merging into the previous one of the same role (results go first)."""
    if not native and out and out[-1]["role"] == role:
        previous = out[-1]["content"]
        if isinstance(previous, str):
            previous = out[-1]["content"] = [{"type": "text", "text": previous}]
        if results:
            lead = [b for b in previous if b.get("type") == "tool_result"]
            out[-1]["content"] = lead + blocks + [b for b in previous if b.get("type") != "tool_result"]
        else:
            previous.extend(blocks)
        return
    out.append(_wire(role, blocks, msg, native))


def _merge_split(wire: dict[str, Any], rest: list[dict[str, Any]], order: str | None) -> None:
    results = list(wire["content"])
    if not order:
        wire["content"] = results + rest
        return
    merged, r, o = [], iter(results), iter(rest)
    for step in order:
        merged.append(next(r) if step == "r" else next(o))
    wire["content"] = merged


def _assistant_blocks(msg: Message, native: bool, where: str) -> list[dict[str, Any]]:
    blocks = []
    for j, part in enumerate(msg.content):
        if isinstance(part, ReasoningPart):
            if part.signature_source != NAME or (part.signature is None and part.redacted is None and not native):
                continue
        elif isinstance(part, TextPart) and not native and not part.text:
            continue
        blocks.append(_build_block(part, native, f"{where}.content[{j}]"))
    return blocks


def _build_result(part: ToolResultPart, native: bool, open_calls: set[str], where: str) -> dict[str, Any]:
    content = [_build_block(p, native, f"{where}.content") for p in part.content]
    if not native and part.tool_call_id not in open_calls:
        text = "\n\n".join(b.get("text", "") for b in content if b.get("type") == "text")
        return {
            "type": "text",
            "text": f"[result of tool call {part.tool_call_id}{' (error)' if part.is_error else ''}]\n{text}",
        }
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.tool_call_id}
    form = part.extensions.get("_content") if native else None
    if form == "string" or (form is None and all(b.get("type") == "text" and len(b) == 2 for b in content)):
        if content or form == "string":
            block["content"] = "".join(b["text"] for b in content)
        else:
            block["content"] = ""
    elif form != "absent":
        block["content"] = content
    if part.is_error or (native and part.extensions.get("_is_error_present")):
        block["is_error"] = part.is_error
    if native:
        block.update({k: v for k, v in part.extensions.items() if not k.startswith("_")})
    return block


def _build_block(part: Part, native: bool, where: str) -> dict[str, Any]:
    extra = {k: v for k, v in part.extensions.items() if not k.startswith("_")} if native else {}
    if isinstance(part, TextPart):
        if "_block" in part.extensions:
            if native:
                return part.extensions["_block"]
            raise TranslationError(where, NAME, "a content block of another protocol's kind")
        return {"type": "text", "text": part.text, **extra}
    if isinstance(part, ReasoningPart):
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": part.redacted, **extra}
        block = {"type": "thinking", "thinking": part.text}
        if part.signature is not None or not native:
            block["signature"] = part.signature or ""
        return {**block, **extra}
    if isinstance(part, ToolCallPart):
        try:
            arguments = arguments_object(part.arguments)
        except ValueError:
            raise TranslationError(f"{where}.arguments", NAME, "tool-call arguments are not a JSON object") from None
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": arguments, **extra}
    if isinstance(part, ImagePart):
        if part.url is not None:
            source: dict[str, Any] = {"type": "url", "url": part.url}
        else:
            source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data or ""}
        if native:
            source.update(part.extensions.get("_source") or {})
        return {"type": "image", "source": source, **extra}
    if isinstance(part, DocumentPart):
        return _build_document(part, native, where, extra)
    if isinstance(part, ToolResultPart):
        raise TranslationError(where, NAME, "a tool result outside a tool turn")
    raise TranslationError(where, NAME, f"{part.kind} content")


def _build_document(part: DocumentPart, native: bool, where: str, extra: dict[str, Any]) -> dict[str, Any]:
    if part.extensions.get("_image") and native:
        return {
            "type": "image",
            "source": {"type": "file", "file_id": part.file_id, **(part.extensions.get("_source") or {})},
            **extra,
        }
    if part.media_type and part.media_type.startswith("audio/"):
        raise TranslationError(where, NAME, "audio input")
    if part.data is not None:
        media = part.media_type or "application/pdf"
        if media.startswith("text/") and not native:
            raise TranslationError(where, NAME, f"an inline {media} file")
        source: dict[str, Any] = {"type": "base64", "media_type": media, "data": part.data}
    elif part.text is not None:
        source = {"type": "text", "media_type": part.media_type or "text/plain", "data": part.text}
    elif part.url is not None:
        source = {"type": "url", "url": part.url}
    elif part.file_id is not None:
        source = {"type": "file", "file_id": part.file_id}
    else:
        raise TranslationError(where, NAME, "an empty document")
    if native:
        source.update(part.extensions.get("_source") or {})
    block: dict[str, Any] = {"type": "document", "source": source}
    title = part.title or (part.filename if not native else None)
    if title is not None:
        block["title"] = title
    return {**block, **extra}


def _build_tool(tool: Tool, native: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        wire["description"] = tool.description
    if tool.freeform:
        wire["input_schema"] = FREEFORM_SCHEMA
    elif tool.parameters is not None:
        wire["input_schema"] = tool.parameters
    elif not native:
        wire["input_schema"] = {"type": "object", "properties": {}}
    if native:
        wire.update({k: v for k, v in tool.extensions.items() if not k.startswith("_")})
    return wire


def _build_tool_choice(req: Request, native: bool) -> dict[str, Any] | None:
    choice = req.tool_choice
    if choice is None and (req.parallel_tool_calls is not False or not req.tools or native):
        return None
    modes = {"auto": "auto", "required": "any", "tool": "tool", "none": "none"}
    wire: dict[str, Any] = {"type": modes[choice.mode] if choice else "auto"}
    if choice is not None and choice.mode == "tool":
        wire["name"] = choice.name
    if req.parallel_tool_calls is not None and (native or (req.tools and wire["type"] != "none" and not req.parallel_tool_calls)):
        wire["disable_parallel_tool_use"] = not req.parallel_tool_calls
    if native and choice is not None:
        wire.update({k: v for k, v in choice.extensions.items() if not k.startswith("_")})
    return wire


def _build_thinking(req: Request, native: bool, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    reasoning = req.reasoning
    if reasoning is None:
        return None
    if native:
        if reasoning.extensions.get("_no_thinking"):
            return None
        ext = {k: v for k, v in reasoning.extensions.items() if not k.startswith("_")}
        if not reasoning.enabled:
            return {"type": "disabled", **ext}
        if reasoning.adaptive:
            return {"type": "adaptive", **ext}
        return {"type": "enabled", "budget_tokens": reasoning.budget_tokens, **ext}
    if not reasoning.enabled or reasoning.effort == "none":
        return None
    if req.tool_choice is not None and req.tool_choice.mode in ("required", "tool"):
        return None  # the API refuses forced tool use with thinking; the tool choice wins
    if _unsigned_tool_loop(messages):
        return None
    if reasoning.budget_tokens is not None:
        budget = reasoning.budget_tokens
    elif reasoning.effort is not None:
        budget = EFFORT_BUDGET.get(reasoning.effort, ADAPTIVE_BUDGET)
    else:
        budget = ADAPTIVE_BUDGET
    if budget <= 0:
        return None
    return {"type": "enabled", "budget_tokens": max(budget, MIN_BUDGET)}


def _unsigned_tool_loop(messages: list[dict[str, Any]]) -> bool:
    """The request continues a tool loop whose last assistant turn has no signed thinking first."""
    if not messages or messages[-1]["role"] != "user":
        return False
    content = messages[-1]["content"]
    if not isinstance(content, list) or not any(b.get("type") == "tool_result" for b in content):
        return False
    for msg in reversed(messages[:-1]):
        if msg["role"] == "assistant":
            blocks = msg["content"] if isinstance(msg["content"], list) else []
            return not blocks or blocks[0].get("type") not in ("thinking", "redacted_thinking")
    return False


def _build_output_config(req: Request, native: bool) -> dict[str, Any] | None:
    if native:
        return req.extensions.get("_output_config")
    out: dict[str, Any] = {}
    if req.response_format is not None and req.response_format.get("type") == "json_schema":
        out["format"] = {"type": "json_schema", "schema": req.response_format.get("schema", {})}
    return out or None
