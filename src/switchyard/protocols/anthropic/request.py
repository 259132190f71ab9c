"""Messages request body (``POST /v1/messages``) <-> core Request.

Parsing: ``model``, ``max_tokens`` and ``messages`` are required (``max_tokens`` is optional in a
count_tokens body, :func:`parse_count_tokens_request`). ``system`` (a string or text blocks,
``cache_control`` kept) -> ``Request.system`` (``_system_string`` remembers the string form);
messages, blocks and tools: :mod:`.messages`, :mod:`.blocks`, :mod:`.tools`. ``thinking``
``enabled`` / ``disabled`` / ``adaptive`` -> Reasoning (``budget_tokens``, ``enabled=False``,
``adaptive``; ``display`` ... in its extensions); thinking on also sets ``include_thoughts``
(the client gets thinking blocks back) unless ``display`` is ``omitted``; ``output_config.effort`` -> ``Reasoning.effort``
(a Reasoning marked ``_no_thinking`` when ``thinking`` itself was absent);
``output_config.format`` (``json_schema``) -> ``response_format``; other ``output_config`` keys in
``extensions["_output_config"]``. ``metadata`` -> ``Request.metadata`` and its ``user_id`` ->
``Request.user``. ``temperature``, ``top_p``, ``top_k``, ``stop_sequences``, ``stream``. Every
other field (``context_management``, ``service_tier``, ``container``, ``inference_geo``,
top-level ``cache_control``, ``mcp_servers`` ...) stays in ``extensions`` under its wire name, so
an Anthropic build is lossless. native_only: server tools, blocks only Anthropic knows, Files API
ids, ``mcp_servers``.

Building for an Anthropic upstream from another protocol:

- ``max_tokens`` is required by the API: :data:`DEFAULT_MAX_TOKENS` when the client set none.
- Reasoning -> ``thinking``: an explicit budget is used as it is (at least :data:`MIN_BUDGET`,
  the API's minimum); an effort (OpenAI ``reasoning_effort``, Gemini ``thinkingLevel``) becomes a
  budget by :data:`EFFORT_BUDGET`; an adaptive / dynamic request gets :data:`ADAPTIVE_BUDGET`;
  disabled reasoning or effort ``none`` sends no ``thinking``. The budget must stay below
  ``max_tokens`` and leave room for the answer: without a client ``max_tokens`` the default is
  added on top of the budget; a client's ``max_tokens`` (OpenAI's and Gemini's limits include the
  reasoning) is kept, and the budget is cut to half of it when larger (no thinking at all when
  that half is under :data:`MIN_BUDGET`).
- With thinking on, the API takes no ``temperature`` other than 1, no ``top_k``, ``top_p`` only
  from 0.95, and no forced tool choice: such sampling settings are left out, and a forced tool
  choice (``any`` / ``tool``) turns thinking off. Thinking is also left out when the request
  continues a tool loop whose assistant turn does not start with an Anthropic-signed thinking
  block (history from another provider; the API answers 400 otherwise, REFERENCE §6.5).
- ``response_format`` ``json_schema`` -> ``output_config.format``; ``json_object`` (JSON without a
  schema) has no Anthropic form: TranslationError.
- ``Request.user`` -> ``metadata.user_id``. Extensions of other protocols are ignored.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import Reasoning, Request, TextPart
from ...core.util import optional, require
from .blocks import build_block, parse_block
from .messages import THINKING, build_messages, parse_messages, system_text
from .tools import build_tool_choice, build_tools, parse_tool_choice, parse_tools
from .wire import NAME, public

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` for a client that set none (Anthropic requires it); the answer's room on top of
a thinking budget."""
MIN_BUDGET = 1024
"""The smallest ``thinking.budget_tokens`` the API accepts."""
EFFORT_BUDGET: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
"""Reasoning effort of another protocol -> thinking budget (tokens). The bounds are chosen so the
OpenAI codecs map each budget back to the same effort."""
ADAPTIVE_BUDGET = 8192
"""Budget for an adaptive / dynamic thinking request from another protocol (Gemini -1)."""

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
        "output_config",
        "stream",
        "metadata",
    }
)
NATIVE_ONLY_FIELDS = ("mcp_servers",)


# ------------------------------------------------------------------------------------- parsing


def parse_request(body: dict[str, Any]) -> Request:
    """Validate and parse a Messages body (RequestError naming the field when invalid)."""
    return _parse(body, count_tokens=False)


def parse_count_tokens_request(body: dict[str, Any]) -> Request:
    """A ``/v1/messages/count_tokens`` body: a Messages body without ``max_tokens`` / ``stream``."""
    return _parse(body, count_tokens=True)


def _parse(body: dict[str, Any], count_tokens: bool) -> Request:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    req = Request(model=require(body, "model", str), protocol=NAME)
    if count_tokens:
        req.max_tokens = optional(body, "max_tokens", int)
        if req.max_tokens is None:
            req.extensions["_no_max_tokens"] = True
    else:
        req.max_tokens = require(body, "max_tokens", int)
    messages = require(body, "messages", list)
    system = optional(body, "system", (str, list))
    if isinstance(system, str):
        req.system = [TextPart(system)]
        req.extensions["_system_string"] = True
    elif system is not None:
        req.system = [parse_block(b, f"system[{i}]", req.native_only) for i, b in enumerate(system)]
    parse_messages(messages, req)
    tools = optional(body, "tools", list)
    if tools is not None:
        parse_tools(tools, req)
    if body.get("tool_choice") is not None:
        req.tool_choice = parse_tool_choice(body["tool_choice"], req)
    req.temperature = optional(body, "temperature", (int, float))
    req.top_p = optional(body, "top_p", (int, float))
    req.top_k = optional(body, "top_k", int)
    stops = optional(body, "stop_sequences", list)
    if stops is not None:
        if not all(isinstance(s, str) for s in stops):
            raise RequestError("field 'stop_sequences' must be an array of strings", param="stop_sequences")
        req.stop = list(stops)
    if body.get("thinking") is not None:
        req.reasoning = _parse_thinking(body["thinking"])
    if body.get("output_config") is not None:
        _parse_output_config(body["output_config"], req)
    req.stream = bool(optional(body, "stream", bool))
    if body.get("stream") is False:
        req.extensions["_stream_false"] = True
    metadata = optional(body, "metadata", dict)
    if metadata is not None:
        req.metadata = metadata
        if isinstance(metadata.get("user_id"), str):
            req.user = metadata["user_id"]
    nulls = [k for k in MODELED if k in body and body[k] is None]
    if nulls:
        req.extensions["_nulls"] = nulls
    for key, value in body.items():
        if key not in MODELED:
            req.extensions[key] = value
            if key in NATIVE_ONLY_FIELDS and value:
                req.native_only.append(key)
    return req


def _parse_thinking(raw: Any) -> Reasoning:
    if not isinstance(raw, dict):
        raise RequestError("field 'thinking' must be an object", param="thinking")
    kind = raw.get("type")
    ext = {k: v for k, v in raw.items() if k not in ("type", "budget_tokens")}
    # thinking on means the client gets thinking blocks back, unless it asked them omitted
    shown = raw.get("display") != "omitted"
    if kind == "enabled":
        budget = require(raw, "budget_tokens", int, "thinking.")
        return Reasoning(budget_tokens=budget, include_thoughts=shown, extensions=ext)
    if kind == "disabled":
        return Reasoning(enabled=False, extensions=ext)
    if kind == "adaptive":
        return Reasoning(adaptive=True, include_thoughts=shown, extensions=ext)
    raise RequestError("'thinking.type' must be enabled, disabled or adaptive", param="thinking.type")


def _parse_output_config(raw: Any, req: Request) -> None:
    if not isinstance(raw, dict):
        raise RequestError("field 'output_config' must be an object", param="output_config")
    effort = optional(raw, "effort", str, "output_config.")
    if effort is not None:
        if req.reasoning is None:
            req.reasoning = Reasoning(extensions={"_no_thinking": True})
        req.reasoning.effort = effort
    fmt = optional(raw, "format", dict, "output_config.")
    if fmt is not None:
        if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
            raise RequestError(
                '\'output_config.format\' must be {"type": "json_schema", "schema": {...}}',
                param="output_config.format",
            )
        req.response_format = _format_of(fmt)
    req.extensions["_output_config"] = raw


def _format_of(fmt: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "name": "response", "schema": fmt["schema"]}


# ------------------------------------------------------------------------------------ building


def build_request(req: Request) -> dict[str, Any]:
    """A Messages body for an upstream (TranslationError for what Anthropic cannot carry)."""
    native = req.protocol == NAME
    if req.native_only and not native:
        raise TranslationError(req.native_only[0], NAME)
    hoisted, messages = build_messages(req, native)
    body: dict[str, Any] = {"model": req.model}
    system = _build_system(req, hoisted, native)
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    tools = build_tools(req, native)
    if tools:
        body["tools"] = tools
    choice = build_tool_choice(req, native, bool(tools))
    if choice is not None:
        body["tool_choice"] = choice
    if native:
        _native_settings(req, body)
    else:
        _foreign_settings(req, body, messages)
    output_config = _build_output_config(req, native)
    if output_config is not None:
        body["output_config"] = output_config
    if req.stream:
        body["stream"] = True
    elif native and req.extensions.get("_stream_false"):
        body["stream"] = False
    if native:
        for key in req.extensions.get("_nulls") or ():
            body.setdefault(key, None)
        body.update(public(req.extensions))
    return body


def _build_system(req: Request, hoisted: list[Any], native: bool) -> Any:
    if native:
        if not req.system:
            return None
        if req.extensions.get("_system_string") and len(req.system) == 1 and isinstance(req.system[0], TextPart):
            return req.system[0].text
        return [build_block(p, True, f"system[{i}]") for i, p in enumerate(req.system)]
    text = "\n\n".join(t for t in (system_text(req.system, "system"), system_text(hoisted, "messages")) if t)
    return text or None


def _native_settings(req: Request, body: dict[str, Any]) -> None:
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    elif not req.extensions.get("_no_max_tokens"):
        body["max_tokens"] = DEFAULT_MAX_TOKENS
    r = req.reasoning
    if r is not None and not r.extensions.get("_no_thinking"):
        ext = public(r.extensions)
        if not r.enabled:
            body["thinking"] = {"type": "disabled", **ext}
        elif r.adaptive:
            body["thinking"] = {"type": "adaptive", **ext}
        elif r.budget_tokens is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": r.budget_tokens, **ext}
    for wire, value in (("temperature", req.temperature), ("top_p", req.top_p), ("top_k", req.top_k)):
        if value is not None:
            body[wire] = value
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.metadata is not None:
        body["metadata"] = req.metadata


def _foreign_settings(req: Request, body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    budget = _budget(req, messages)
    max_tokens = req.max_tokens
    if budget is not None:
        if max_tokens is None:
            max_tokens = budget + DEFAULT_MAX_TOKENS
        elif budget > max_tokens // 2:
            budget = max(MIN_BUDGET, max_tokens // 2) if max_tokens >= 2 * MIN_BUDGET else None
    body["max_tokens"] = max_tokens if max_tokens is not None else DEFAULT_MAX_TOKENS
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    thinking = budget is not None
    if req.temperature is not None and (not thinking or req.temperature == 1):
        body["temperature"] = req.temperature
    if req.top_p is not None and (not thinking or req.top_p >= 0.95):
        body["top_p"] = req.top_p
    if req.top_k is not None and not thinking:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.user:
        body["metadata"] = {"user_id": req.user[:256]}


def _budget(req: Request, messages: list[dict[str, Any]]) -> int | None:
    """The thinking budget for a request of another protocol (None: no thinking)."""
    r = req.reasoning
    if r is None or not r.enabled or r.effort == "none":
        return None
    if r.budget_tokens is not None:
        budget = r.budget_tokens
    elif r.effort is not None:
        budget = EFFORT_BUDGET.get(r.effort, ADAPTIVE_BUDGET)
    elif r.adaptive:
        budget = ADAPTIVE_BUDGET
    else:
        return None
    if budget <= 0:
        return None
    if req.tool_choice is not None and req.tool_choice.mode in ("required", "tool") and req.tools:
        return None  # the API refuses forced tool use with thinking; the tool choice wins
    if unsigned_tool_loop(messages):
        return None
    return max(budget, MIN_BUDGET)


def unsigned_tool_loop(messages: list[dict[str, Any]]) -> bool:
    """The request continues a tool loop whose assistant turn does not start with thinking."""
    if not messages or messages[-1]["role"] != "user":
        return False
    content = messages[-1]["content"]
    if not isinstance(content, list) or not any(b.get("type") == "tool_result" for b in content):
        return False
    for msg in reversed(messages[:-1]):
        if msg["role"] == "assistant":
            blocks = msg["content"] if isinstance(msg["content"], list) else []
            return not blocks or blocks[0].get("type") not in THINKING
    return False


def _build_output_config(req: Request, native: bool) -> dict[str, Any] | None:
    fmt = req.response_format
    if native:
        raw = req.extensions.get("_output_config")
        out = {k: v for k, v in raw.items() if k not in ("effort", "format")} if isinstance(raw, dict) else {}
        if req.reasoning is not None and req.reasoning.effort is not None:
            out["effort"] = req.reasoning.effort
        if fmt is not None and fmt.get("type") == "json_schema":
            raw_fmt = raw.get("format") if isinstance(raw, dict) else None
            keep = isinstance(raw_fmt, dict) and _format_of(raw_fmt) == fmt
            out["format"] = raw_fmt if keep else {"type": "json_schema", "schema": fmt.get("schema") or {}}
        return out if out or raw is not None else None
    if fmt is None or fmt.get("type") == "text":
        return None
    if fmt.get("type") == "json_schema":
        return {"format": {"type": "json_schema", "schema": fmt.get("schema") or {"type": "object"}}}
    raise TranslationError(
        "response_format", NAME, f"{fmt.get('type')} output without a JSON schema (use a json_schema format)"
    )
