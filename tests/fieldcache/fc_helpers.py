"""Shared helpers for the field-cache tests: fixtures (copied from the shared transcripts, see
fixtures/README.md), stream decoding through the real codecs, and a strict-upstream check."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import orjson

from switchyard.core import SSEDecoder
from switchyard.core.events import Event
from switchyard.core.model import Message, Request, Response
from switchyard.fieldcache import FieldCache, Scope, builtin_rules
from switchyard.protocols import codec
from switchyard.store import KVStore, MemoryKVStore

FIXTURES = Path(__file__).parent / "fixtures"
T = TypeVar("T")

SCOPE = Scope(provider="upstream-a", model="model-x", key_id="key-1", session="session-1")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def new_cache(kv: KVStore | None = None, *protocols: str, ttl: float = 3600) -> FieldCache:
    return FieldCache(kv if kv is not None else MemoryKVStore(), builtin_rules(*protocols), ttl=ttl)


def decode(protocol: str, data: bytes) -> list[Event]:
    """Upstream SSE bytes -> core events through the protocol's real StreamDecoder."""
    sse = SSEDecoder()
    dec = codec(protocol).StreamDecoder()
    events: list[Event] = []
    for frame in sse.feed(data) + sse.flush():
        events += dec.feed(frame)
    return events + dec.finish()


async def record_stream(cache: FieldCache, protocol: str, scope: Scope, events: list[Event]) -> Response:
    rec = cache.stream_recorder(protocol, scope)
    for event in events:
        rec.feed(event)
    await rec.finish()
    return rec.response()


def assistant_turn(resp: Response) -> Message:
    """The assistant message a client would send back for ``resp`` when its protocol keeps
    nothing but text and tool calls (what an OpenAI Chat client does)."""
    from switchyard.core.model import TextPart, ToolCallPart

    parts = [
        TextPart(p.text) if isinstance(p, TextPart) else ToolCallPart(p.id, p.name, p.arguments)
        for p in resp.content
        if (isinstance(p, TextPart) and p.text and "_raw_part" not in p.extensions) or isinstance(p, ToolCallPart)
    ]
    return Message("assistant", parts)


def deep_copy(req: Request) -> Request:
    from switchyard.fieldcache import from_json, to_json

    return from_json(to_json(req))


def gemini_strict_error(body: dict[str, Any]) -> dict[str, Any] | None:
    """What a strict Gemini 3 upstream answers: the 400 of
    fixtures/gemini/error_400_missing_thought_signature.json when the first ``functionCall`` part
    of a model step comes without its ``thoughtSignature``; None when the body passes."""
    for i, content in enumerate(body.get("contents", [])):
        if content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if calls and not calls[0].get("thoughtSignature"):
            error = load("gemini/error_400_missing_thought_signature.json")["body"]
            name = calls[0]["functionCall"]["name"]
            error["error"]["message"] = (
                f"Function call `{name}` in the `{i}.` content block is missing a `thought_signature`. "
                "Learn more: https://ai.google.dev/gemini-api/docs/thought-signatures"
            )
            return error
    return None


def signatures_of(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(function-call id or the text it rode on, signature) for every signed part of every
    model content of a Gemini body, in order."""
    out = []
    for content in body.get("contents", []):
        if content.get("role") != "model":
            continue
        for part in content.get("parts", []):
            if part.get("thoughtSignature"):
                key = part["functionCall"].get("id") if "functionCall" in part else part.get("text", "")
                out.append((key, part["thoughtSignature"]))
    return out
