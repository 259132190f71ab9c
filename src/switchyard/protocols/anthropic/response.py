"""Messages ``message`` objects <-> core Response; usage and stop reasons.

Content: ``text``, ``thinking``, ``redacted_thinking`` and ``tool_use`` blocks -> core parts
(:mod:`.blocks`). Blocks the core does not model (``server_tool_use``, ``web_search_tool_result``,
code-execution results, ``container_upload`` ...) are server-side traces of the answer: they stay
in ``Response.extensions["_blocks"]`` as ``[position, block]`` pairs, so a Messages client of an
Anthropic upstream gets them back in place and clients of other protocols never see them (the
answer's text, which cites them, is in the text parts).

Usage (REFERENCE §6.7): Anthropic ``input_tokens`` already excludes both cache fields, so it maps
straight to core ``input_tokens``; ``cache_read_input_tokens`` -> ``cache_read_tokens``,
``cache_creation_input_tokens`` -> ``cache_write_tokens``; ``output_tokens`` includes thinking and
``output_tokens_details.thinking_tokens`` (when sent) -> ``reasoning_tokens``. The wire object is
kept in ``Usage.extensions["_anthropic"]``: the ``cache_creation`` TTL breakdown,
``service_tier``, ``inference_geo``, ``server_tool_use`` go back to Messages clients unchanged.
Usage from other protocols is written with the four counters (all present, 0 when unknown) and
``output_tokens_details.thinking_tokens`` when reasoning was counted.

Stop reasons: :data:`STOP_FROM_WIRE` / :data:`STOP_TO_WIRE`. An answer of another protocol that
holds tool calls but says it ended normally is reported as ``tool_use``.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import ErrorKind, GatewayError, RequestError
from ...core.model import ReasoningPart, Request, Response, StopReason, TextPart, ToolCallPart, Usage
from ...core.util import stable_id
from .blocks import build_block, parse_block, tool_input
from .wire import NAME, public

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
MODELED_BLOCKS = ("text", "thinking", "redacted_thinking", "tool_use")
_COUNTERS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
_TOP_LEVEL = ("id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage")


def stop_reason(wire: Any) -> str | None:
    """A wire ``stop_reason`` -> core (unknown values read as a normal end)."""
    if wire is None:
        return None
    return STOP_FROM_WIRE.get(wire, StopReason.END_TURN) if isinstance(wire, str) else StopReason.END_TURN


def wire_stop_reason(stop: str | None) -> str | None:
    return None if stop is None else STOP_TO_WIRE.get(stop, "end_turn")


# ----------------------------------------------------------------------------------------- usage


def parse_usage(raw: Any) -> Usage | None:
    """A wire usage object -> core Usage (None when there is none)."""
    if not isinstance(raw, dict):
        return None
    details = raw.get("output_tokens_details")
    usage = Usage(
        input_tokens=_count(raw.get("input_tokens")),
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_tokens=_count(raw.get("cache_read_input_tokens")),
        cache_write_tokens=_count(raw.get("cache_creation_input_tokens")),
        reasoning_tokens=_count(details.get("thinking_tokens")) if isinstance(details, dict) else 0,
    )
    usage.extensions["_anthropic"] = raw
    return usage


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _counters(usage: Usage) -> tuple[int, ...]:
    return (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )


def format_usage(usage: Usage | None) -> dict[str, Any]:
    """Core usage -> the wire object (the upstream's own object when it came from Anthropic)."""
    usage = usage if usage is not None else Usage()
    raw = usage.extensions.get("_anthropic")
    if isinstance(raw, dict):
        parsed = parse_usage(raw)
        if parsed is not None and _counters(parsed) == _counters(usage):
            return dict(raw)
    out: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if isinstance(raw, dict):  # counters changed on the way: keep the descriptive fields only
        out.update({k: v for k, v in raw.items() if k not in (*_COUNTERS, "cache_creation", "output_tokens_details")})
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


# -------------------------------------------------------------------------------------- responses


def parse_response(body: dict[str, Any]) -> Response:
    """An upstream ``message`` -> core Response (GatewayError 502 when it is malformed)."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise GatewayError(ErrorKind.SERVER, "the upstream message has no content list", status=502)
    parts = []
    opaque: list[list[Any]] = []
    for i, block in enumerate(body["content"]):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in MODELED_BLOCKS:
            opaque.append([i, block])
            continue
        try:
            parts.append(parse_block(block, f"content[{i}]"))
        except RequestError as exc:
            raise GatewayError(
                ErrorKind.SERVER, f"the upstream message is malformed: {exc.message}", status=502
            ) from None
    wire_stop = body.get("stop_reason")
    resp = Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        content=parts,
        stop_reason=stop_reason(wire_stop),
        stop_sequence=body.get("stop_sequence") if isinstance(body.get("stop_sequence"), str) else None,
        usage=parse_usage(body.get("usage")),
        protocol=NAME,
        extensions={k: v for k, v in body.items() if k not in _TOP_LEVEL},
    )
    if opaque:
        resp.extensions["_blocks"] = opaque
    if wire_stop is not None and wire_stop not in STOP_FROM_WIRE:
        resp.extensions["_stop"] = wire_stop
    for key in ("stop_sequence", "usage"):
        if key not in body:
            resp.extensions.setdefault("_absent", []).append(key)
    return resp


def format_block(part: Any, native: bool) -> dict[str, Any] | None:
    """A core part -> a response content block (None: nothing a Messages client can use)."""
    if native:
        return build_block(part, True, "content")
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ReasoningPart):
        if part.signature_source == NAME and (part.signature or part.redacted is not None):
            return build_block(part, False, "content")
        if part.redacted is not None or not part.text:
            return None  # another provider's opaque state: nothing to show
        return {"type": "thinking", "thinking": part.text, "signature": ""}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": tool_input(part.arguments)}
    return None


def format_response(resp: Response, req: Request) -> dict[str, Any]:
    """Core Response -> ``message`` for a Messages client."""
    native = resp.protocol == NAME
    blocks = [b for b in (format_block(p, native) for p in resp.content) if b is not None]
    if native:
        for position, block in resp.extensions.get("_blocks") or ():
            blocks.insert(min(position, len(blocks)), block)
        stop = resp.extensions.get("_stop", wire_stop_reason(resp.stop_reason))
    else:
        stop = wire_stop_reason(resp.stop_reason) or "end_turn"
        if stop == "end_turn" and any(b["type"] == "tool_use" for b in blocks):
            stop = "tool_use"
    rid = resp.id or stable_id("msg_", resp.model, len(resp.content))
    out: dict[str, Any] = {
        "id": rid if native or rid.startswith("msg_") else f"msg_{rid}",
        "type": "message",
        "role": "assistant",
        "model": resp.model or req.model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": resp.stop_sequence,
        "usage": format_usage(resp.usage),
    }
    if native:
        for key in resp.extensions.get("_absent") or ():
            out.pop(key, None)
        out.update(public(resp.extensions))
    return out


def response_usage(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body, read without parsing the rest (same-protocol accounting)."""
    return parse_usage(body.get("usage"))
