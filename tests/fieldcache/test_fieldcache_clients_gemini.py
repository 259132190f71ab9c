"""OpenAI Chat and Anthropic clients -> a Gemini upstream over three turns, with the real codecs:
the client turns are wire bodies parsed by the client protocol's ``parse_request`` (they carry no
thought signatures), the upstream body is built by ``codec("gemini").build_request`` and checked
as a strict Gemini 3 upstream would (400 when a step's first functionCall lacks its signature)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fc_helpers import SCOPE, decode, gemini_strict_error, load, new_cache, raw, record_stream, run, signatures_of

from switchyard.core.events import SignatureDelta
from switchyard.core.model import Request, Response, ToolCallPart
from switchyard.protocols import codec

gemini = codec("gemini")
SUM_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _calls(resp: Response) -> list[ToolCallPart]:
    return [p for p in resp.content if isinstance(p, ToolCallPart)]


def chat_history(turns: list[tuple[str, Any]]) -> dict[str, Any]:
    """An OpenAI Chat request: ("user", text) | ("calls", Response) | ("results", Response)."""
    messages: list[dict[str, Any]] = []
    for kind, value in turns:
        if kind == "user":
            messages.append({"role": "user", "content": value})
        elif kind == "calls":
            calls = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in _calls(value)
            ]
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        else:
            messages += [{"role": "tool", "tool_call_id": c.id, "content": "done"} for c in _calls(value)]
    tools = [
        {"type": "function", "function": {"name": "sum", "parameters": SUM_SCHEMA}},
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}},
    ]
    return {"model": "gemini-3-flash-preview", "messages": messages, "tools": tools}


def anthropic_history(turns: list[tuple[str, Any]]) -> dict[str, Any]:
    """The same conversation as an Anthropic Messages request (what Claude Code sends)."""
    messages: list[dict[str, Any]] = []
    for kind, value in turns:
        if kind == "user":
            messages.append({"role": "user", "content": [{"type": "text", "text": value}]})
        elif kind == "calls":
            blocks = [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": orjson.loads(c.arguments)}
                for c in _calls(value)
            ]
            messages.append({"role": "assistant", "content": blocks})
        else:
            results = [{"type": "tool_result", "tool_use_id": c.id, "content": "done"} for c in _calls(value)]
            messages.append({"role": "user", "content": results})
    tools = [
        {"name": "sum", "input_schema": SUM_SCHEMA},
        {"name": "get_weather", "input_schema": WEATHER_SCHEMA},
    ]
    return {"model": "gemini-3-flash-preview", "max_tokens": 1024, "messages": messages, "tools": tools}


CLIENTS = {"openai_chat": chat_history, "anthropic": anthropic_history}


def parse(client: str, turns: list[tuple[str, Any]]) -> Request:
    return codec(client).parse_request(CLIENTS[client](turns))


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_three_turns_every_function_call_carries_its_signature(client: str) -> None:
    cache = new_cache()

    async def flow() -> None:
        # turn 1: three parallel calls streamed by Gemini 3 (signature on the first)
        events = decode("gemini", raw("gemini/stream_parallel_calls_gemini3.sse"))
        sig1 = next(e.signature for e in events if isinstance(e, SignatureDelta))
        resp1 = await record_stream(cache, "gemini", SCOPE, events)

        # turn 2
        turns = [("user", "Add 2+3, 4+5 and 6+7"), ("calls", resp1), ("results", resp1)]
        req2 = parse(client, turns)
        assert gemini_strict_error(gemini.build_request(req2)) is not None  # without the cache: 400
        body2 = gemini.build_request(await cache.inject(req2, "gemini", SCOPE))
        assert gemini_strict_error(body2) is None
        assert signatures_of(body2) == [("3ae8iwca", sig1)]
        call_parts = [p for p in body2["contents"][1]["parts"] if "functionCall" in p]
        assert [p["functionCall"]["id"] for p in call_parts] == ["3ae8iwca", "up3kf30e", "ycroch25"]

        # Gemini answers with one more call (2.5 shape: no id; the client gets a minted one)
        wire2 = load("gemini/response_tool_call.json")
        sig2 = wire2["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
        resp2 = gemini.parse_response(wire2)
        await cache.record_response(resp2, "gemini", SCOPE)

        # turn 3: both steps signed, parallel calls included, exact values
        req3 = parse(client, [*turns, ("user", "and the weather in London?"), ("calls", resp2), ("results", resp2)])
        body3 = gemini.build_request(await cache.inject(req3, "gemini", SCOPE))
        assert gemini_strict_error(body3) is None
        assert signatures_of(body3) == [("3ae8iwca", sig1), (None, sig2)]

    run(flow())
