"""OpenAI Responses ``POST /v1/responses`` body <-> core Request.

Top-level fields: ``model`` (required), ``input`` (:mod:`.items`), ``instructions`` ->
``Request.system``, ``tools`` / ``tool_choice`` (:mod:`.tools`), ``parallel_tool_calls``,
``max_output_tokens`` -> ``max_tokens``, ``temperature``, ``top_p``, ``stream``, ``metadata``,
``user``; ``reasoning`` -> Reasoning (``effort`` ``"none"`` -> ``enabled=False``; ``context``,
``mode`` ... in its extensions); ``text.format`` ``json_schema`` / ``json_object`` ->
``response_format`` (``verbosity`` and a ``text`` format stay in ``extensions["text"]``).
Everything else (``store``, ``include``, ``prompt_cache_key``, ``prompt_cache_retention``,
``safety_identifier``, ``client_metadata``, ``service_tier``, ``truncation``, ``stream_options``,
``max_tool_calls``, ``previous_response_id`` ...) stays in ``extensions`` so a Responses build
is lossless; explicit ``null`` values are remembered in ``_nulls``.

Rejected with a RequestError naming the field: ``background: true`` and ``conversation`` (the
gateway runs responses in the foreground and keeps no conversations), and a missing ``input``
unless ``previous_response_id`` or a stored ``prompt`` supplies the context. native_only (a
TranslationError for other upstreams): ``previous_response_id``, ``prompt`` (stored prompt
templates), ``top_logprobs`` > 0 and ``include`` of output logprobs, ``allowed_tools`` tool
choices, unknown ``text.format`` types, provider file ids in images, ``item_reference`` and
unknown input items.

Building for a Responses upstream from other protocols: ``Request.system`` -> ``instructions``
(text parts joined with blank lines); ``store: false`` always (the gateway never chains upstream
responses, and clients of other protocols expect nothing to be kept), plus
``include: ["reasoning.encrypted_content"]`` when reasoning is requested or the history holds
Responses reasoning, so reasoning can be replayed statelessly on the next turn. Reasoning
budgets become an effort (< 4096 tokens low, < 16384 medium, else high); visible thoughts
(``include_thoughts``) ask for ``summary: "auto"``; ``max_output_tokens`` is raised to the API's
minimum of 16. ``Request.user`` becomes ``safety_identifier`` (``user`` is deprecated; ids over
its 64-character limit are sent as a stable hash); ``metadata`` is left out (it only labels stored
responses, and these builds store nothing). Stop sequences cannot be expressed
(TranslationError); ``top_k`` is a sampling hint with no Responses equivalent and is left out.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import Message, Reasoning, ReasoningPart, Request, TextPart
from ...core.util import optional, require, stable_id
from .items import build_input, instructions_text, parse_input
from .tools import build_tool_choice, build_tool_lists, parse_tool_choice, parse_tool_list
from .wire import NAME, as_dict, public, rest

_HANDLED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "stream",
        "metadata",
        "user",
    }
)
_EFFORTS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}
MIN_OUTPUT_TOKENS = 16


def parse_request(body: dict[str, Any]) -> Request:
    """A Responses create body -> Request (RequestError naming the field when invalid)."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    if body.get("background") is True:
        raise RequestError("background responses are not supported by this gateway", param="background")
    if body.get("conversation") is not None:
        raise RequestError(
            "conversations are not supported by this gateway; send the whole conversation in 'input'",
            param="conversation",
        )
    req = Request(model=require(body, "model", str), protocol=NAME, include_usage=True)
    req.extensions.update(rest(body, _HANDLED))
    nulls = [k for k in _HANDLED if k in body and body[k] is None]
    if nulls:
        req.extensions["_nulls"] = nulls
    instructions = optional(body, "instructions", str)
    if instructions is not None:
        req.system = [TextPart(instructions)]
    if body.get("tools") is not None:
        parse_tool_list(body["tools"], "tools", "tools", req)
    if body.get("input") is not None:
        parse_input(body["input"], req)
    elif body.get("previous_response_id") is None and body.get("prompt") is None:
        raise RequestError("missing required field 'input'", param="input")
    elif "input" not in body:
        req.extensions["_no_input"] = True
    if body.get("tool_choice") is not None:
        req.tool_choice = parse_tool_choice(body["tool_choice"], req)
    req.parallel_tool_calls = optional(body, "parallel_tool_calls", bool)
    req.max_tokens = optional(body, "max_output_tokens", int)
    req.temperature = optional(body, "temperature", (int, float))
    req.top_p = optional(body, "top_p", (int, float))
    req.stream = bool(optional(body, "stream", bool))
    if "stream" in body:
        req.extensions["_stream"] = True
    req.metadata = optional(body, "metadata", dict)
    req.user = optional(body, "user", str)
    if body.get("reasoning") is not None:
        req.reasoning = _parse_reasoning(body["reasoning"])
    if body.get("text") is not None:
        _parse_text(body["text"], req)
    _native_fields(body, req)
    return req


def _native_fields(body: dict[str, Any], req: Request) -> None:
    if body.get("previous_response_id") is not None:
        req.native_only.append("previous_response_id")
    if body.get("prompt") is not None:
        req.native_only.append("prompt")
    top_logprobs = body.get("top_logprobs")
    if isinstance(top_logprobs, int) and top_logprobs > 0:
        req.native_only.append("top_logprobs")
    include = body.get("include")
    if include is not None and not isinstance(include, list):
        raise RequestError("field 'include' must be an array", param="include")
    if include and "message.output_text.logprobs" in include:
        req.native_only.append("include")


def _parse_reasoning(raw: Any) -> Reasoning:
    r = as_dict(raw, "reasoning")
    for key in ("effort", "summary"):
        if r.get(key) is not None and not isinstance(r[key], str):
            raise RequestError(f"field 'reasoning.{key}' must be a string", param=f"reasoning.{key}")
    ext = rest(r, ("effort", "summary"))
    nulls = [k for k in ("effort", "summary") if k in r and r[k] is None]
    if nulls:
        ext["_nulls"] = nulls
    if r.get("effort") == "none":
        return Reasoning(enabled=False, summary=r.get("summary"), extensions=ext)
    return Reasoning(effort=r.get("effort"), summary=r.get("summary"), extensions=ext)


def _parse_text(raw: Any, req: Request) -> None:
    t = as_dict(raw, "text")
    kept = rest(t, ("format",))
    fmt = t.get("format")
    if fmt is not None:
        f = as_dict(fmt, "text.format")
        kind = f.get("type")
        if kind == "json_schema":
            if not isinstance(f.get("schema"), dict):
                raise RequestError("field 'text.format.schema' must be an object", param="text.format.schema")
            req.response_format = dict(f)
        elif kind == "json_object":
            req.response_format = dict(f)
        else:
            kept["format"] = f
            if kind != "text":
                req.native_only.append("text.format")
    elif "format" in t:
        kept["format"] = None
    req.extensions["text"] = kept


# --- core -> wire ---------------------------------------------------------------------------


def build_request(req: Request) -> dict[str, Any]:
    """A Request -> Responses create body (TranslationError for what Responses cannot carry)."""
    same = req.protocol == NAME
    if req.native_only and not same:
        raise TranslationError(req.native_only[0], NAME)
    if req.stop and not same:
        raise TranslationError("stop", NAME, "the Responses API has no stop sequences")
    ext = req.extensions if same else {}
    body: dict[str, Any] = {"model": req.model}
    body.update({k: v for k, v in public(ext).items() if k != "text"})
    if req.system:
        body["instructions"] = instructions_text(req.system)
    tool_lists = build_tool_lists(req, same)
    if not ext.get("_no_input") or req.messages:
        body["input"] = build_input(req, same, tool_lists)
    if "tools" in tool_lists:
        body["tools"] = tool_lists["tools"]
    tool_choice = build_tool_choice(req, same)
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens if same else max(req.max_tokens, MIN_OUTPUT_TOKENS)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    reasoning = build_reasoning_config(req.reasoning, same) if req.reasoning is not None else None
    if reasoning is not None:
        body["reasoning"] = reasoning
    text = build_text_config(req, same)
    if text is not None:
        body["text"] = text
    if req.stream or ext.get("_stream"):
        body["stream"] = req.stream
    if req.metadata is not None and same:  # metadata only labels stored responses; others send store: false
        body["metadata"] = req.metadata
    if req.user is not None:
        if same:
            body["user"] = req.user
        else:
            body["safety_identifier"] = req.user if len(req.user) <= 64 else stable_id("user_", req.user)
    for key in ext.get("_nulls", ()):
        body[key] = None
    if not same:
        body["store"] = False
        if reasoning is not None or _replays_reasoning(req.messages):
            body["include"] = ["reasoning.encrypted_content"]
    return body


def build_reasoning_config(r: Reasoning, same: bool) -> dict[str, Any] | None:
    """Reasoning -> the ``reasoning`` object (None: leave it out)."""
    out: dict[str, Any] = dict(public(r.extensions)) if same else {}
    if not r.enabled:
        if not same:
            return None  # "none" is not accepted by every reasoning model: use the model default
        out["effort"] = "none"
    elif r.effort is not None:
        out["effort"] = r.effort if same else _EFFORTS.get(r.effort, r.effort)
    elif not same and r.budget_tokens is not None and r.budget_tokens > 0:
        out["effort"] = "low" if r.budget_tokens < 4096 else "medium" if r.budget_tokens < 16384 else "high"
    if r.summary is not None:
        out["summary"] = r.summary
    elif not same and r.include_thoughts:
        out["summary"] = "auto"
    if same:
        for key in r.extensions.get("_nulls", ()):
            out[key] = None
    return out if out or same else None


def build_text_config(req: Request, same: bool) -> dict[str, Any] | None:
    """``response_format`` (+ the client's other ``text`` fields) -> the ``text`` object."""
    kept = req.extensions.get("text") if same else None
    out: dict[str, Any] = dict(kept) if isinstance(kept, dict) else {}
    rf = req.response_format
    if rf is not None:
        if rf.get("type") == "json_schema" and isinstance(rf.get("json_schema"), dict):  # Chat's nesting
            rf = {"type": "json_schema", **rf["json_schema"]}
        out["format"] = rf
    return out if out or isinstance(kept, dict) else None


def _replays_reasoning(messages: list[Message]) -> bool:
    return any(
        isinstance(p, ReasoningPart) and p.signature_source == NAME and p.signature for m in messages for p in m.content
    )
