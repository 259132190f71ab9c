"""The ``input`` item list <-> core messages.

Parsing (``input`` is a string -> one user message; or a list of items):

- ``message`` items (``type`` may be omitted; roles user / assistant / system / developer) ->
  one Message each, in place (same-role neighbours stay separate); content as in :mod:`.content`;
  the item's own fields (``id``, ``status``, ``phase`` ...) stay in the message's extensions.
- a run of consecutive output items -> one assistant Message: ``function_call`` -> ToolCallPart
  (``call_id`` is the core id; the item ``id`` ``fc_...``, ``status`` and ``namespace`` stay in
  extensions), ``custom_tool_call`` -> ToolCallPart with arguments ``{"input": <string>}`` and
  ``extensions["_custom"]``, ``reasoning`` -> ReasoningPart (summary texts joined with a blank
  line, the list kept in extensions; ``encrypted_content`` is the signature, source
  "openai_responses").
- a run of ``function_call_output`` / ``custom_tool_call_output`` items -> one ``tool`` Message of
  ToolResultParts (output string or input parts; client item ids such as ``fco_...`` kept).
- ``additional_tools`` items: their tools join ``Request.tools`` (:mod:`.tools`); the item itself
  is kept for a Responses build. Hosted-tool call items (``web_search_call`` ...) are kept for
  Responses and left out for other protocols, like the hosted tools. ``item_reference`` and any
  other item type are kept for Responses and are native_only (the server resolves
  ``item_reference`` items from its store before parsing, see ``server/responses_state.py``).

Items kept as they are go to ``extensions["_items"]`` as ``[index, item]``; a Responses build
puts them back at their index.

Building for Responses from other protocols: system/developer messages become developer
message items in place; text/images/documents message items (empty text left out: a message
item between a reasoning item and its function call breaks the pair); tool calls ``function_call``
items (``call_id`` = the core id, ``id`` a stable minted ``fc_...``; ``custom_tool_call`` when
the tool is freeform); tool results ``function_call_output`` items (an error result is prefixed
with ``Error: ``, Responses has no error flag); reasoning only when its signature came from
Responses (a reasoning item with ``encrypted_content``), other reasoning is dropped.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    arguments_object,
    arguments_text,
)
from ...core.util import stable_id
from .content import build_content, build_output, parse_content, parse_output
from .tools import bare_names, parse_tool_list
from .wire import NAME, as_dict, as_list, flat_name, public, rest, split_name, string

ITEMS = "_items"
ROLES = ("user", "assistant", "system", "developer")
_CALLS = ("function_call", "custom_tool_call", "reasoning")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")
HOSTED_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "computer_call",
        "computer_call_output",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "tool_search_call",
        "tool_search_output",
    }
)


def parse_input(raw: Any, req: Request) -> None:
    """``input`` -> ``req.messages`` (plus kept items and tools from ``additional_tools``)."""
    if isinstance(raw, str):
        req.messages = [Message("user", [TextPart(raw)])]
        req.extensions["_input_string"] = True
        return
    native = req.native_only
    messages: list[Message] = []
    kept: list[list[Any]] = []
    calls: dict[str, ToolCallPart] = {}
    run: Message | None = None  # the open assistant message of output items
    outputs: Message | None = None  # the open tool message of call outputs
    for i, value in enumerate(as_list(raw, "input")):
        where = f"input[{i}]"
        item = as_dict(value, where)
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"
        elif not isinstance(kind, str):
            raise RequestError(f"missing required field '{where}.type'", param=f"{where}.type")
        if kind in _CALLS:
            outputs = None
            part = parse_reasoning(item, where) if kind == "reasoning" else parse_call(item, where)
            if isinstance(part, ToolCallPart):
                calls[part.id] = part
            if run is None:
                run = Message("assistant")
                messages.append(run)
            run.content.append(part)
            continue
        run = None
        if kind in _OUTPUTS:
            if outputs is None:
                outputs = Message("tool")
                messages.append(outputs)
            outputs.content.append(_parse_output_item(item, where, native, calls))
            continue
        outputs = None
        if kind == "message":
            messages.append(_parse_message(item, where, native))
        elif kind == "additional_tools":
            parse_tool_list(item.get("tools"), str(i), f"{where}.tools", req)
            kept.append([i, rest(item, ("tools",))])
        else:
            if kind not in HOSTED_ITEMS:
                native.append(where)
            kept.append([i, item])
    req.messages = messages
    if kept:
        req.extensions[ITEMS] = kept
    _resolve_bare_names(req)


def _resolve_bare_names(req: Request) -> None:
    """Calls that name a namespaced tool without its namespace (as Codex echoes them when the
    model answered so) get the tool's core name; the wire name is kept in ``_wire_name``."""
    bare = bare_names(req.tools)
    if not bare:
        return
    renamed: dict[str, str] = {}
    for msg in req.messages:
        for part in msg.content:
            if isinstance(part, ToolCallPart) and part.name in bare and "namespace" not in part.extensions:
                renamed[part.id] = bare[part.name]
                part.extensions["_wire_name"] = part.name
                part.name = bare[part.name]
            elif isinstance(part, ToolResultPart) and part.tool_call_id in renamed and "name" not in part.extensions:
                part.name = renamed[part.tool_call_id]


def _parse_message(item: dict[str, Any], where: str, native: list[str]) -> Message:
    role = string(item, "role", where)
    if role not in ROLES:
        raise RequestError(f"field '{where}.role' must be one of {', '.join(ROLES)}", param=f"{where}.role")
    if item.get("content") is None:
        raise RequestError(f"missing required field '{where}.content'", param=f"{where}.content")
    parts, was_string = parse_content(item["content"], role, f"{where}.content", native)
    ext = rest(item, ("type", "role", "content"))
    ext["_message"] = True
    if "type" not in item:
        ext["_no_type"] = True
    if was_string:
        ext["_string"] = True
    return Message(role, parts, ext)  # type: ignore[arg-type]


def parse_call(item: dict[str, Any], where: str) -> ToolCallPart:
    """A ``function_call`` or ``custom_tool_call`` item (input or output) -> ToolCallPart."""
    custom = item.get("type") == "custom_tool_call"
    call_id = string(item, "call_id", where) or ""
    name = string(item, "name", where) or ""
    namespace = string(item, "namespace", where, required=False)
    if custom:
        arguments = arguments_text({"input": string(item, "input", where)})
        ext = rest(item, ("type", "call_id", "name", "input"))
        ext["_custom"] = True
    else:
        arguments = string(item, "arguments", where) or ""
        ext = rest(item, ("type", "call_id", "name", "arguments"))
    return ToolCallPart(call_id, flat_name(namespace, name), arguments, extensions=ext)


def parse_reasoning(item: dict[str, Any], where: str) -> ReasoningPart:
    """A ``reasoning`` item -> ReasoningPart (summary joined with blank lines, or raw content)."""
    summary = item.get("summary")
    if summary is not None and not isinstance(summary, list):
        raise RequestError(f"field '{where}.summary' must be an array", param=f"{where}.summary")
    text = _joined(summary) or _joined(item.get("content"))
    encrypted = item.get("encrypted_content")
    if encrypted is not None and not isinstance(encrypted, str):
        raise RequestError(f"field '{where}.encrypted_content' must be a string", param=f"{where}.encrypted_content")
    ext = rest(item, ("type", "encrypted_content") if encrypted is not None else ("type",))
    return ReasoningPart(text, encrypted, NAME if encrypted else None, extensions=ext)


def _joined(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "\n\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _parse_output_item(
    item: dict[str, Any], where: str, native: list[str], calls: dict[str, ToolCallPart]
) -> ToolResultPart:
    call_id = string(item, "call_id", where) or ""
    if "output" not in item:
        raise RequestError(f"missing required field '{where}.output'", param=f"{where}.output")
    content, was_string = parse_output(item["output"], f"{where}.output", native)
    ext = rest(item, ("type", "call_id", "output"))
    if was_string:
        ext["_string"] = True
    if item.get("type") == "custom_tool_call_output":
        ext["_custom"] = True
    call = calls.get(call_id)
    name = item.get("name") if isinstance(item.get("name"), str) else None
    if name is not None:
        name = flat_name(item.get("namespace") if isinstance(item.get("namespace"), str) else None, name)
    return ToolResultPart(call_id, content, name=name or (call.name if call else None), extensions=ext)


# --- core -> wire ---------------------------------------------------------------------------


def build_input(req: Request, same: bool, tool_lists: dict[str, list[dict[str, Any]]]) -> str | list[dict[str, Any]]:
    """``req.messages`` -> the ``input`` value (additional_tools items get their tool lists)."""
    if same and req.extensions.get("_input_string") and _single_text(req.messages):
        return req.messages[0].content[0].text  # type: ignore[union-attr]
    freeform = {t.name for t in req.tools if t.freeform}
    custom_ids = {
        p.id
        for m in req.messages
        for p in m.content
        if isinstance(p, ToolCallPart) and (p.extensions.get("_custom") if same else p.name in freeform)
    }
    items: list[dict[str, Any]] = []
    for mi, msg in enumerate(req.messages):
        items.extend(_build_message(msg, f"messages[{mi}]", same, freeform, custom_ids))
    if same:
        for index, item in sorted(req.extensions.get(ITEMS) or [], key=lambda e: e[0]):
            if item.get("type") == "additional_tools":
                item = {**item, "tools": tool_lists.get(str(index), [])}
            items.insert(min(index, len(items)), item)
    return items


def _single_text(messages: list[Message]) -> bool:
    return (
        len(messages) == 1
        and messages[0].role == "user"
        and len(messages[0].content) == 1
        and isinstance(messages[0].content[0], TextPart)
    )


def _build_message(
    msg: Message, where: str, same: bool, freeform: set[str], custom_ids: set[str]
) -> list[dict[str, Any]]:
    ext = msg.extensions if same else {}
    if ext.get("_message") and all(isinstance(p, TextPart | ImagePart | DocumentPart) for p in msg.content):
        return [_message_item(msg.role, msg.content, ext, same, f"{where}.content")]
    items: list[dict[str, Any]] = []
    pending: list[Part] = []
    start = 0
    for pi, part in enumerate(msg.content):
        pwhere = f"{where}.content[{pi}]"
        if isinstance(part, TextPart) and not part.text and not same:
            continue  # a Chat client's "content": "" beside its tool calls: no message item
        if isinstance(part, TextPart | ImagePart | DocumentPart):
            if not pending:
                start = pi
            pending.append(part)
            continue
        if pending:
            items.append(_message_item(msg.role, pending, {}, same, f"{where}.content", start))
            pending = []
        if isinstance(part, ToolCallPart):
            items.append(build_call(part, same, part.name in freeform))
        elif isinstance(part, ToolResultPart):
            items.append(_build_output_item(part, same, part.tool_call_id in custom_ids, pwhere))
        elif isinstance(part, ReasoningPart):
            reasoning = build_reasoning(part, same, stable_id("rs_", part.signature or part.text))
            if reasoning is not None:
                items.append(reasoning)
    if pending:
        items.append(_message_item(msg.role, pending, {}, same, f"{where}.content", start))
    return items


def _message_item(
    role: str, parts: list[Part], ext: dict[str, Any], same: bool, where: str, offset: int = 0
) -> dict[str, Any]:
    if role == "tool":
        role = "user"
    elif role == "system" and not same:
        role = "developer"
    item: dict[str, Any] = {} if ext.get("_no_type") else {"type": "message"}
    item["role"] = role
    if ext.get("_string") and len(parts) == 1 and isinstance(parts[0], TextPart) and not parts[0].extensions:
        item["content"] = parts[0].text
    else:
        item["content"] = build_content(parts, role, same, where, offset)
    item.update(public(ext))
    return item


def build_call(part: ToolCallPart, same: bool, freeform: bool) -> dict[str, Any]:
    """A ToolCallPart -> ``function_call`` / ``custom_tool_call`` item (input or output)."""
    ext = part.extensions if same else {}
    custom = bool(ext.get("_custom")) if same else freeform
    name = ext.get("_wire_name") or split_name(part.name, ext.get("namespace"))
    if custom:
        out: dict[str, Any] = {
            "type": "custom_tool_call",
            "call_id": part.id,
            "name": name,
            "input": custom_input(part.arguments),
        }
    else:
        out = {"type": "function_call", "call_id": part.id, "name": name, "arguments": part.arguments}
    if same:
        out.update(public(ext))
    else:
        out["id"] = stable_id("ctc_" if custom else "fc_", part.id)
    return out


def custom_input(arguments: str) -> str:
    """The raw input of a freeform call (its arguments are ``{"input": <string>}``)."""
    try:
        value = arguments_object(arguments).get("input")
    except ValueError:
        return arguments
    return value if isinstance(value, str) else arguments


def build_reasoning(part: ReasoningPart, same: bool, minted_id: str) -> dict[str, Any] | None:
    """A ReasoningPart -> ``reasoning`` item; None when it cannot go to Responses (a foreign or
    missing signature in a request from another protocol)."""
    own = part.signature_source == NAME and bool(part.signature)
    if not same and not own:
        return None
    ext = public(part.extensions)
    out: dict[str, Any] = {"type": "reasoning", "id": ext.pop("id", None) or minted_id}
    summary = ext.pop("summary", None)
    if not isinstance(summary, list) or _joined(summary) != part.text:
        summary = [{"type": "summary_text", "text": part.text}] if part.text else []
    out["summary"] = summary
    out.update(ext)
    if own:
        out["encrypted_content"] = part.signature
    if same and "id" not in part.extensions:
        del out["id"]
    return out


def _build_output_item(part: ToolResultPart, same: bool, custom: bool, where: str) -> dict[str, Any]:
    ext = part.extensions if same else {}
    if same:
        custom = bool(ext.get("_custom"))
    prefix = "Error: " if part.is_error and not same else ""
    output = build_output(part.content, same, bool(ext.get("_string")), f"{where}.content", prefix)
    out: dict[str, Any] = {
        "type": "custom_tool_call_output" if custom else "function_call_output",
        "call_id": part.tool_call_id,
        "output": output,
    }
    out.update(public(ext))
    return out


def instructions_text(parts: list[Part]) -> str:
    """``Request.system`` -> ``instructions`` text (text parts only, joined with blank lines)."""
    texts = []
    for i, part in enumerate(parts):
        if not isinstance(part, TextPart):
            raise TranslationError(f"system[{i}]", NAME, "instructions carry text only")
        texts.append(part.text)
    return "\n\n".join(texts)
