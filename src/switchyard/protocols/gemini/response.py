"""Gemini ``GenerateContentResponse`` <-> core Response, and usage.

- Only ``candidates[0]`` becomes the Response (``candidateCount`` > 1 is native_only in the
  request; further candidates are kept in ``extensions["_more_candidates"]`` for Gemini clients).
- Function calls without ``id`` get ids minted from the response id and the call's ordinal (the
  stream decoder mints the same ones).
- Finish reasons: see :data:`FINISH_STOP`. ``STOP`` is ``end_turn`` unless the answer holds
  function calls (``tool_use``); the tool-call faults ``MALFORMED_FUNCTION_CALL``,
  ``UNEXPECTED_TOOL_CALL`` and ``TOO_MANY_TOOL_CALLS`` are ``end_turn`` with the raw reason kept
  in ``extensions["finishReason"]`` (as for every reason). A blocked prompt (no candidates,
  ``promptFeedback.blockReason``) is ``content_filter``.
- Usage (REFERENCE §6.7): input = prompt + toolUsePrompt - cached; cache_read = cached; output =
  candidates + thoughts; reasoning = thoughts. Other usage fields stay in ``Usage.extensions``.
"""

from __future__ import annotations

from typing import Any

from ...core.model import Part, Request, Response, StopReason, ToolCallPart, Usage
from .parts import build_part, parse_part
from .wire import NAME, mint_call_id, normalized, public

FINISH_STOP: dict[str, str] = {
    "STOP": StopReason.END_TURN,
    "MAX_TOKENS": StopReason.MAX_TOKENS,
    "SAFETY": StopReason.CONTENT_FILTER,
    "RECITATION": StopReason.CONTENT_FILTER,
    "BLOCKLIST": StopReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": StopReason.CONTENT_FILTER,
    "SPII": StopReason.CONTENT_FILTER,
    "IMAGE_SAFETY": StopReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": StopReason.CONTENT_FILTER,
    "IMAGE_RECITATION": StopReason.CONTENT_FILTER,
    "IMAGE_OTHER": StopReason.CONTENT_FILTER,
    "NO_IMAGE": StopReason.CONTENT_FILTER,
    "MALFORMED_FUNCTION_CALL": StopReason.END_TURN,
    "UNEXPECTED_TOOL_CALL": StopReason.END_TURN,
    "TOO_MANY_TOOL_CALLS": StopReason.END_TURN,
    "LANGUAGE": StopReason.END_TURN,
    "OTHER": StopReason.END_TURN,
    "FINISH_REASON_UNSPECIFIED": StopReason.END_TURN,
}

STOP_FINISH: dict[str, str] = {
    StopReason.END_TURN: "STOP",
    StopReason.STOP_SEQUENCE: "STOP",
    StopReason.TOOL_USE: "STOP",
    StopReason.PAUSE_TURN: "STOP",
    StopReason.MAX_TOKENS: "MAX_TOKENS",
    StopReason.CONTEXT_WINDOW: "MAX_TOKENS",
    StopReason.CONTENT_FILTER: "SAFETY",
    StopReason.REFUSAL: "SAFETY",
    StopReason.ERROR: "OTHER",
}

_COUNTS = ("promptTokenCount", "cachedContentTokenCount", "candidatesTokenCount", "thoughtsTokenCount")


def stop_reason(finish: str | None, has_calls: bool) -> str | None:
    """A Gemini finishReason -> core stop reason (None when absent)."""
    if finish is None:
        return None
    if finish == "STOP" and has_calls:
        return StopReason.TOOL_USE
    if finish.startswith("IMAGE_"):
        return StopReason.CONTENT_FILTER
    return FINISH_STOP.get(finish, StopReason.END_TURN)


def finish_reason(stop: str | None) -> str:
    return STOP_FINISH.get(stop or StopReason.END_TURN, "STOP")


def parse_usage(raw: Any) -> Usage | None:
    """``usageMetadata`` -> Usage (disjoint buckets); None when absent."""
    if not isinstance(raw, dict):
        return None
    um = normalized(raw)
    prompt = _int(um.get("promptTokenCount"))
    tool_prompt = _int(um.get("toolUsePromptTokenCount"))
    cached = _int(um.get("cachedContentTokenCount"))
    thoughts = _int(um.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=max(prompt + tool_prompt - cached, 0),
        output_tokens=_int(um.get("candidatesTokenCount")) + thoughts,
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
        extensions={k: v for k, v in um.items() if k not in _COUNTS},
    )


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():  # int64 fields may arrive as strings
        return int(value)
    return 0


def format_usage(usage: Usage, same: bool = False) -> dict[str, Any]:
    """Usage -> ``usageMetadata`` (prompt total, cached, candidates = output - reasoning, thoughts,
    total). ``same``: the usage came from Gemini, so ``toolUsePromptTokenCount`` is split out of
    the prompt again and the other Gemini usage fields are restored."""
    ext = usage.extensions if same else {}
    tool_prompt = _int(ext.get("toolUsePromptTokenCount"))
    out: dict[str, Any] = {"promptTokenCount": usage.prompt_tokens - tool_prompt}
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    out["candidatesTokenCount"] = usage.output_tokens - usage.reasoning_tokens
    out["totalTokenCount"] = usage.total_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    out.update(ext)
    return out


def parse_response(body: dict[str, Any]) -> Response:
    """A Gemini generateContent response body -> Response."""
    b = normalized(body)
    rid = b.get("responseId") if isinstance(b.get("responseId"), str) else ""
    resp = Response(id=rid, model=b.get("modelVersion") or "", stop_reason=None, protocol=NAME)
    resp.extensions = {
        k: v for k, v in b.items() if k not in ("candidates", "usageMetadata", "responseId", "modelVersion")
    }
    if "responseId" not in b:
        resp.extensions["_no_id"] = True
    resp.usage = parse_usage(b.get("usageMetadata"))
    candidates = b.get("candidates") if isinstance(b.get("candidates"), list) else []
    if not candidates:
        resp.extensions["_no_candidates"] = True
        feedback = b.get("promptFeedback")
        blocked = isinstance(feedback, dict) and bool(normalized(feedback).get("blockReason"))
        resp.stop_reason = StopReason.CONTENT_FILTER if blocked else StopReason.END_TURN
        return resp
    if len(candidates) > 1:
        resp.extensions["_more_candidates"] = candidates[1:]
    cand = normalized(candidates[0]) if isinstance(candidates[0], dict) else {}
    content = cand.get("content")
    content = normalized(content) if isinstance(content, dict) else None
    resp.content = _parse_parts(content.get("parts") if content else None, rid)
    has_calls = any(isinstance(p, ToolCallPart) for p in resp.content)
    finish = cand.get("finishReason") if isinstance(cand.get("finishReason"), str) else None
    resp.stop_reason = stop_reason(finish, has_calls)
    if finish is not None:
        resp.extensions["finishReason"] = finish
    resp.extensions["_candidate"] = {k: v for k, v in cand.items() if k not in ("content", "finishReason")}
    resp.extensions["_content"] = (
        None if content is None else {k: v for k, v in content.items() if k != "parts"} | {"_parts": "parts" in content}
    )
    return resp


def _parse_parts(raw: Any, rid: str) -> list[Part]:
    parts: list[Part] = []
    calls = 0
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        part = parse_part(item, f"candidates[0].content.parts[{i}]", model_side=True)
        if isinstance(part, ToolCallPart):
            if not part.id:
                part.id = mint_call_id(rid, calls)
            calls += 1
        parts.append(part)
    return parts


def format_response(resp: Response, req: Request) -> dict[str, Any]:
    """Response -> Gemini generateContent response body for the client."""
    same = resp.protocol == NAME
    ext = resp.extensions if same else {}
    out: dict[str, Any] = {}
    if not ext.get("_no_candidates"):
        include = bool(req.reasoning and req.reasoning.include_thoughts)
        parts = []
        for i, part in enumerate(resp.content):
            built = build_part(part, same, f"content[{i}]", include_thoughts=include, strict_args=False)
            if built is not None:
                parts.append(built)
        out["candidates"] = [_candidate(resp, parts, ext), *(ext.get("_more_candidates") or [])]
    if resp.usage is not None:
        out["usageMetadata"] = format_usage(resp.usage, same)
    out["modelVersion"] = resp.model
    if resp.id or not ext.get("_no_id"):
        out["responseId"] = resp.id
    out.update(public(ext))
    out.pop("finishReason", None)
    return out


def _candidate(resp: Response, parts: list[dict[str, Any]], ext: dict[str, Any]) -> dict[str, Any]:
    content_ext = ext.get("_content", {}) if "_content" in ext else {}
    cand: dict[str, Any] = {}
    if content_ext is not None:
        content: dict[str, Any] = {k: v for k, v in content_ext.items() if k != "_parts"}
        if parts or content_ext.get("_parts", True):
            content["parts"] = parts
        cand["content"] = content if "_content" in ext else {"parts": parts, "role": "model"}
    raw_finish = ext.get("finishReason")
    if raw_finish is not None and stop_reason(raw_finish, _has_calls(resp)) == resp.stop_reason:
        cand["finishReason"] = raw_finish
    elif resp.stop_reason is not None or "_candidate" not in ext:
        cand["finishReason"] = finish_reason(resp.stop_reason)
    if "_candidate" in ext:
        cand.update(ext["_candidate"])
    else:
        cand["index"] = 0
    return cand


def _has_calls(resp: Response) -> bool:
    return any(isinstance(p, ToolCallPart) for p in resp.content)


def response_usage(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body, read without parsing the rest (same-protocol accounting)."""
    return parse_usage(normalized(body).get("usageMetadata"))
