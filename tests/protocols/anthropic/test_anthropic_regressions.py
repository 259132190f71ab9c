"""Regression tests named after the edge cases the gateway must keep handling (Anthropic codec)."""

from __future__ import annotations

import orjson
from anthropic_helpers import CLAUDE_CODE, decode, encode, frames

from switchyard.core.events import MessageDelta, MessageStart, MessageStop, PartStart, PartStop, ToolArgsDelta
from switchyard.core.model import Message, Reasoning, ReasoningPart, Request, StopReason, TextPart, ToolCallPart
from switchyard.core.sse import encode_frame
from switchyard.protocols import anthropic, openai_chat


def core(messages: list[Message], **fields) -> Request:
    return Request(model="claude-test", messages=messages, protocol="openai_chat", **fields)


def test_max_tokens_default() -> None:
    body = anthropic.build_request(core([Message("user", [TextPart("q")])]))
    assert body["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS == 4096
    # a client limit is kept as is
    assert anthropic.build_request(core([Message("user", [TextPart("q")])], max_tokens=77))["max_tokens"] == 77
    # with thinking and no client limit, the answer's room comes on top of the budget
    body = anthropic.build_request(core([Message("user", [TextPart("q")])], reasoning=Reasoning(effort="low")))
    assert body["max_tokens"] == anthropic.EFFORT_BUDGET["low"] + anthropic.DEFAULT_MAX_TOKENS


def test_thinking_budget_from_effort() -> None:
    for effort, budget in anthropic.EFFORT_BUDGET.items():
        body = anthropic.build_request(core([Message("user", [TextPart("q")])], reasoning=Reasoning(effort=effort)))
        assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
        assert body["max_tokens"] > budget
    # the Chat codec maps each budget back to the same effort
    for effort in ("low", "medium", "high"):
        req = Request(model="m", messages=[Message("user", [TextPart("q")])], protocol="anthropic")
        req.reasoning = Reasoning(budget_tokens=anthropic.EFFORT_BUDGET[effort])
        assert openai_chat.build_request(req)["reasoning_effort"] == effort
    # a budget that does not fit a small client max_tokens shrinks to leave room for the answer
    body = anthropic.build_request(
        core([Message("user", [TextPart("q")])], reasoning=Reasoning(effort="high"), max_tokens=4000)
    )
    assert body["thinking"]["budget_tokens"] <= 2000 and body["max_tokens"] == 4000


def test_foreign_signature_dropped() -> None:
    req = core(
        [
            Message("user", [TextPart("q")]),
            Message(
                "assistant",
                [
                    ReasoningPart("gemini thought", signature="GSIG", signature_source="gemini"),
                    ReasoningPart("responses summary", signature="ENC", signature_source="openai_responses"),
                    TextPart("a"),
                ],
            ),
            Message("user", [TextPart("more")]),
        ]
    )
    body = anthropic.build_request(req)
    assert body["messages"][1]["content"] in ("a", [{"type": "text", "text": "a"}])
    dumped = orjson.dumps(body).decode()
    assert "GSIG" not in dumped and "ENC" not in dumped


def test_mid_conversation_system_message() -> None:
    body = orjson.loads((CLAUDE_CODE / "tool_call/03_v1_messages.body.json").read_bytes())
    req = anthropic.parse_request(body)
    roles = [m.role for m in req.messages]
    assert "system" in roles and roles.index("system") > 0
    # same protocol: kept where it stands
    assert anthropic.build_request(req) == body
    # to a Chat upstream: a system message at the same place
    chat_roles = [m["role"] for m in openai_chat.build_request(req)["messages"]]
    assert chat_roles[0] == "system" and chat_roles[2] == "system"
    # from a Chat client: a later system message stays in place for Anthropic upstreams
    chat = openai_chat.parse_request(
        {
            "model": "claude-test",
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "again"},
            ],
        }
    )
    messages = anthropic.build_request(chat)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "system", "user"]


def _frame(event: str, data: dict) -> bytes:
    return encode_frame(orjson.dumps(data).decode(), event=event)


def test_multiple_tool_calls_share_a_stream() -> None:
    data = _frame(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 20, "output_tokens": 1},
            },
        },
    )
    for i, (tid, name, args) in enumerate([("toolu_a", "f", '{"x":1}'), ("toolu_b", "g", '{"y":2}')]):
        data += _frame(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": i,
                "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}},
            },
        )
        data += _frame(
            "content_block_delta",
            {"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": args}},
        )
        data += _frame("content_block_stop", {"type": "content_block_stop", "index": i})
    data += _frame(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 30},
        },
    )
    data += _frame("message_stop", {"type": "message_stop"})
    events = decode(data)
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [(s.index, s.part.id, s.part.name) for s in starts] == [(0, "toolu_a", "f"), (1, "toolu_b", "g")]
    assert [e.json for e in events if isinstance(e, ToolArgsDelta)] == ['{"x":1}', '{"y":2}']
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert (
        delta.stop_reason == StopReason.TOOL_USE and delta.usage.input_tokens == 20 and delta.usage.output_tokens == 30
    )
    # and the encoder gives two tool_use blocks with their own indexes
    out = frames(
        encode(
            [
                MessageStart("m", "x"),
                PartStart(0, ToolCallPart("t1", "f", "")),
                ToolArgsDelta(0, '{"x":1}'),
                PartStop(0),
                PartStart(1, ToolCallPart("t2", "g", "")),
                ToolArgsDelta(1, '{"y":2}'),
                PartStop(1),
                MessageDelta(StopReason.TOOL_USE),
                MessageStop(),
            ]
        )
    )
    blocks = [d["content_block"] for e, d in out if e == "content_block_start"]
    assert [(b["type"], b["id"]) for b in blocks] == [("tool_use", "t1"), ("tool_use", "t2")]
    assert [d["index"] for e, d in out if e == "content_block_start"] == [0, 1]
