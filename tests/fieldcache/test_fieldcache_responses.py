"""Responses reasoning items (``encrypted_content``) through a client that cannot send them back,
with the real Responses codec.

No recorded transcript has a reasoning item followed by a function call in one answer, so
:func:`reasoning_then_call` and :func:`reasoning_then_call_stream` assemble one from real pieces:
the reasoning item of fixtures/openai_responses/response_reasoning_encrypted.json (store: false,
``include: ["reasoning.encrypted_content"]``) and the function call of response_tool_call.json /
the events of stream_tool_call.sse (output indexes and sequence numbers renumbered).
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from fc_helpers import SCOPE, assistant_turn, decode, load, new_cache, raw, record_stream, run

from switchyard.core.model import Message, ReasoningPart, Request, TextPart, ToolCallPart, ToolResultPart
from switchyard.fieldcache import to_json
from switchyard.protocols import codec

responses = codec("openai_responses")


def _reasoning_item() -> dict[str, Any]:
    return load("openai_responses/response_reasoning_encrypted.json")["output"][0]


def reasoning_then_call() -> dict[str, Any]:
    body = load("openai_responses/response_tool_call.json")
    body["output"] = [_reasoning_item(), *body["output"]]
    return body


def reasoning_then_call_stream() -> bytes:
    frames = []
    for block in raw("openai_responses/stream_tool_call.sse").split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                frames.append(orjson.loads(line[6:]))
    item = _reasoning_item()
    added = {"type": "response.output_item.added", "output_index": 0, "item": {**item, "encrypted_content": None}}
    done = {"type": "response.output_item.done", "output_index": 0, "item": item}
    out: list[dict[str, Any]] = []
    for frame in frames:
        frame = copy.deepcopy(frame)
        if "output_index" in frame:
            frame["output_index"] += 1
        if frame["type"] == "response.completed":
            frame["response"]["output"] = [item, *frame["response"]["output"]]
        if frame["type"] == "response.output_item.added" and not out[-1]["type"].startswith("response.output_item"):
            out += [added, done]
        out.append(frame)
    body = b""
    for n, frame in enumerate(out):
        frame["sequence_number"] = n
        body += b"event: " + frame["type"].encode() + b"\ndata: " + orjson.dumps(frame) + b"\n\n"
    return body


def _turn2(step: Message) -> Request:
    calls = [p for p in step.content if isinstance(p, ToolCallPart)]
    return Request(
        "gpt-5-mini",
        [
            Message("user", [TextPart("What's the weather in San Francisco?")]),
            step,
            Message("tool", [ToolResultPart(c.id, [TextPart("18C, fog")]) for c in calls]),
        ],
        protocol="openai_chat",
    )


def _input_types(body: dict[str, Any]) -> list[str]:
    return [item.get("type", "message") for item in body["input"]]


def test_encrypted_reasoning_is_restored_before_the_function_call() -> None:
    cache = new_cache()
    encrypted = _reasoning_item()["encrypted_content"]

    async def flow() -> None:
        resp = responses.parse_response(reasoning_then_call())
        await cache.record_response(resp, "openai_responses", SCOPE)
        req = _turn2(assistant_turn(resp))
        snapshot = to_json(req)
        plain = responses.build_request(req)
        assert "reasoning" not in _input_types(plain)
        body = responses.build_request(await cache.inject(req, "openai_responses", SCOPE))
        assert to_json(req) == snapshot
        assert _input_types(body) == ["message", "reasoning", "function_call", "function_call_output"]
        reasoning, call = body["input"][1], body["input"][2]
        assert reasoning["encrypted_content"] == encrypted
        assert reasoning["id"] == _reasoning_item()["id"]
        assert call["call_id"] == "call_S2X9KuEJpYvFcF4hgv1XwM0j"
        assert body.get("include") == ["reasoning.encrypted_content"]

    run(flow())


def test_encrypted_reasoning_from_a_stream() -> None:
    cache = new_cache()
    events = decode("openai_responses", reasoning_then_call_stream())

    async def flow() -> None:
        resp = await record_stream(cache, "openai_responses", SCOPE, events)
        step = assistant_turn(resp)
        assert [p.id for p in step.content if isinstance(p, ToolCallPart)] == ["call_0UFGPwrziw5rbinYp7rthrTb"]
        body = responses.build_request(await cache.inject(_turn2(step), "openai_responses", SCOPE))
        assert _input_types(body)[1:3] == ["reasoning", "function_call"]
        assert body["input"][1]["encrypted_content"] == _reasoning_item()["encrypted_content"]

    run(flow())


def test_responses_client_replaying_its_items_is_left_untouched() -> None:
    """A Responses client (Codex with store: false) sends the reasoning item back itself."""
    cache = new_cache()

    async def flow() -> None:
        resp = responses.parse_response(reasoning_then_call())
        await cache.record_response(resp, "openai_responses", SCOPE)
        wire = load("openai_responses/request_tool_call.json")
        wire["input"] = [
            *wire["input"],
            _reasoning_item(),
            reasoning_then_call()["output"][1],
            {"type": "function_call_output", "call_id": "call_S2X9KuEJpYvFcF4hgv1XwM0j", "output": "18C"},
        ]
        req = responses.parse_request(wire)
        out = await cache.inject(req, "openai_responses", SCOPE)
        assert responses.build_request(out) == responses.build_request(req)
        assert [i.get("type") for i in responses.build_request(out)["input"]].count("reasoning") == 1

    run(flow())


def test_a_visible_only_echo_is_replaced_by_the_signed_item() -> None:
    """An OpenAI Chat client that echoes reasoning back as ``reasoning_content`` (no signature)."""
    cache = new_cache()

    async def flow() -> None:
        resp = responses.parse_response(reasoning_then_call())
        await cache.record_response(resp, "openai_responses", SCOPE)
        step = assistant_turn(resp)
        echoed = Message("assistant", [ReasoningPart("I should look up the weather."), *step.content])
        out = await cache.inject(_turn2(echoed), "openai_responses", SCOPE)
        reasoning = [p for p in out.messages[1].content if isinstance(p, ReasoningPart)]
        assert [(r.signature, r.signature_source) for r in reasoning] == [
            (_reasoning_item()["encrypted_content"], "openai_responses")
        ]
        body = responses.build_request(out)
        assert _input_types(body) == ["message", "reasoning", "function_call", "function_call_output"]

    run(flow())


def test_openai_chat_client_turn_parsed_by_its_codec() -> None:
    """The client's second turn as an OpenAI Chat body (echoing ``reasoning_content``), parsed by
    codec("openai_chat").parse_request."""
    cache = new_cache()
    chat = codec("openai_chat")

    async def flow() -> None:
        resp = responses.parse_response(reasoning_then_call())
        await cache.record_response(resp, "openai_responses", SCOPE)
        (call,) = [p for p in resp.content if isinstance(p, ToolCallPart)]
        wire = {
            "model": "gpt-5-mini",
            "messages": [
                {"role": "user", "content": "What's the weather in San Francisco?"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "Looking up the weather.",
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": call.id, "content": "18C, fog"},
            ],
        }
        req = chat.parse_request(wire)
        body = responses.build_request(await cache.inject(req, "openai_responses", SCOPE))
        assert _input_types(body) == ["message", "reasoning", "function_call", "function_call_output"]
        assert body["input"][1]["encrypted_content"] == _reasoning_item()["encrypted_content"]
        assert body["input"][2]["call_id"] == call.id

    run(flow())


def test_answer_without_calls_stores_nothing() -> None:
    cache = new_cache()

    async def flow() -> None:
        resp = responses.parse_response(load("openai_responses/response_reasoning_encrypted.json"))
        await cache.record_response(resp, "openai_responses", SCOPE)
        assert len(cache.kv) == 0  # type: ignore[arg-type]

    run(flow())
