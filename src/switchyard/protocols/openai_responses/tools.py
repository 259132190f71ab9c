"""Tool definitions and ``tool_choice`` <-> core Tool / ToolChoice.

Tools come from the top-level ``tools`` list and from ``additional_tools`` input items (Codex
sends its tools as the first input item ``{"type": "additional_tools", "role": "developer",
"tools": [...]}``); both are flattened into ``Request.tools``:

- ``function`` -> Tool(name, description, parameters, strict); other fields in extensions.
- ``custom`` (freeform) -> Tool(freeform=True); ``format`` (grammar / text) stays in extensions.
- ``namespace`` -> each member tool flattened as ``<namespace>__<tool>`` with
  ``extensions["_namespace"]``; calls map back to ``namespace`` + bare name (:mod:`.wire`).
- hosted / built-in tools (``web_search``, ``file_search``, ``code_interpreter``, ``mcp``,
  ``image_generation``, ``tool_search``, ``computer_use_preview``, ``shell``, ``apply_patch`` ...)
  -> ``Request.extensions["_hosted_tools"]`` (a list of the wire objects). Builders of other
  protocols ignore them (the server names them in a warning header); a Responses build restores
  them in place.

``extensions["_tools_layout"]`` remembers, per container (``"tools"`` or the index of the
``additional_tools`` item), the order of flat tools, namespaces and hosted tools, so a
same-protocol build is lossless; each core Tool says its container in ``_container``.

``tool_choice``: ``none`` / ``auto`` / ``required`` / ``{"type": "function"|"custom", "name"}``
map onto ToolChoice; ``allowed_tools`` keeps its mode and is native_only (no other protocol can
restrict the tool set without removing tools); hosted forms (``{"type": "web_search_preview"}``,
``mcp``, ...) are ``auto`` for other protocols (the hosted tool itself is not sent there).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import Request, Tool, ToolChoice
from .wire import NAME, as_dict, as_list, flat_name, public, rest, split_name, string

HOSTED = "_hosted_tools"
LAYOUT = "_tools_layout"
_FUNCTION_KEYS = ("type", "name", "description", "parameters", "strict")
_CHOICE_MODES = ("none", "auto", "required")


def parse_tool_list(raw: Any, container: str, where: str, req: Request) -> None:
    """Flatten one tools list into ``req.tools`` / hosted tools, recording its layout."""
    layout = req.extensions.setdefault(LAYOUT, {}).setdefault(container, [])
    for i, value in enumerate(as_list(raw, where)):
        w = f"{where}[{i}]"
        t = as_dict(value, w)
        kind = string(t, "type", w)
        if kind in ("function", "custom"):
            tool = _parse_tool(t, w, None, container)
            req.tools.append(tool)
            layout.append(["tool", tool.name])
        elif kind == "namespace":
            ns = string(t, "name", w) or ""
            for j, member in enumerate(as_list(t.get("tools"), f"{w}.tools")):
                mw = f"{w}.tools[{j}]"
                m = as_dict(member, mw)
                if m.get("type") not in ("function", "custom"):
                    raise RequestError(f"'{mw}' must be a function or custom tool", param=f"{mw}.type")
                req.tools.append(_parse_tool(m, mw, ns, container))
            layout.append(["namespace", rest(t, ("tools",))])
        else:
            hosted = req.extensions.setdefault(HOSTED, [])
            hosted.append(t)
            layout.append(["hosted", len(hosted) - 1])


def _parse_tool(t: dict[str, Any], where: str, namespace: str | None, container: str) -> Tool:
    name = string(t, "name", where) or ""
    description = string(t, "description", where, required=False)
    freeform = t["type"] == "custom"
    parameters = None if freeform else t.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise RequestError(f"field '{where}.parameters' must be an object", param=f"{where}.parameters")
    strict = None if freeform else t.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise RequestError(f"field '{where}.strict' must be a boolean", param=f"{where}.strict")
    ext = rest(t, ("type", "name", "description") if freeform else _FUNCTION_KEYS)
    nulls = [k for k in ("description", "parameters", "strict") if k in t and t[k] is None]
    if nulls:
        ext["_nulls"] = nulls
    ext["_container"] = container
    if namespace is not None:
        ext["_namespace"] = namespace
    return Tool(flat_name(namespace, name), description, parameters, strict, freeform, ext)


def parse_tool_choice(raw: Any, req: Request) -> ToolChoice:
    if isinstance(raw, str):
        if raw not in _CHOICE_MODES:
            raise RequestError(f"field 'tool_choice' must be one of {', '.join(_CHOICE_MODES)}", param="tool_choice")
        return ToolChoice(raw)  # type: ignore[arg-type]
    tc = as_dict(raw, "tool_choice")
    kind = string(tc, "type", "tool_choice")
    if kind in ("function", "custom"):
        name = string(tc, "name", "tool_choice") or ""
        return ToolChoice("tool", bare_names(req.tools).get(name, name), rest(tc, ("type", "name")))
    if kind == "allowed_tools":
        req.native_only.append("tool_choice")
        mode = tc.get("mode") if tc.get("mode") in ("auto", "required") else "auto"
        return ToolChoice(mode, extensions={"_wire": tc})  # type: ignore[arg-type]
    return ToolChoice("auto", extensions={"_wire": tc})


def bare_names(tools: list[Tool]) -> dict[str, str]:
    """Bare name -> core name of each namespaced tool whose bare name is unique and not also the
    name of another tool (a model may answer a namespaced tool without its namespace)."""
    found: dict[str, list[str]] = {}
    for tool in tools:
        ns = tool.extensions.get("_namespace")
        if ns:
            found.setdefault(split_name(tool.name, ns), []).append(tool.name)
    names = {t.name for t in tools}
    return {bare: core[0] for bare, core in found.items() if len(core) == 1 and bare not in names}


# --- core -> wire ---------------------------------------------------------------------------


def build_tool_lists(req: Request, same: bool) -> dict[str, list[dict[str, Any]]]:
    """Tools per container: ``"tools"`` (top level) and, for Responses requests, the input
    indexes of ``additional_tools`` items."""
    if not same:
        return {"tools": [build_tool(t, False) for t in req.tools]} if req.tools else {}
    layout: dict[str, list[list[Any]]] = req.extensions.get(LAYOUT) or {}
    hosted: list[dict[str, Any]] = req.extensions.get(HOSTED) or []
    grouped: dict[str, list[Tool]] = {}
    for tool in req.tools:
        container = tool.extensions.get("_container", "tools")
        grouped.setdefault(container if container in layout else "tools", []).append(tool)
    out: dict[str, list[dict[str, Any]]] = {}
    for container in dict.fromkeys([*layout, *grouped]):
        out[container] = _build_container(layout.get(container, []), grouped.get(container, []), hosted)
    return out


def _build_container(entries: list[list[Any]], tools: list[Tool], hosted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    left = list(tools)
    out: list[dict[str, Any]] = []
    for kind, value in entries:
        if kind == "tool":
            match = next((t for t in left if t.name == value and not t.extensions.get("_namespace")), None)
            if match is not None:
                left.remove(match)
                out.append(build_tool(match, True))
        elif kind == "namespace":
            members = [t for t in left if t.extensions.get("_namespace") == value.get("name")]
            if members:
                left = [t for t in left if t not in members]
                out.append({**value, "tools": [build_tool(t, True) for t in members]})
        elif kind == "hosted" and value < len(hosted):
            out.append(hosted[value])
    out.extend(build_tool(t, True) for t in left)
    return out


def build_tool(tool: Tool, same: bool) -> dict[str, Any]:
    ext = tool.extensions if same else {}
    name = split_name(tool.name, ext.get("_namespace"))
    out: dict[str, Any] = {"type": "custom" if tool.freeform else "function", "name": name}
    if tool.description is not None:
        out["description"] = tool.description
    if not tool.freeform:
        if tool.parameters is not None or not same:
            out["parameters"] = tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}}
        if tool.strict is not None or not same:
            out["strict"] = bool(tool.strict)  # a missing strict means strict to the API: say it
    out.update(public(ext))
    for key in ext.get("_nulls", ()):
        out[key] = None
    return out


def build_tool_choice(req: Request, same: bool) -> str | dict[str, Any] | None:
    tc = req.tool_choice
    if tc is None:
        return None
    ext = tc.extensions if same else {}
    if "_wire" in ext:
        return ext["_wire"]
    if tc.mode != "tool":
        return tc.mode
    tool = next((t for t in req.tools if t.name == tc.name), None)
    name = tc.name or ""
    if tool is not None and same:
        name = split_name(name, tool.extensions.get("_namespace"))
    out: dict[str, Any] = {"type": "custom" if tool is not None and tool.freeform else "function", "name": name}
    out.update(public(ext))
    return out


def tool_wire_names(req: Request) -> dict[str, tuple[str | None, str, bool]]:
    """Call name -> (namespace, wire name, freeform) for the client's tools; the bare names of
    namespaced tools (:func:`bare_names`) map to their tools too."""
    out: dict[str, tuple[str | None, str, bool]] = {}
    for tool in req.tools:
        ns = tool.extensions.get("_namespace") if req.protocol == NAME else None
        out[tool.name] = (ns, split_name(tool.name, ns), tool.freeform)
    if req.protocol == NAME:
        out.update({bare: out[core] for bare, core in bare_names(req.tools).items()})
    return out
