"""The Responses ``Response`` object <-> core Response, usage and stop reasons.

Output items -> parts: ``reasoning`` -> ReasoningPart (summary texts joined with a blank line,
``encrypted_content`` as the signature), each content part of a ``message`` -> TextPart (item
fields kept in ``extensions["_item"]``, ``annotations`` / ``logprobs`` in its own extensions; a
``refusal`` part has ``extensions["refusal"]``), ``function_call`` / ``custom_tool_call`` ->
ToolCallPart (see :mod:`.items`). Hosted-tool items (``web_search_call`` ...) have no core part:
they are kept in ``extensions["_output_items"]`` with their index for Responses clients.

Stop reasons: ``completed`` -> ``tool_use`` when there are tool calls, ``refusal`` when the answer
is a refusal, else ``end_turn``; ``incomplete`` -> ``max_tokens`` (``max_output_tokens``) or
``content_filter``; ``failed`` -> ``error``.

Usage (REFERENCE §6.7): ``input_tokens`` includes cached and cache-written tokens, so core
input = input - cached - cache_write; ``output_tokens`` includes reasoning.

``format_response`` writes a full Response object for a Responses client of any upstream: ids
``resp_...`` and stable minted item ids (``msg_`` / ``fc_`` / ``ctc_`` / ``rs_`` from the
response id and output index), the status from the stop reason, and the request's settings
echoed (tools, tool_choice, reasoning, text, ...). Tool calls get their namespace and freeform
form back from the client's tools. A response that came from a Responses upstream keeps every
field it had.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import Part, ReasoningPart, Request, Response, StopReason, TextPart, ToolCallPart, Usage
from .content import build_part, parse_part
from .items import build_reasoning, custom_input, instructions_text, parse_call, parse_reasoning
from .request import build_reasoning_config, build_text_config
from .tools import build_tool_choice, build_tool_lists, tool_wire_names
from .wire import NAME, item_id, public, response_id, rest, split_name

INCOMPLETE_STOP: dict[str, str] = {
    "max_output_tokens": StopReason.MAX_TOKENS,
    "content_filter": StopReason.CONTENT_FILTER,
}
STOP_INCOMPLETE: dict[str, str] = {
    StopReason.MAX_TOKENS: "max_output_tokens",
    StopReason.CONTEXT_WINDOW: "max_output_tokens",
    StopReason.CONTENT_FILTER: "content_filter",
}
_HANDLED = ("id", "model", "created_at", "output", "usage")


def stop_reason(status: str | None, incomplete: Any, has_calls: bool, refused: bool) -> str | None:
    """A Responses status (+ ``incomplete_details``) -> core stop reason."""
    if status == "completed":
        return StopReason.TOOL_USE if has_calls else StopReason.REFUSAL if refused else StopReason.END_TURN
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        return INCOMPLETE_STOP.get(reason if isinstance(reason, str) else "", StopReason.MAX_TOKENS)
    if status in ("failed", "cancelled"):
        return StopReason.ERROR
    return None


def parse_usage(raw: Any) -> Usage | None:
    """Responses ``usage`` -> Usage (disjoint buckets); None when absent."""
    if not isinstance(raw, dict):
        return None
    in_details = raw.get("input_tokens_details") if isinstance(raw.get("input_tokens_details"), dict) else {}
    out_details = raw.get("output_tokens_details") if isinstance(raw.get("output_tokens_details"), dict) else {}
    prompt = _int(raw.get("input_tokens"))
    cached = _int(in_details.get("cached_tokens"))
    written = _int(in_details.get("cache_write_tokens"))
    usage = Usage(
        input_tokens=max(prompt - cached - written, 0),
        output_tokens=_int(raw.get("output_tokens")),
        cache_read_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=_int(out_details.get("reasoning_tokens")),
    )
    ext = rest(raw, ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details", "total_tokens"))
    if "input_tokens_details" in raw:
        ext["_in"] = rest(in_details, ("cached_tokens", "cache_write_tokens"))
        if "cache_write_tokens" in in_details:
            ext["_cache_write"] = True
    if "output_tokens_details" in raw:
        ext["_out"] = rest(out_details, ("reasoning_tokens",))
    if raw.get("total_tokens") != usage.total_tokens:
        ext["_total"] = raw.get("total_tokens")
    usage.extensions = ext
    return usage


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def format_usage(usage: Usage, same: bool = False) -> dict[str, Any]:
    """Usage -> Responses ``usage`` (``input_tokens`` includes cache reads and writes)."""
    ext = usage.extensions if same else {}
    in_details: dict[str, Any] = {"cached_tokens": usage.cache_read_tokens}
    if usage.cache_write_tokens or ext.get("_cache_write") or not same:
        in_details["cache_write_tokens"] = usage.cache_write_tokens
    in_details.update(ext.get("_in") or {})
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": in_details,
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens, **(ext.get("_out") or {})},
        "total_tokens": ext.get("_total", usage.total_tokens),
    }
    if same and "_in" not in ext:
        del out["input_tokens_details"]
    if same and "_out" not in ext:
        del out["output_tokens_details"]
    out.update(public(ext))
    return out


def parse_response(body: dict[str, Any]) -> Response:
    """A Responses ``Response`` object -> core Response."""
    rid = body.get("id") if isinstance(body.get("id"), str) else ""
    resp = Response(id=rid, model=body.get("model") if isinstance(body.get("model"), str) else "", protocol=NAME)
    created = body.get("created_at")
    resp.created = created if isinstance(created, int) else None
    content, kept = output_parts(body.get("output"))
    resp.content = content
    ext = rest(body, _HANDLED)
    if kept:
        ext["_output_items"] = kept
    for key in ("id", "model", "created_at", "output"):
        if key not in body:
            ext.setdefault("_absent", []).append(key)
    resp.extensions = ext
    resp.usage = parse_usage(body.get("usage"))
    if "usage" in body and resp.usage is None:
        ext["_usage"] = body["usage"]
    has_calls = any(isinstance(p, ToolCallPart) for p in content)
    refused = bool(content) and all(isinstance(p, TextPart) and p.extensions.get("refusal") for p in content)
    resp.stop_reason = stop_reason(body.get("status"), body.get("incomplete_details"), has_calls, refused)
    return resp


def output_parts(output: Any) -> tuple[list[Part], list[list[Any]]]:
    """Output items -> (parts, [index, item] of items that have no core part)."""
    parts: list[Part] = []
    kept: list[list[Any]] = []
    for i, item in enumerate(output if isinstance(output, list) else []):
        try:
            found = _item_parts(item, f"output[{i}]")
        except RequestError:  # a malformed item from the upstream: keep it as it is
            found = []
        if found:
            parts.extend(found)
        else:
            kept.append([i, item])
    return parts, kept


def _item_parts(item: Any, where: str) -> list[Part]:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind == "message" and isinstance(item.get("content"), list):
        fields = rest(item, ("content",))
        found = [parse_part(raw, "assistant", f"{where}.content[{j}]", []) for j, raw in enumerate(item["content"])]
        for part in found:
            part.extensions["_item"] = fields
        return found
    if kind == "reasoning":
        return [parse_reasoning(item, where)]
    if kind in ("function_call", "custom_tool_call"):
        return [parse_call(item, where)]
    return []


# --- core -> wire ---------------------------------------------------------------------------


def format_response(resp: Response, req: Request) -> dict[str, Any]:
    """A Response (any upstream) -> the Responses ``Response`` object for the client of ``req``."""
    same = resp.protocol == NAME
    rid = resp.id if same else response_id(resp.id, resp.model, resp.created)
    body: dict[str, Any] = {"id": rid, "object": "response", "created_at": resp.created or 0}
    if same:
        body.update(public(resp.extensions))
    else:
        body.update(status_fields(resp.stop_reason))
        body.update(echo(req))
    body["model"] = resp.model
    body["output"] = output_items(resp.content, rid, req, same, resp.extensions.get("_output_items") if same else None)
    if resp.usage is not None:
        body["usage"] = format_usage(resp.usage, same)
    elif same and "_usage" in resp.extensions:
        body["usage"] = resp.extensions["_usage"]
    elif not same:
        body["usage"] = None
    for key in resp.extensions.get("_absent", ()) if same else ():
        body.pop(key, None)
    return body


def status_fields(stop: str | None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """``status``, ``error`` and ``incomplete_details`` for a stop reason."""
    if stop == StopReason.ERROR:
        return {
            "status": "failed",
            "error": error or {"code": "server_error", "message": "the model failed"},
            "incomplete_details": None,
        }
    if stop in STOP_INCOMPLETE:
        return {"status": "incomplete", "error": None, "incomplete_details": {"reason": STOP_INCOMPLETE[stop]}}
    return {"status": "completed", "error": None, "incomplete_details": None}


def echo(req: Request) -> dict[str, Any]:
    """The request settings a Response object repeats (for a response built by the gateway).
    ``previous_response_id`` is also read from ``extensions["_previous_response_id"]``, where a
    server that resolved it itself (and so took it out of the body) puts it."""
    ext = req.extensions if req.protocol == NAME else {}
    same = req.protocol == NAME
    reasoning = build_reasoning_config(req.reasoning, same) if req.reasoning is not None else None
    text = build_text_config(req, same) or {}
    return {
        "background": False,
        "instructions": instructions_text(req.system) if req.system else None,
        "max_output_tokens": req.max_tokens,
        "max_tool_calls": ext.get("max_tool_calls"),
        "parallel_tool_calls": req.parallel_tool_calls if req.parallel_tool_calls is not None else True,
        "previous_response_id": ext.get("previous_response_id") or ext.get("_previous_response_id"),
        "prompt_cache_key": ext.get("prompt_cache_key"),
        "reasoning": {"effort": None, "summary": None, **(reasoning or {})},
        "safety_identifier": ext.get("safety_identifier"),
        "service_tier": ext.get("service_tier") or "default",
        "store": ext.get("store") if isinstance(ext.get("store"), bool) else True,
        "temperature": req.temperature if req.temperature is not None else 1.0,
        "text": {"format": {"type": "text"}, **text},
        "tool_choice": build_tool_choice(req, same) or "auto",
        "tools": build_tool_lists(req, same).get("tools", []),
        "top_p": req.top_p if req.top_p is not None else 1.0,
        "truncation": ext.get("truncation") or "disabled",
        "user": req.user,
        "metadata": req.metadata or {},
    }


def output_items(
    parts: list[Part], rid: str, req: Request, same: bool, kept: list[list[Any]] | None = None
) -> list[dict[str, Any]]:
    """Core parts -> output items (consecutive text parts share one message item)."""
    names = tool_wire_names(req)
    items: list[dict[str, Any]] = []
    message: dict[str, Any] | None = None
    for part in parts:
        if isinstance(part, TextPart):
            fields = part.extensions.get("_item") if same else None
            if message is None or (same and message.get("id") != (fields or {}).get("id")):
                message = message_item(item_id("msg_", rid, len(items)), fields)
                items.append(message)
            message["content"].append(build_part(part, "assistant", same, "output"))
            continue
        message = None
        if isinstance(part, ToolCallPart):
            items.append(call_item(part, rid, len(items), names, same, "completed"))
        elif isinstance(part, ReasoningPart):
            reasoning = reasoning_item(part, item_id("rs_", rid, len(items)), same)
            if reasoning is not None:
                items.append(reasoning)
    for index, item in sorted(kept or [], key=lambda e: e[0]):
        items.insert(min(index, len(items)), item)
    return items


def message_item(minted: str, fields: dict[str, Any] | None = None, status: str = "completed") -> dict[str, Any]:
    if fields is not None:
        return {"type": "message", **fields, "content": []}
    return {"id": minted, "type": "message", "status": status, "content": [], "role": "assistant"}


def call_item(
    part: ToolCallPart, rid: str, index: int, names: dict[str, tuple[str | None, str, bool]], same: bool, status: str
) -> dict[str, Any]:
    """A ToolCallPart -> ``function_call`` / ``custom_tool_call`` output item for the client."""
    if same:
        ext = part.extensions
        namespace = ext.get("namespace")
        name = ext.get("_wire_name") or split_name(part.name, namespace)
        custom = bool(ext.get("_custom"))
        out: dict[str, Any] = {"type": "custom_tool_call" if custom else "function_call"}
        out.update(public(ext))
    else:
        namespace, name, custom = names.get(part.name, (None, part.name, bool(part.extensions.get("_custom"))))
        kind = "custom_tool_call" if custom else "function_call"
        out = {"id": item_id("ctc_" if custom else "fc_", rid, index), "type": kind, "status": status}
    out["call_id"] = part.id
    if namespace and not same:
        out["namespace"] = namespace
    out["name"] = name
    if custom:
        out["input"] = custom_input(part.arguments)
    else:
        out["arguments"] = part.arguments
    return out


def reasoning_item(part: ReasoningPart, minted: str, same: bool) -> dict[str, Any] | None:
    """A ReasoningPart -> ``reasoning`` output item (foreign signatures are not passed on;
    Anthropic redacted thinking has no Responses form)."""
    if part.redacted is not None and not part.text and part.signature_source != NAME:
        return None
    own = part.signature_source == NAME
    if same or own:
        return build_reasoning(part, same, minted)
    return {
        "id": minted,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
    }


def response_usage(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body, read without parsing the rest (same-protocol accounting)."""
    return parse_usage(body.get("usage"))
