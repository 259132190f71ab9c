"""Anthropic thinking signatures through an OpenAI Chat client, with the real codecs: the
upstream answers are parsed by ``codec("anthropic")``, the client's turns by
``codec("openai_chat").parse_request`` (they carry no thinking), the upstream body is built by
``codec("anthropic").build_request``.

No recorded transcript has thinking followed by a tool call in one answer, so
:func:`thinking_then_call` and :func:`thinking_then_call_stream` assemble them from real pieces:
the thinking block of fixtures/anthropic/response_thinking.json (derived from the real
stream_thinking.sse) and the tool_use of response_tool_call.json; for streams the thinking events
of stream_thinking.sse and the tool_use events of stream_tool_use.sse (block index renumbered).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from fc_helpers import SCOPE, decode, deep_copy, load, new_cache, raw, record_stream, run

from switchyard.core.model import ReasoningPart, Response, ToolCallPart
from switchyard.fieldcache import to_json
from switchyard.protocols import codec

anthropic = codec("anthropic")
chat = codec("openai_chat")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
        },
    }
]


def thinking_block() -> dict[str, Any]:
    return load("anthropic/response_thinking.json")["content"][0]


def thinking_then_call() -> dict[str, Any]:
    body = load("anthropic/response_tool_call.json")
    body["content"] = [thinking_block(), *body["content"]]
    return body


def _sse(name: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw(name).split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"event" in lines:
            out.append((lines[b"event"].decode(), orjson.loads(lines[b"data"])))
    return out


def thinking_then_call_stream() -> bytes:
    thinking = _sse("anthropic/stream_thinking.sse")
    tool = _sse("anthropic/stream_tool_use.sse")
    frames = [f for f in thinking if f[0] in ("message_start", "ping") or f[1].get("index") == 0]
    for event, data in tool:
        if event.startswith("content_block"):
            data = copy.deepcopy(data)
            data["index"] += 1
            frames.append((event, data))
        elif event in ("message_delta", "message_stop"):
            frames.append((event, data))
    return b"".join(b"event: " + e.encode() + b"\ndata: " + orjson.dumps(d) + b"\n\n" for e, d in frames)


def strict_anthropic_error(body: dict[str, Any]) -> dict[str, Any] | None:
    """What Anthropic answers when thinking is on, tools are used, and the last assistant message
    does not start with a thinking block (REFERENCE §6.5, §8 item 6)."""
    if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
        return None
    assistants = [(i, m) for i, m in enumerate(body["messages"]) if m["role"] == "assistant"]
    if not assistants:
        return None
    i, last = assistants[-1]
    blocks = last["content"] if isinstance(last["content"], list) else [{"type": "text"}]
    uses_tools = any(b.get("type") == "tool_use" for b in blocks)
    if uses_tools and blocks[0].get("type") not in ("thinking", "redacted_thinking"):
        return {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                f"but found `{blocks[0].get('type')}`. When `thinking` is enabled, a final `assistant` "
                "message must start with a thinking block.",
            },
        }
    return None


def client_turn(resp: Response) -> dict[str, Any]:
    """The assistant message an OpenAI Chat client sends back for ``resp`` (after the gateway
    formatted it): content text and tool calls, no thinking."""
    text = "".join(p.text for p in resp.content if p.kind == "text")
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in resp.content
        if isinstance(p, ToolCallPart)
    ]
    return {"role": "assistant", "content": text or None, "tool_calls": calls}


def chat_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "reasoning_effort": "low", "tools": TOOLS, "messages": messages}


def test_three_turns_openai_chat_client_to_anthropic() -> None:
    cache = new_cache()
    first_thinking = thinking_block()

    async def flow() -> None:
        user = {"role": "user", "content": "What's the weather in San Francisco?"}
        req1 = chat.parse_request(chat_body([user]))
        assert await cache.inject(req1, "anthropic", SCOPE) is req1
        resp1 = anthropic.parse_response(thinking_then_call())
        await cache.record_response(resp1, "anthropic", SCOPE)

        # turn 2: the client's history has no thinking; the upstream gets the block back
        turn1 = client_turn(resp1)
        history = [user, turn1, {"role": "tool", "tool_call_id": turn1["tool_calls"][0]["id"], "content": "64F"}]
        req2 = chat.parse_request(chat_body(history))
        # without the cache the codec can only turn thinking off for this tool loop (REFERENCE §6.5)
        assert "thinking" not in anthropic.build_request(req2)
        snapshot = to_json(req2)
        body2 = anthropic.build_request(await cache.inject(req2, "anthropic", SCOPE))
        assert to_json(req2) == snapshot
        assert body2["thinking"]["type"] == "enabled"
        assert strict_anthropic_error(body2) is None
        assistant = next(m for m in body2["messages"] if m["role"] == "assistant")
        assert assistant["content"][0] == {
            "type": "thinking",
            "thinking": first_thinking["thinking"],
            "signature": first_thinking["signature"],
        }
        assert assistant["content"][1]["type"] == "tool_use"
        stripped = copy.deepcopy(body2)
        next(m for m in stripped["messages"] if m["role"] == "assistant")["content"].pop(0)
        assert strict_anthropic_error(stripped) is not None  # the strict upstream would answer 400

        # the upstream streams another thinking block and call
        events = decode("anthropic", thinking_then_call_stream())
        resp2 = await record_stream(cache, "anthropic", SCOPE, events)
        second = next(p for p in resp2.content if isinstance(p, ReasoningPart))
        assert second.signature and second.signature_source == "anthropic"

        # turn 3: both assistant turns start with their own exact thinking blocks
        turn2 = client_turn(resp2)
        history3 = [*history, turn2, {"role": "tool", "tool_call_id": turn2["tool_calls"][0]["id"], "content": "61F"}]
        req3 = chat.parse_request(chat_body(history3))
        body3 = anthropic.build_request(await cache.inject(req3, "anthropic", SCOPE))
        assert body3["thinking"]["type"] == "enabled"
        assert strict_anthropic_error(body3) is None
        assistants = [m for m in body3["messages"] if m["role"] == "assistant"]
        assert [a["content"][0]["signature"] for a in assistants] == [first_thinking["signature"], second.signature]
        assert assistants[1]["content"][0]["thinking"] == second.text

    run(flow())


def test_redacted_thinking_is_kept_in_order() -> None:
    cache = new_cache()
    body = thinking_then_call()
    body["content"].insert(0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"})

    async def flow() -> None:
        resp = anthropic.parse_response(body)
        await cache.record_response(resp, "anthropic", SCOPE)
        turn = client_turn(resp)
        req = chat.parse_request(
            chat_body(
                [
                    {"role": "user", "content": "weather?"},
                    turn,
                    {"role": "tool", "tool_call_id": turn["tool_calls"][0]["id"], "content": "64F"},
                ]
            )
        )
        out = anthropic.build_request(await cache.inject(req, "anthropic", SCOPE))
        blocks = next(m for m in out["messages"] if m["role"] == "assistant")["content"]
        assert [b["type"] for b in blocks] == ["redacted_thinking", "thinking", "tool_use"]
        assert blocks[0]["data"] == "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"

    run(flow())


def test_parallel_calls_get_the_block_once() -> None:
    cache = new_cache()
    body = load("anthropic/response_parallel_tool_use.json")
    body["content"] = [thinking_block(), *body["content"]]

    async def flow() -> None:
        resp = anthropic.parse_response(body)
        await cache.record_response(resp, "anthropic", SCOPE)
        turn = client_turn(resp)
        results = [{"role": "tool", "tool_call_id": c["id"], "content": "ok"} for c in turn["tool_calls"]]
        req = chat.parse_request(chat_body([{"role": "user", "content": "twice"}, turn, *results]))
        out = anthropic.build_request(await cache.inject(req, "anthropic", SCOPE))
        blocks = next(m for m in out["messages"] if m["role"] == "assistant")["content"]
        assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use", "tool_use"]

    run(flow())


def test_anthropic_client_sending_thinking_back_is_left_untouched() -> None:
    """Same protocol: the client replays its thinking blocks; nothing is injected twice."""
    cache = new_cache()
    wire = load("anthropic/request_thinking_tool_loop.json")
    req = anthropic.parse_request(wire)

    async def flow() -> None:
        for msg in deep_copy(req).messages:
            if msg.role == "assistant":
                await cache.record_response(Response("msg", "claude", msg.content), "anthropic", SCOPE)
        assert len(cache.kv) > 0  # type: ignore[arg-type]
        out = await cache.inject(req, "anthropic", SCOPE)
        assert out == req
        assert anthropic.build_request(out) == anthropic.build_request(req)

    run(flow())


def test_stream_recorder_matches_parse_response() -> None:
    """stream_thinking.sse through the decoder and the recorder gives the same reasoning part as
    parse_response of response_thinking.json (derived from that stream)."""
    events = decode("anthropic", raw("anthropic/stream_thinking.sse"))
    rec = new_cache().stream_recorder("anthropic", SCOPE)
    for e in events:
        rec.feed(e)
    streamed = [p for p in rec.response().content if isinstance(p, ReasoningPart)]
    parsed = [
        p
        for p in anthropic.parse_response(load("anthropic/response_thinking.json")).content
        if isinstance(p, ReasoningPart)
    ]
    assert [(p.text, p.signature, p.signature_source) for p in streamed] == [
        (p.text, p.signature, p.signature_source) for p in parsed
    ]


def test_gemini_values_never_reach_anthropic() -> None:
    """Values of another provider family are not injected (and would not be built anyway)."""
    cache = new_cache()

    async def flow() -> None:
        resp = Response(
            "r", "m", [ReasoningPart("t", "GEMINI-SIG", "gemini"), ToolCallPart("toolu_x", "get_weather", "{}")]
        )
        await cache.record_response(resp, "gemini", SCOPE)
        turn = client_turn(resp)
        req = chat.parse_request(
            chat_body(
                [{"role": "user", "content": "q"}, turn, {"role": "tool", "tool_call_id": "toolu_x", "content": "r"}]
            )
        )
        assert await cache.inject(req, "anthropic", SCOPE) is req

    run(flow())


def test_message_with_visible_only_echo() -> None:
    """An OpenAI Chat client echoing ``reasoning_content`` back: the upstream gets the signed
    block in its place, once."""
    cache = new_cache()

    async def flow() -> None:
        resp = anthropic.parse_response(thinking_then_call())
        await cache.record_response(resp, "anthropic", SCOPE)
        turn = {**client_turn(resp), "reasoning_content": thinking_block()["thinking"]}
        req = chat.parse_request(
            chat_body(
                [
                    {"role": "user", "content": "q"},
                    turn,
                    {"role": "tool", "tool_call_id": turn["tool_calls"][0]["id"], "content": "r"},
                ]
            )
        )
        out = anthropic.build_request(await cache.inject(req, "anthropic", SCOPE))
        blocks = next(m for m in out["messages"] if m["role"] == "assistant")["content"]
        assert [b["type"] for b in blocks] == ["thinking", "tool_use"]
        assert blocks[0]["signature"] == thinking_block()["signature"]

    run(flow())
