"""parse_response / format_response: fixture round trips, usage and stop reasons, answers of
other protocols written for a Messages client."""

from __future__ import annotations

import copy

import pytest
from anthropic_helpers import load, names, request

from switchyard.core.errors import GatewayError
from switchyard.core.model import ReasoningPart, Response, StopReason, TextPart, ToolCallPart, Usage
from switchyard.protocols.anthropic import format_response, parse_request, parse_response

RESPONSES = [n for n in names("response_*.json") if n != "response_count_tokens.json"]
REQ = parse_request(request())


@pytest.mark.parametrize("name", RESPONSES)
def test_fixture_round_trip(name: str) -> None:
    body = load(name)
    snapshot = copy.deepcopy(body)
    resp = parse_response(body)
    assert resp.protocol == "anthropic"
    assert format_response(resp, REQ) == body
    assert body == snapshot, "parse_response mutated its input"


def test_claude_code_mock_answer_round_trip() -> None:
    body = load("claude_code/stream_fallback/03_v1_messages.response.json")
    assert format_response(parse_response(body), REQ) == body


def test_content_mapping() -> None:
    resp = parse_response(load("response_parallel_tool_use.json"))
    text, first, second = resp.content
    assert isinstance(text, TextPart) and text.text.startswith("I'll use the test_tool")
    assert isinstance(first, ToolCallPart) and (first.id, first.name, first.arguments) == (
        "toolu_01L8GVQapA1HmggQcrwboukH",
        "test_tool",
        '{"count":1}',
    )
    assert isinstance(second, ToolCallPart) and second.arguments == '{"count":2}'
    assert resp.stop_reason == StopReason.TOOL_USE
    thinking = parse_response(load("response_thinking.json")).content[0]
    assert isinstance(thinking, ReasoningPart) and thinking.signature_source == "anthropic"
    assert thinking.signature and thinking.signature.startswith("EroC")


def test_server_tool_blocks_are_kept_aside() -> None:
    body = load("response_server_tool_web_search.json")
    resp = parse_response(body)
    assert [p.kind for p in resp.content] == ["text", "text", "text"]
    assert [pos for pos, _ in resp.extensions["_blocks"]] == [0, 1]
    assert resp.content[0].extensions["citations"][0]["type"] == "web_search_result_location"
    assert resp.usage is not None and resp.usage.extensions["_anthropic"]["server_tool_use"]["web_search_requests"] == 1


@pytest.mark.parametrize(
    ("name", "usage"),
    [
        ("response_prompt_caching_read.json", (21, 393, 188086, 0)),
        ("response_prompt_caching_write.json", (21, 393, 0, 188086)),
        ("response_plain_text.json", (10, 12, 0, 0)),
    ],
)
def test_usage_buckets(name: str, usage: tuple[int, int, int, int]) -> None:
    u = parse_response(load(name)).usage
    assert u is not None
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == usage
    assert u.prompt_tokens == usage[0] + usage[2] + usage[3]


@pytest.mark.parametrize(
    ("wire", "core"),
    [
        ("end_turn", StopReason.END_TURN),
        ("max_tokens", StopReason.MAX_TOKENS),
        ("stop_sequence", StopReason.STOP_SEQUENCE),
        ("tool_use", StopReason.TOOL_USE),
        ("pause_turn", StopReason.PAUSE_TURN),
        ("refusal", StopReason.REFUSAL),
        ("model_context_window_exceeded", StopReason.CONTEXT_WINDOW),
    ],
)
def test_stop_reasons(wire: str, core: str) -> None:
    body = {**load("response_plain_text.json"), "stop_reason": wire}
    if wire == "stop_sequence":
        body["stop_sequence"] = "END"
    resp = parse_response(body)
    assert resp.stop_reason == core
    assert format_response(resp, REQ) == body
    foreign = Response("r", "m", [TextPart("x")], stop_reason=core, stop_sequence=resp.stop_sequence)
    assert format_response(foreign, REQ)["stop_reason"] == wire


def test_unknown_stop_reason_kept_for_messages_clients() -> None:
    body = {**load("response_plain_text.json"), "stop_reason": "compaction"}
    resp = parse_response(body)
    assert resp.stop_reason == StopReason.END_TURN
    assert format_response(resp, REQ) == body


def test_answer_of_another_protocol() -> None:
    resp = Response(
        id="chatcmpl-1",
        model="gpt-x",
        content=[
            ReasoningPart("step by step", "ENC", "openai_responses"),
            ReasoningPart("", "GEMSIG", "gemini"),
            TextPart(""),
            TextPart("Calling."),
            ToolCallPart("call_1", "get_weather", '{"city":"Paris"}'),
            ToolCallPart("call_2", "get_weather", '{"city": "Ro'),
        ],
        stop_reason=StopReason.END_TURN,
        usage=Usage(input_tokens=80, cache_read_tokens=20, output_tokens=30, reasoning_tokens=12),
        protocol="openai_chat",
    )
    assert format_response(resp, REQ) == {
        "id": "msg_chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-x",
        "content": [
            {"type": "thinking", "thinking": "step by step", "signature": ""},
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"raw_arguments": '{"city": "Ro'}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 80,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 20,
            "output_tokens": 30,
            "output_tokens_details": {"thinking_tokens": 12},
        },
    }


def test_answer_without_usage_or_id() -> None:
    out = format_response(Response("", "", [TextPart("hi")], protocol="gemini"), REQ)
    assert out["id"].startswith("msg_") and out["model"] == "claude-test"
    assert out["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }


def test_changed_counters_drop_the_stale_breakdown() -> None:
    resp = parse_response(load("response_prompt_caching_write.json"))
    assert resp.usage is not None
    resp.usage.output_tokens = 400
    usage = format_response(resp, REQ)["usage"]
    assert usage["output_tokens"] == 400 and usage["service_tier"] == "standard" and "cache_creation" not in usage


@pytest.mark.parametrize("body", [{}, {"content": "x"}, {"content": [{"type": "tool_use", "name": "a"}]}])
def test_malformed_upstream_message(body) -> None:
    with pytest.raises(GatewayError) as exc:
        parse_response(body)
    assert exc.value.status == 502 and exc.value.kind == "server"
