"""Gemini ``tools`` / ``toolConfig`` <-> core Tool / ToolChoice, and the OpenAPI-subset schema.

- Every ``functionDeclarations`` entry of every ``tools[]`` container becomes one core Tool. Its
  schema comes from ``parametersJsonSchema`` (JSON Schema, kept as is) or ``parameters`` (the
  OpenAPI 3.0 subset with possibly UPPERCASE types, converted by :func:`openapi_to_json_schema`;
  the original is kept in ``Tool.extensions["_parameters"]`` and sent back unchanged to Gemini).
  Other declaration fields (``response``, ``responseJsonSchema``, ``behavior``) stay in the Tool's
  extensions. Builds for Gemini from other protocols always use ``parametersJsonSchema``.
- Non-function tools (``googleSearch``, ``codeExecution``, ``urlContext``, ...) are kept in
  ``Request.extensions["_tools_layout"]`` (with the container grouping, for a lossless round
  trip) and listed in ``native_only``: other protocols cannot carry them.
- ``functionCallingConfig``: AUTO -> auto, NONE -> none, ANY -> required, ANY with exactly one
  ``allowedFunctionNames`` entry -> the named tool; ANY with several names restricts the choice to
  a subset the core cannot express (native_only); VALIDATED -> auto.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import Request, Tool, ToolChoice
from .wire import NAME, as_object, normalized, public

FREEFORM_SCHEMA = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}

_MODE_CHOICE = {"AUTO": "auto", "NONE": "none", "ANY": "required", "VALIDATED": "auto", "MODE_UNSPECIFIED": "auto"}
_CHOICE_MODE = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}


# --- tools ----------------------------------------------------------------------------------


def parse_tools(raw: Any, req: Request) -> None:
    """Fill ``req.tools`` (and layout / native_only for non-function tools) from ``tools``."""
    if not isinstance(raw, list):
        raise RequestError("field 'tools' must be an array", param="tools")
    layout: list[list[Any]] = []
    for ti, container in enumerate(raw):
        where = f"tools[{ti}]"
        c = as_object(container, where)
        count = None
        others: dict[str, Any] = {}
        for key, value in c.items():
            if key == "functionDeclarations":
                if not isinstance(value, list):
                    raise RequestError(
                        f"field '{where}.functionDeclarations' must be an array", param=f"{where}.functionDeclarations"
                    )
                for di, decl in enumerate(value):
                    req.tools.append(_parse_declaration(decl, f"{where}.functionDeclarations[{di}]"))
                count = len(value)
            else:
                others[key] = value
                req.native_only.append(f"{where}.{key}")
        layout.append([count, others])
    req.extensions["_tools_layout"] = layout


def _parse_declaration(raw: Any, where: str) -> Tool:
    d = as_object(raw, where)
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"missing required field '{where}.name'", param=f"{where}.name")
    description = d.get("description")
    if description is not None and not isinstance(description, str):
        raise RequestError(f"field '{where}.description' must be a string", param=f"{where}.description")
    ext = {k: v for k, v in d.items() if k not in ("name", "description", "parameters", "parametersJsonSchema")}
    if "parameters_json_schema" in raw:  # keep the spelling the Python SDK uses
        ext["_schema_key"] = "parameters_json_schema"
    schema = None
    if d.get("parametersJsonSchema") is not None:
        schema = d["parametersJsonSchema"]
        if not isinstance(schema, dict):
            raise RequestError(
                f"field '{where}.parametersJsonSchema' must be an object", param=f"{where}.parametersJsonSchema"
            )
    elif d.get("parameters") is not None:
        if not isinstance(d["parameters"], dict):
            raise RequestError(f"field '{where}.parameters' must be an object", param=f"{where}.parameters")
        ext["_parameters"] = d["parameters"]
        schema = openapi_to_json_schema(d["parameters"])
    return Tool(name, description, schema, extensions=ext)


def build_tools(req: Request, same: bool) -> list[dict[str, Any]] | None:
    decls = [_build_declaration(tool, same) for tool in req.tools]
    layout = req.extensions.get("_tools_layout") if same else None
    if layout is not None and sum(count or 0 for count, _ in layout) == len(decls):
        out = []
        start = 0
        for count, others in layout:
            container: dict[str, Any] = {}
            if count is not None:
                container["functionDeclarations"] = decls[start : start + count]
                start += count
            container.update(others)
            out.append(container)
        return out
    return [{"functionDeclarations": decls}] if decls else None


def _build_declaration(tool: Tool, same: bool) -> dict[str, Any]:
    ext = tool.extensions if same else {}
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    raw = ext.get("_parameters")
    if tool.freeform:
        out["parametersJsonSchema"] = FREEFORM_SCHEMA
    elif raw is not None and openapi_to_json_schema(raw) == tool.parameters:
        out["parameters"] = raw
    elif tool.parameters is not None:
        out[ext.get("_schema_key", "parametersJsonSchema")] = tool.parameters
    out.update(public(ext))
    return out


# --- tool choice ----------------------------------------------------------------------------


def parse_tool_config(raw: Any, req: Request) -> None:
    tc = as_object(raw, "toolConfig")
    req.extensions["_toolConfig_extra"] = {k: v for k, v in tc.items() if k != "functionCallingConfig" or v is None}
    if tc.get("functionCallingConfig") is None:
        return
    fcc = as_object(tc["functionCallingConfig"], "toolConfig.functionCallingConfig")
    mode = fcc.get("mode", "AUTO")
    if not isinstance(mode, str) or mode.upper() not in _MODE_CHOICE:
        raise RequestError(
            "field 'toolConfig.functionCallingConfig.mode' must be AUTO, ANY, NONE or VALIDATED",
            param="toolConfig.functionCallingConfig.mode",
        )
    names = fcc.get("allowedFunctionNames")
    if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
        raise RequestError(
            "field 'toolConfig.functionCallingConfig.allowedFunctionNames' must be an array of strings",
            param="toolConfig.functionCallingConfig.allowedFunctionNames",
        )
    choice = _choice_from(mode, names)
    if mode.upper() == "ANY" and names and len(names) > 1:
        req.native_only.append("toolConfig.functionCallingConfig.allowedFunctionNames")
    choice.extensions["_raw"] = tc["functionCallingConfig"]  # original spelling
    req.tool_choice = choice


def _choice_from(mode: str, names: list[str] | None) -> ToolChoice:
    kind = _MODE_CHOICE[mode.upper()]
    if kind == "required" and names and len(names) == 1:
        return ToolChoice("tool", names[0])
    return ToolChoice(kind)  # type: ignore[arg-type]


def build_tool_config(req: Request, same: bool) -> dict[str, Any] | None:
    extra = req.extensions.get("_toolConfig_extra") if same else None
    out: dict[str, Any] = dict(extra or {})
    choice = req.tool_choice
    if choice is not None and (req.tools or choice.mode in ("required", "tool") or same):
        raw = choice.extensions.get("_raw") if same else None
        if isinstance(raw, dict) and _same_choice(_choice_of(normalized(raw)), choice):
            out["functionCallingConfig"] = raw
        else:
            fcc: dict[str, Any] = {"mode": _CHOICE_MODE[choice.mode]}
            if choice.mode == "tool" and choice.name:
                fcc["allowedFunctionNames"] = [choice.name]
            out["functionCallingConfig"] = fcc
    return out if out or extra is not None else None


def _choice_of(fcc: dict[str, Any]) -> ToolChoice:
    mode = fcc.get("mode", "AUTO")
    return _choice_from(
        mode if isinstance(mode, str) and mode.upper() in _MODE_CHOICE else "AUTO", fcc.get("allowedFunctionNames")
    )


def _same_choice(a: ToolChoice, b: ToolChoice) -> bool:
    return a.mode == b.mode and a.name == b.name


# --- schemas --------------------------------------------------------------------------------


def openapi_to_json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-subset ``Schema`` -> JSON Schema: lower-case ``type`` names and
    ``nullable: true`` folded into the type; nested schemas converted recursively."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: openapi_to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties", "prefixItems"):
            out[key] = openapi_to_json_schema(value)
        elif key != "nullable":
            out[key] = value
    if schema.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


__all__ = ["NAME", "build_tool_config", "build_tools", "openapi_to_json_schema", "parse_tool_config", "parse_tools"]
