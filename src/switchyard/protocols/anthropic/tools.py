"""``tools`` and ``tool_choice`` <-> core Tool / ToolChoice.

- A client tool ``{name, description, input_schema, strict?, cache_control?, ...}`` (optionally
  ``"type": "custom"``) -> Tool; ``strict`` -> ``Tool.strict``, every other key (``type``,
  ``cache_control``, ``defer_loading``, ``input_examples`` ...) stays in its extensions.
- Server tools and Anthropic-defined client tools (any other ``type``: ``web_search_20250305``,
  ``bash_20250124``, ``text_editor_...``) run inside Anthropic or need its tool-specific
  training: they are kept with their position in ``Request.extensions["_server_tools"]`` and are
  native-only (a build for another protocol raises TranslationError naming ``tools[i]``).
- ``tool_choice`` ``auto`` / ``any`` / ``tool`` / ``none`` <-> core ``auto`` / ``required`` /
  ``tool`` / ``none``; ``disable_parallel_tool_use`` <-> ``Request.parallel_tool_calls`` (negated).

Building from another protocol: ``test_tool_with_no_parameters`` — a tool without parameters
gets ``input_schema: {"type": "object", "properties": {}}`` (the API requires an object schema; a
schema without ``type`` gets ``"type": "object"``); a freeform tool becomes a function with one
required string parameter ``input``; ``strict`` is sent only when true (false is the default).
``parallel_tool_calls: false`` without a tool choice becomes ``{"type": "auto",
"disable_parallel_tool_use": true}``. A tool choice without tools is left out (the API rejects it).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import Request, Tool, ToolChoice
from ...core.util import optional, require
from .wire import public

FREEFORM_SCHEMA = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The raw input for the tool."}},
    "required": ["input"],
}
EMPTY_SCHEMA = {"type": "object", "properties": {}}
CHOICE_FROM_WIRE = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
CHOICE_TO_WIRE = {v: k for k, v in CHOICE_FROM_WIRE.items()}


def parse_tools(raw: list[Any], req: Request) -> None:
    for i, item in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"'{where}' must be an object", param=where)
        kind = optional(item, "type", str, f"{where}.")
        if kind not in (None, "custom"):
            req.extensions.setdefault("_server_tools", []).append([i, item])
            req.native_only.append(where)
            continue
        req.tools.append(
            Tool(
                require(item, "name", str, f"{where}."),
                optional(item, "description", str, f"{where}."),
                optional(item, "input_schema", dict, f"{where}."),
                optional(item, "strict", bool, f"{where}."),
                extensions={
                    k: v for k, v in item.items() if k not in ("name", "description", "input_schema", "strict")
                },
            )
        )


def build_tools(req: Request, native: bool) -> list[dict[str, Any]]:
    tools = [_build_tool(t, native) for t in req.tools]
    if native:
        for position, raw in req.extensions.get("_server_tools") or []:
            tools.insert(min(position, len(tools)), raw)
    return tools


def _build_tool(tool: Tool, native: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        wire["description"] = tool.description
    if tool.freeform:
        wire["input_schema"] = FREEFORM_SCHEMA
    elif native:
        if tool.parameters is not None:
            wire["input_schema"] = tool.parameters
    elif tool.parameters is None or not tool.parameters:
        wire["input_schema"] = EMPTY_SCHEMA
    else:
        wire["input_schema"] = tool.parameters if "type" in tool.parameters else {"type": "object", **tool.parameters}
    if tool.strict is not None and (native or tool.strict):
        wire["strict"] = tool.strict
    if native:
        wire.update(public(tool.extensions))
    return wire


def parse_tool_choice(raw: Any, req: Request) -> ToolChoice:
    if not isinstance(raw, dict):
        raise RequestError("field 'tool_choice' must be an object", param="tool_choice")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CHOICE_FROM_WIRE:
        raise RequestError("'tool_choice.type' must be auto, any, tool or none", param="tool_choice.type")
    disable = optional(raw, "disable_parallel_tool_use", bool, "tool_choice.")
    if disable is not None:
        req.parallel_tool_calls = not disable
    name = require(raw, "name", str, "tool_choice.") if kind == "tool" else None
    ext = {k: v for k, v in raw.items() if k not in ("type", "name", "disable_parallel_tool_use")}
    return ToolChoice(CHOICE_FROM_WIRE[kind], name, ext)  # type: ignore[arg-type]


def build_tool_choice(req: Request, native: bool, has_tools: bool) -> dict[str, Any] | None:
    choice = req.tool_choice
    if native:
        if choice is None:
            return None
        wire: dict[str, Any] = {"type": CHOICE_TO_WIRE[choice.mode]}
        if choice.mode == "tool":
            wire["name"] = choice.name
        if req.parallel_tool_calls is not None:
            wire["disable_parallel_tool_use"] = not req.parallel_tool_calls
        return {**wire, **public(choice.extensions)}
    if not has_tools:
        return None
    if choice is None:
        return {"type": "auto", "disable_parallel_tool_use": True} if req.parallel_tool_calls is False else None
    wire = {"type": CHOICE_TO_WIRE[choice.mode]}
    if choice.mode == "tool":
        wire["name"] = choice.name
    if req.parallel_tool_calls is False and choice.mode != "none":
        wire["disable_parallel_tool_use"] = True
    return wire
