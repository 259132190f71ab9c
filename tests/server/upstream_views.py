"""What an upstream received, read protocol by protocol (independently of the codecs): model,
credential, system prompt, user text, tool names, tool results, stream flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from mock_upstreams import Recorded


@dataclass
class UpstreamView:
    model: str
    key: str | None
    stream: bool
    system: str = ""
    user_text: str = ""
    tools: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    body: Any = None


def _text(content: Any) -> str:
    """Text of a string or a list of typed parts/blocks (text, input_text, output_text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and "text" in p)
    return ""


def view(protocol: str, rec: Recorded) -> UpstreamView:
    return VIEWS[protocol](rec)


def _chat(rec: Recorded) -> UpstreamView:
    body = rec.json
    auth = rec.headers.get("authorization", "")
    v = UpstreamView(body.get("model"), auth.removeprefix("Bearer ") or None, body.get("stream") is True, body=body)
    for m in body.get("messages", []):
        if m["role"] in ("system", "developer"):
            v.system += _text(m.get("content")) + "\n"
        elif m["role"] == "user":
            v.user_text += _text(m.get("content")) + "\n"
        elif m["role"] == "tool":
            v.results.append(_text(m.get("content")))
        elif m["role"] == "assistant":
            v.calls += [c["function"]["name"] for c in m.get("tool_calls") or []]
    v.tools = [t["function"]["name"] for t in body.get("tools", []) if t.get("type") == "function"]
    return v


def _responses(rec: Recorded) -> UpstreamView:
    body = rec.json
    auth = rec.headers.get("authorization", "")
    v = UpstreamView(body.get("model"), auth.removeprefix("Bearer ") or None, body.get("stream") is True, body=body)
    v.system = (body.get("instructions") or "") + "\n"
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    for item in items or []:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in ("system", "developer"):
            v.system += _text(item.get("content")) + "\n"
        elif kind == "message" and item.get("role") == "user":
            v.user_text += _text(item.get("content")) + "\n"
        elif kind == "function_call_output":
            v.results.append(_text(item.get("output")))
        elif kind == "function_call":
            v.calls.append(item["name"])
    v.tools = [t["name"] for t in body.get("tools", []) if t.get("type") == "function"]
    return v


def _anthropic(rec: Recorded) -> UpstreamView:
    body = rec.json
    v = UpstreamView(body.get("model"), rec.headers.get("x-api-key"), body.get("stream") is True, body=body)
    v.system = _text(body.get("system"))
    for m in body.get("messages", []):
        content = m.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for b in blocks:
            if b.get("type") == "tool_result":
                v.results.append(_text(b.get("content")))
            elif b.get("type") == "tool_use":
                v.calls.append(b["name"])
            elif b.get("type") == "text" and m["role"] == "user":
                v.user_text += b.get("text", "") + "\n"
    v.tools = [t["name"] for t in body.get("tools", [])]
    return v


def _gemini(rec: Recorded) -> UpstreamView:
    body = rec.json
    path = rec.path.removeprefix("/v1beta/models/")
    model, _, verb = path.rpartition(":")
    v = UpstreamView(model, rec.headers.get("x-goog-api-key"), verb == "streamGenerateContent", body=body)
    system = body.get("systemInstruction") or body.get("system_instruction") or {}
    v.system = _text(system.get("parts"))
    for c in body.get("contents", []):
        for p in c.get("parts", []):
            if "functionResponse" in p:
                v.results.append(orjson.dumps(p["functionResponse"].get("response")).decode())
            elif "functionCall" in p:
                v.calls.append(p["functionCall"]["name"])
            elif "text" in p and c.get("role") == "user":
                v.user_text += p["text"] + "\n"
    for tool in body.get("tools", []):
        v.tools += [d["name"] for d in tool.get("functionDeclarations", tool.get("function_declarations", []))]
    return v


VIEWS = {"openai_chat": _chat, "openai_responses": _responses, "anthropic": _anthropic, "gemini": _gemini}
