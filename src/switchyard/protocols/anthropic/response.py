"""Messages ``message`` objects <-> core Response; usage and stop reasons.

Usage (REFERENCE §6.7): Anthropic ``input_tokens`` already excludes both cache fields, so it maps
straight to core ``input_tokens``; ``cache_read_input_tokens`` / ``cache_creation_input_tokens``
are the cache buckets; ``output_tokens`` includes thinking (``output_tokens_details.
thinking_tokens``, when sent, is the reasoning share).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import (
    ReasoningPart,
    Request,
    Response,
    StopReason,
    TextPart,
    ToolCallPart,
    Usage,
    arguments_object,
    arguments_text,
)
from .request import NAME

STOP_FROM_WIRE: dict[str, str] = {
    "end_turn": StopReason.END_TURN,
    "max_tokens": StopReason.MAX_TOKENS,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "tool_use": StopReason.TOOL_USE,
    "pause_turn": StopReason.PAUSE_TURN,
    "refusal": StopReason.REFUSAL,
    "model_context_window_exceeded": StopReason.CONTEXT_WINDOW,
}
STOP_TO_WIRE: dict[str, str] = {
    StopReason.END_TURN: "end_turn",
    StopReason.MAX_TOKENS: "max_tokens",
    StopReason.STOP_SEQUENCE: "stop_sequence",
    StopReason.TOOL_USE: "tool_use",
    StopReason.PAUSE_TURN: "pause_turn",
    StopReason.REFUSAL: "refusal",
    StopReason.CONTENT_FILTER: "refusal",
    StopReason.CONTEXT_WINDOW: "model_context_window_exceeded",
    StopReason.ERROR: "end_turn",
}


def stop_reason(wire: str | None) -> str | None:
    return None if wire is None else STOP_FROM_WIRE.get(wire, StopReason.END_TURN)


def wire_stop_reason(stop: str | None) -> str | None:
    return None if stop is None else STOP_TO_WIRE.get(stop, "end_turn")


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("output_tokens_details") or {}
    usage = Usage(
        input_tokens=raw.get("input_tokens") or 0,
        output_tokens=raw.get("output_tokens") or 0,
        cache_read_tokens=raw.get("cache_read_input_tokens") or 0,
        cache_write_tokens=raw.get("cache_creation_input_tokens") or 0,
        reasoning_tokens=details.get("thinking_tokens") or 0,
    )
    usage.extensions["_raw"] = raw
    return usage


def format_usage(usage: Usage, native: bool) -> dict[str, Any]:
    raw = usage.extensions.get("_raw")
    if native and isinstance(raw, dict) and parse_usage(raw) == usage:
        return raw
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def parse_content_block(block: dict[str, Any]) -> Any:
    """One response content block -> a core part (unknown blocks ride along opaquely)."""
    kind = block.get("type")
    rest = {
        k: v
        for k, v in block.items()
        if k not in ("type", "text", "thinking", "signature", "data", "id", "name", "input")
    }
    if kind == "text":
        return TextPart(block.get("text") or "", rest)
    if kind == "thinking":
        return ReasoningPart(block.get("thinking") or "", block.get("signature") or None, NAME, extensions=rest)
    if kind == "redacted_thinking":
        return ReasoningPart("", None, NAME, block.get("data") or "", rest)
    if kind == "tool_use":
        return ToolCallPart(
            block.get("id") or "", block.get("name") or "", arguments_text(block.get("input")), extensions=rest
        )
    return TextPart("", {"_block": block})


def parse_response(body: dict[str, Any]) -> Response:
    """An upstream ``message`` -> core Response."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise RequestError("the upstream message has no content")
    resp = Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        content=[parse_content_block(b) for b in body["content"] if isinstance(b, dict)],
        stop_reason=stop_reason(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence"),
        usage=parse_usage(body.get("usage")),
        protocol=NAME,
    )
    resp.extensions = {
        k: v
        for k, v in body.items()
        if k not in ("id", "model", "content", "stop_reason", "stop_sequence", "usage", "type", "role")
    }
    resp.extensions["_stop"] = body.get("stop_reason")
    return resp


def format_block(part: Any, native: bool) -> dict[str, Any] | None:
    """A core part -> a response content block (None: nothing to show)."""
    extra = {k: v for k, v in part.extensions.items() if not k.startswith("_")} if native else {}
    if isinstance(part, TextPart):
        if "_block" in part.extensions:
            return part.extensions["_block"] if native else None
        return {"type": "text", "text": part.text, **extra}
    if isinstance(part, ReasoningPart):
        if part.redacted is not None:
            return (
                {"type": "redacted_thinking", "data": part.redacted, **extra} if part.signature_source == NAME else None
            )
        signature = part.signature if part.signature_source == NAME and part.signature else ""
        return {"type": "thinking", "thinking": part.text, "signature": signature, **extra}
    if isinstance(part, ToolCallPart):
        try:
            arguments = arguments_object(part.arguments)
        except ValueError:
            arguments = {}
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": arguments, **extra}
    return None


def format_response(resp: Response, req: Request) -> dict[str, Any]:
    """Core Response -> ``message`` for a Messages client."""
    native = resp.protocol == NAME
    blocks = [b for b in (format_block(p, native) for p in resp.content) if b is not None]
    stop = resp.extensions.get("_stop") if native and "_stop" in resp.extensions else wire_stop_reason(resp.stop_reason)
    out: dict[str, Any] = {
        "id": resp.id if resp.id.startswith("msg_") or native else f"msg_{resp.id}",
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": resp.stop_sequence,
        "usage": format_usage(resp.usage, native) if resp.usage is not None else format_usage(Usage(), False),
    }
    if native:
        out.update({k: v for k, v in resp.extensions.items() if not k.startswith("_")})
    return out
