"""``chat.completion`` objects <-> core Response, usage and finish reasons.

Usage (REFERENCE §6.7): ``prompt_tokens`` includes cached tokens and ``completion_tokens``
includes reasoning tokens, so core ``input_tokens = prompt_tokens - cached_tokens`` and
``output_tokens = completion_tokens``. Only the first choice is read (``n`` > 1 is refused when
translating). Reasoning text from OpenAI-compatible servers (``reasoning_content`` or
``reasoning``) becomes a ReasoningPart without a signature, and is given to Chat clients as
``reasoning_content``. A refusal becomes a TextPart marked ``refusal``.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.model import ReasoningPart, Request, Response, StopReason, TextPart, ToolCallPart, Usage
from ...core.util import stable_id
from .request import NAME

FINISH_STOP: dict[str, str] = {
    "stop": StopReason.END_TURN,
    "length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "content_filter": StopReason.CONTENT_FILTER,
}
STOP_FINISH: dict[str, str] = {
    StopReason.END_TURN: "stop",
    StopReason.STOP_SEQUENCE: "stop",
    StopReason.PAUSE_TURN: "stop",
    StopReason.MAX_TOKENS: "length",
    StopReason.CONTEXT_WINDOW: "length",
    StopReason.TOOL_USE: "tool_calls",
    StopReason.CONTENT_FILTER: "content_filter",
    StopReason.REFUSAL: "content_filter",
    StopReason.ERROR: "stop",
}
MESSAGE_FIELDS = frozenset({"role", "content", "tool_calls", "refusal", "reasoning_content", "reasoning"})


def stop_reason(finish: str | None) -> str | None:
    if finish is None:
        return None
    return FINISH_STOP.get(finish, StopReason.END_TURN)


def finish_reason(stop: str | None) -> str:
    return STOP_FINISH.get(stop or StopReason.END_TURN, "stop")


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = raw.get("prompt_tokens") or 0
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") or 0
    usage = Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=raw.get("completion_tokens") or 0,
        cache_read_tokens=cached,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )
    usage.extensions["_raw"] = raw
    return usage


def format_usage(usage: Usage, native: bool) -> dict[str, Any]:
    out = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    raw = usage.extensions.get("_raw")
    if native and isinstance(raw, dict) and parse_usage(raw) == usage:
        return raw
    return out


def parse_response(body: dict[str, Any]) -> Response:
    """An upstream ``chat.completion`` -> core Response."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RequestError("the upstream chat completion has no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    rid = str(body.get("id") or "")
    content: list = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(ReasoningPart(reasoning))
    if isinstance(message.get("content"), str):
        content.append(TextPart(message["content"]))
    if isinstance(message.get("refusal"), str):
        content.append(TextPart(message["refusal"], {"refusal": True}))
    for i, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        extra = {k: v for k, v in call.items() if k not in ("id", "type", "function")}
        content.append(
            ToolCallPart(
                call.get("id") or stable_id("call_", rid, i),
                function.get("name", ""),
                function.get("arguments") or "",
                extensions=extra,
            )
        )
    resp = Response(
        id=rid,
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=stop_reason(choice.get("finish_reason")),
        usage=parse_usage(body.get("usage")),
        created=body.get("created"),
        protocol=NAME,
    )
    resp.extensions = {
        k: v for k, v in body.items() if k not in ("id", "model", "choices", "usage", "created", "object")
    }
    resp.extensions["_choice"] = {k: v for k, v in choice.items() if k not in ("message", "finish_reason", "index")}
    resp.extensions["_message"] = {k: v for k, v in message.items() if k not in MESSAGE_FIELDS}
    resp.extensions["_finish"] = choice.get("finish_reason")
    if "content" in message and message["content"] is None:
        resp.extensions["_null_content"] = True
    if "refusal" in message and message["refusal"] is None:
        resp.extensions["_null_refusal"] = True
    return resp


def format_response(resp: Response, req: Request) -> dict[str, Any]:
    """Core Response -> ``chat.completion`` for a Chat client."""
    native = resp.protocol == NAME
    texts = [p for p in resp.content if isinstance(p, TextPart) and not p.extensions.get("refusal")]
    refusals = [p for p in resp.content if isinstance(p, TextPart) and p.extensions.get("refusal")]
    reasoning = "".join(p.text for p in resp.content if isinstance(p, ReasoningPart))
    calls = [p for p in resp.content if isinstance(p, ToolCallPart)]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(p.text for p in texts) if texts else None}
    if refusals or (native and resp.extensions.get("_null_refusal")) or not native:
        message["refusal"] = refusals[0].text if refusals else None
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
                **(c.extensions if native else {}),
            }
            for c in calls
        ]
    finish = (
        resp.extensions.get("_finish")
        if native and resp.extensions.get("_finish") is not None
        else finish_reason(resp.stop_reason)
    )
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
    if native:
        message.update(resp.extensions.get("_message") or {})
        choice.update(resp.extensions.get("_choice") or {})
    else:
        message["annotations"] = []
        choice["logprobs"] = None
    out: dict[str, Any] = {
        "id": resp.id if resp.id.startswith("chatcmpl") or native else f"chatcmpl-{resp.id}",
        "object": "chat.completion",
        "created": resp.created or 0,
        "model": resp.model,
        "choices": [choice],
    }
    if resp.usage is not None:
        out["usage"] = format_usage(resp.usage, native)
    if native:
        out.update({k: v for k, v in resp.extensions.items() if not k.startswith("_")})
    return out


def response_usage(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body, read without parsing the rest (same-protocol accounting)."""
    return parse_usage(body.get("usage"))
