"""parse_response / format_response: fixture round trips, usage buckets, finish reasons, answers of
other protocols given to a Chat client."""

from __future__ import annotations

import copy

import orjson
import pytest
from chat_helpers import FIXTURES, load, names

from switchyard.core.errors import RequestError
from switchyard.core.model import ReasoningPart, Request, Response, StopReason, TextPart, ToolCallPart, Usage
from switchyard.protocols import anthropic
from switchyard.protocols.openai_chat import format_response, parse_response

REQ = Request(model="gpt-test", protocol="openai_chat")
ANTHROPIC = FIXTURES.parent.parent / "anthropic" / "fixtures"


@pytest.mark.parametrize("name", names("response_*.json"))
def test_fixture_round_trip(name: str) -> None:
    body = load(name)
    snapshot = copy.deepcopy(body)
    resp = parse_response(body)
    assert resp.protocol == "openai_chat"
    assert format_response(resp, REQ) == body
    assert body == snapshot


def test_tool_calls_parsed() -> None:
    resp = parse_response(load("response_parallel_tools.json"))
    calls = [p for p in resp.content if isinstance(p, ToolCallPart)]
    assert len(calls) == 2 and resp.stop_reason == StopReason.TOOL_USE
    assert all(orjson.loads(c.arguments) for c in calls)


def test_usage_cached_tokens_are_not_input() -> None:
    usage = parse_response(load("response_prompt_cache_hit.json")).usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (2006 - 1920, 1920, 300)
    assert usage.prompt_tokens == 2006 and usage.total_tokens == 2306


def test_reasoning_tokens_are_a_subset_of_output() -> None:
    usage = parse_response(load("response_reasoning_tokens.json")).usage
    assert usage is not None and (usage.output_tokens, usage.reasoning_tokens) == (863, 128)
    assert usage.total_tokens == 897


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", StopReason.END_TURN),
        ("length", StopReason.MAX_TOKENS),
        ("tool_calls", StopReason.TOOL_USE),
        ("function_call", StopReason.TOOL_USE),
        ("content_filter", StopReason.CONTENT_FILTER),
        ("something_new", StopReason.END_TURN),
    ],
)
def test_finish_reason_table(finish: str, stop: str) -> None:
    body = load("response_plain_text.json")
    body["choices"][0]["finish_reason"] = finish
    assert parse_response(body).stop_reason == stop


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        (StopReason.END_TURN, "stop"),
        (StopReason.STOP_SEQUENCE, "stop"),
        (StopReason.MAX_TOKENS, "length"),
        (StopReason.TOOL_USE, "tool_calls"),
        (StopReason.REFUSAL, "content_filter"),
        (StopReason.CONTENT_FILTER, "content_filter"),
        (StopReason.PAUSE_TURN, "stop"),
        (None, "stop"),
    ],
)
def test_stop_reason_to_finish(stop, finish) -> None:
    resp = Response("r1", "m", [TextPart("x")], stop_reason=stop, protocol="anthropic")
    assert format_response(resp, REQ)["choices"][0]["finish_reason"] == finish


def test_foreign_response_shape() -> None:
    resp = Response(
        "msg_1",
        "claude-x",
        [
            ReasoningPart("think", signature="s", signature_source="anthropic"),
            TextPart("hi"),
            ToolCallPart("t1", "f", '{"a":1}'),
        ],
        stop_reason=StopReason.TOOL_USE,
        usage=Usage(input_tokens=5, output_tokens=7, cache_read_tokens=2, cache_write_tokens=3, reasoning_tokens=1),
        protocol="anthropic",
    )
    out = format_response(resp, REQ)
    assert out["id"] == "chatcmpl-msg_1" and out["object"] == "chat.completion" and out["model"] == "claude-x"
    message = out["choices"][0]["message"]
    assert message["content"] == "hi" and message["reasoning_content"] == "think" and message["refusal"] is None
    assert message["tool_calls"] == [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    assert "signature" not in orjson.dumps(out).decode()
    assert out["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }


def test_tool_only_answer_has_null_content() -> None:
    resp = Response(
        "chatcmpl-1", "m", [ToolCallPart("t1", "f", "{}")], stop_reason=StopReason.TOOL_USE, protocol="gemini"
    )
    assert format_response(resp, REQ)["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    "name", ["response_thinking.json", "response_parallel_tool_use.json", "response_prompt_caching_write.json"]
)
def test_anthropic_answers(name: str) -> None:
    body = orjson.loads((ANTHROPIC / name).read_bytes())
    out = format_response(anthropic.parse_response(body), REQ)
    usage = body["usage"]
    prompt = (
        usage["input_tokens"] + usage.get("cache_read_input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
    )
    assert out["usage"]["prompt_tokens"] == prompt
    assert out["usage"]["completion_tokens"] == usage["output_tokens"]
    calls = [b for b in body["content"] if b["type"] == "tool_use"]
    assert len(out["choices"][0]["message"].get("tool_calls", [])) == len(calls)
    for wire, block in zip(out["choices"][0]["message"].get("tool_calls", []), calls, strict=True):
        assert orjson.loads(wire["function"]["arguments"]) == block["input"]


def test_refusal_and_openai_compatible_reasoning() -> None:
    body = load("response_plain_text.json")
    message = body["choices"][0]["message"]
    message["reasoning"] = "why"
    message["refusal"] = "nope"
    resp = parse_response(body)
    assert isinstance(resp.content[0], ReasoningPart) and resp.content[0].text == "why"
    assert any(isinstance(p, TextPart) and p.extensions.get("refusal") for p in resp.content)


def test_missing_choices_rejected() -> None:
    with pytest.raises(RequestError):
        parse_response({"id": "x", "choices": []})
