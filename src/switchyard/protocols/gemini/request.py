"""Gemini ``generateContent`` request body <-> core Request.

The model is not in a Gemini body (it is in the URL path), so ``parse_request(body, model)``
takes it from the caller and ``build_request`` returns the body only; streaming is chosen by the
endpoint (``:streamGenerateContent``), so the server sets ``req.stream``.

Contents: role ``user`` -> user, ``model`` -> assistant. A content is split into several core
messages where needed: its ``functionResponse`` parts form a ``tool`` message (the core's home for
tool results), the rest a user message; the later pieces carry the hint ``_continues`` so a
same-protocol build glues them back into one content (consecutive contents of the same role stay
separate then, as the Gemini CLI sends them). Function calls and responses without ``id``
(Gemini 2.5, and clients such as LangChain's that drop the ids they were given) get stable minted
ids, marked ``ID_MINTED``; a response without id takes the id of the first unanswered call of the
same name (positional matching for repeated names).

Builds for Gemini from other protocols: system/developer messages are hoisted into
``systemInstruction`` after ``Request.system``, in order; consecutive messages of the same Gemini
role are merged; tool results become ``functionResponse`` parts in one user content, in call order,
named from ``ToolResultPart.name`` or the matching earlier ToolCallPart; reasoning parts are sent
only as Gemini thought signatures (foreign signatures and visible reasoning text are dropped).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import ID_MINTED, Message, Part, Request, TextPart, ToolCallPart, ToolResultPart
from .generation import build_generation_config, parse_generation_config
from .parts import build_function_response, build_part, parse_part
from .tools import build_tool_config, build_tools, parse_tool_config, parse_tools
from .wire import NAME, as_object, mint_call_id, normalized, public

_HANDLED = frozenset({"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "model"})
_NATIVE_TOP = ("cachedContent",)


def parse_request(body: dict[str, Any], model: str = "") -> Request:
    """A Gemini request body -> Request (``model`` comes from the URL path)."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    b = normalized(body)
    contents = b.get("contents")
    if contents is None:
        raise RequestError("missing required field 'contents'", param="contents")
    if not isinstance(contents, list):
        raise RequestError("field 'contents' must be an array", param="contents")
    req = Request(model=model, protocol=NAME, include_usage=True)
    req.extensions.update({k: v for k, v in b.items() if k not in _HANDLED})
    if isinstance(b.get("model"), str):
        req.extensions["_model"] = b["model"]
    for key in _NATIVE_TOP:
        if b.get(key) is not None:
            req.native_only.append(key)
    req.messages = _parse_contents(contents, req.native_only)
    if b.get("systemInstruction") is not None:
        req.system = _parse_system(b["systemInstruction"], req)
    if b.get("tools") is not None:
        parse_tools(b["tools"], req)
    if b.get("toolConfig") is not None:
        parse_tool_config(b["toolConfig"], req)
    if b.get("generationConfig") is not None:
        parse_generation_config(b["generationConfig"], req)
    return req


def _parse_system(raw: Any, req: Request) -> list[Part]:
    si = as_object(raw, "systemInstruction")
    parts = si.get("parts")
    if not isinstance(parts, list):
        raise RequestError("field 'systemInstruction.parts' must be an array", param="systemInstruction.parts")
    extra = {k: v for k, v in si.items() if k != "parts"}
    if extra:
        req.extensions["_systemInstruction_extra"] = extra
    return [
        parse_part(p, f"systemInstruction.parts[{i}]", model_side=False, native_only=req.native_only)
        for i, p in enumerate(parts)
    ]


def _parse_contents(contents: list[Any], native_only: list[str]) -> list[Message]:
    messages: list[Message] = []
    calls: list[list[Any]] = []  # [id, name, answered] in call order
    for ci, raw in enumerate(contents):
        where = f"contents[{ci}]"
        c = as_object(raw, where)
        role = c.get("role")
        if role is None:
            role_hint = True
            role = "user"
        else:
            role_hint = False
            if role not in ("user", "model"):
                raise RequestError(f'field \'{where}.role\' must be "user" or "model"', param=f"{where}.role")
        parts = c.get("parts")
        if parts is None:
            parts = []
        elif not isinstance(parts, list):
            raise RequestError(f"field '{where}.parts' must be an array", param=f"{where}.parts")
        base_ext = {k: v for k, v in c.items() if k not in ("role", "parts")}
        if role_hint:
            base_ext["_no_role"] = True
        if "parts" not in c:
            base_ext["_no_parts"] = True
        first: Message | None = None
        current: Message | None = None
        for pi, raw_part in enumerate(parts):
            pwhere = f"{where}.parts[{pi}]"
            part = parse_part(raw_part, pwhere, model_side=role == "model", native_only=native_only)
            if isinstance(part, ToolCallPart):
                if role != "model":
                    raise RequestError("functionCall parts belong in model contents", param=f"{pwhere}.functionCall")
                if not part.id:
                    part.id = mint_call_id("request", ci, pi, part.name)
                    part.extensions[ID_MINTED] = True
                calls.append([part.id, part.name, False])
                msg_role = "assistant"
            elif isinstance(part, ToolResultPart):
                if role != "user":
                    raise RequestError(
                        "functionResponse parts belong in user contents", param=f"{pwhere}.functionResponse"
                    )
                part.tool_call_id = _answer(calls, part, ci, pi)
                msg_role = "tool"
            else:
                msg_role = "assistant" if role == "model" else "user"
            if current is None or current.role != msg_role:
                current = Message(msg_role, [], dict(base_ext) if first is None else {"_continues": True})  # type: ignore[arg-type]
                first = first or current
                messages.append(current)
            current.content.append(part)
        if first is None:
            messages.append(Message("assistant" if role == "model" else "user", [], base_ext))
    return messages


def _answer(calls: list[list[Any]], part: ToolResultPart, ci: int, pi: int) -> str:
    """The call id a functionResponse answers (its own id, else the first open call of that name)."""
    if part.tool_call_id:
        for call in calls:
            if call[0] == part.tool_call_id:
                call[2] = True
                break
        return part.tool_call_id
    for call in calls:
        if not call[2] and call[1] == part.name:
            call[2] = True
            return call[0]
    return mint_call_id("result", ci, pi, part.name)


# --- core -> wire ---------------------------------------------------------------------------


def build_request(req: Request) -> dict[str, Any]:
    """A Request -> Gemini request body (the model goes in the URL: ``req.model``)."""
    same = req.protocol == NAME
    if req.native_only and not same:
        raise TranslationError(req.native_only[0], NAME)
    system = _system_parts(req.system, same, "system")
    contents = _build_contents(req, same, system)
    body: dict[str, Any] = {"contents": contents}
    if system or (same and "_systemInstruction_extra" in req.extensions):
        extra = req.extensions.get("_systemInstruction_extra") if same else None
        body["systemInstruction"] = {**(extra or {}), "parts": system}
    tools = build_tools(req, same)
    if tools is not None:
        body["tools"] = tools
    tool_config = build_tool_config(req, same)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    gc = build_generation_config(req, same)
    if gc is not None:
        body["generationConfig"] = gc
    if same:
        for key, value in public(req.extensions).items():
            body.setdefault(key, value)
        if "_model" in req.extensions:
            body["model"] = req.extensions["_model"]
    return body


def _system_parts(parts: list[Part], same: bool, where: str) -> list[dict[str, Any]]:
    out = []
    for i, part in enumerate(parts):
        if not same and not isinstance(part, TextPart):
            raise TranslationError(f"{where}[{i}]", NAME, "system instructions carry text only")
        built = build_part(part, same, f"{where}[{i}]")
        if built is not None:
            out.append(built)
    return out


def _build_contents(req: Request, same: bool, system: list[dict[str, Any]]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    orders: list[list[int | None]] = []  # per content: the call position each part answers
    call_names: dict[str, str] = {}
    call_order: dict[str, int] = {}
    for mi, msg in enumerate(req.messages):
        where = f"messages[{mi}]"
        if msg.role in ("system", "developer"):
            system.extend(_system_parts(msg.content, same, f"{where}.content"))
            continue
        role = "model" if msg.role == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        order: list[int | None] = []
        for pi, part in enumerate(msg.content):
            pwhere = f"{where}.content[{pi}]"
            if isinstance(part, ToolResultPart):
                name = part.name or call_names.get(part.tool_call_id)
                if not name:
                    raise TranslationError(
                        f"{pwhere}.name", NAME, f"no function name is known for tool result '{part.tool_call_id}'"
                    )
                parts.append(build_function_response(part, name, same, pwhere))
                order.append(call_order.get(part.tool_call_id, len(call_order)))
                continue
            if isinstance(part, ToolCallPart):
                call_names[part.id] = part.name
                call_order.setdefault(part.id, len(call_order))
            built = build_part(part, same, pwhere, include_thoughts=same)
            if built is not None:
                parts.append(built)
                order.append(None)
        ext = msg.extensions if same else {}
        if same and ext.get("_continues") and contents:
            contents[-1]["parts"].extend(parts)
            continue
        if not same:
            if not parts:
                continue
            if contents and contents[-1]["role"] == role:
                contents[-1]["parts"].extend(parts)
                orders[-1].extend(order)
                continue
        content: dict[str, Any] = {} if ext.get("_no_role") else {"role": role}
        if parts or not ext.get("_no_parts"):
            content["parts"] = parts
        content.update(public(ext))
        contents.append(content)
        orders.append(order)
    if not same:
        for content, order in zip(contents, orders, strict=True):
            _order_responses(content["parts"], order)
    return contents


def _order_responses(parts: list[dict[str, Any]], order: list[int | None]) -> None:
    """Put the functionResponse parts of one content in call order, in their own slots."""
    slots = [i for i, key in enumerate(order) if key is not None]
    if len(slots) < 2:
        return
    ranked = sorted(slots, key=lambda i: order[i])  # type: ignore[arg-type, return-value]
    moved = [parts[i] for i in ranked]
    for slot, part in zip(slots, moved, strict=True):
        parts[slot] = part
