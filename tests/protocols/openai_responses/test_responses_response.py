"""parse_response / format_response: fixture round trips, usage, stop reasons, and Response
objects built for Responses clients of other upstreams."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from responses_helpers import FIXTURES, load, request

from switchyard.core.model import (
    ReasoningPart,
    Response,
    StopReason,
    TextPart,
    ToolCallPart,
    Usage,
)
from switchyard.protocols.openai_responses import format_response, parse_request, parse_response

RESPONSES = [
    p for p in sorted(FIXTURES.glob("response_*.json")) if orjson.loads(p.read_bytes()).get("object") == "response"
]


@pytest.mark.parametrize("path", RESPONSES, ids=lambda p: p.name)
def test_round_trip_is_lossless(path: Path) -> None:
    body = orjson.loads(path.read_bytes())
    before = copy.deepcopy(body)
    resp = parse_response(body)
    assert resp.protocol == "openai_responses"
    assert format_response(resp, request()) == body
    assert body == before, "parse_response mutated its input"


def test_plain_text() -> None:
    resp = parse_response(load("response_plain_text.json"))
    assert resp.id == "resp_012716c47e5818750068c9ef3acb74819590c9bfdd9025e969"
    assert resp.model == "gpt-4o-mini-2024-07-18"
    assert resp.created == 1758064442
    assert [p.text for p in resp.content] == ["Hello! How can I assist you today?"]  # type: ignore[union-attr]
    assert resp.stop_reason == StopReason.END_TURN
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (11, 10, 21)


def test_usage_input_includes_cached_tokens() -> None:
    usage = parse_response(load("response_cached_tokens.json")).usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (12724 - 4352, 4352, 0)
    assert (usage.output_tokens, usage.reasoning_tokens, usage.total_tokens) == (698, 532, 13422)


def test_cache_write_tokens_are_their_own_bucket() -> None:
    body = load("response_reasoning_summary.json")
    body["usage"]["input_tokens_details"]["cache_write_tokens"] = 10
    usage = parse_response(body).usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_write_tokens, usage.prompt_tokens) == (20, 10, 30)


def test_tool_call_is_tool_use() -> None:
    resp = parse_response(load("response_tool_call.json"))
    (call,) = resp.content
    assert isinstance(call, ToolCallPart)
    assert (call.id, call.name, call.arguments) == (
        "call_S2X9KuEJpYvFcF4hgv1XwM0j",
        "get_weather_at_location",
        '{"location":"San Francisco, CA"}',
    )
    assert call.extensions["id"] == "fc_0df7c3d8927b3a940068c9ef446a748194b8266e13adcc9781"
    assert resp.stop_reason == StopReason.TOOL_USE


def test_parallel_tool_calls() -> None:
    resp = parse_response(load("response_parallel_tool_calls.json"))
    assert [(p.id, p.arguments) for p in resp.content] == [  # type: ignore[union-attr]
        ("call_constructed_A", '{"city_name":"Santiago"}'),
        ("call_constructed_B", '{"city_name":"Karachi"}'),
    ]


def test_max_output_tokens_is_incomplete() -> None:
    assert parse_response(load("response_max_output_tokens_incomplete.json")).stop_reason == StopReason.MAX_TOKENS


def test_reasoning_encrypted_content_is_the_signature() -> None:
    resp = parse_response(load("response_reasoning_encrypted.json"))
    reasoning, text = resp.content
    assert isinstance(reasoning, ReasoningPart)
    assert reasoning.signature is not None and reasoning.signature.startswith("gAAAAABpMF_f")
    assert reasoning.signature_source == "openai_responses"
    assert reasoning.text == ""
    assert isinstance(text, TextPart)


def test_reasoning_summary_text() -> None:
    resp = parse_response(load("response_reasoning_summary.json"))
    reasoning = resp.content[0]
    assert isinstance(reasoning, ReasoningPart)
    assert reasoning.text.startswith("**Creating clear instructions**\n\nI need to provide")
    assert resp.usage is not None and resp.usage.reasoning_tokens == 56


def test_hosted_tool_items_have_no_part_but_are_kept() -> None:
    resp = parse_response(load("response_cached_tokens.json"))
    kinds = [p.kind for p in resp.content]
    assert kinds == ["reasoning", "reasoning", "reasoning", "text"]
    assert [i for i, _ in resp.extensions["_output_items"]] == [1, 3]
    text = resp.content[-1]
    assert text.extensions["annotations"][0]["type"] == "url_citation"


@pytest.mark.parametrize(
    ("status", "details", "expected"),
    [
        ("incomplete", {"reason": "content_filter"}, StopReason.CONTENT_FILTER),
        ("incomplete", None, StopReason.MAX_TOKENS),
        ("failed", None, StopReason.ERROR),
        ("in_progress", None, None),
    ],
)
def test_stop_reasons(status: str, details: dict | None, expected: str | None) -> None:
    body = load("response_plain_text.json") | {"status": status, "incomplete_details": details}
    assert parse_response(body).stop_reason == expected


def test_refusal_answer_is_refusal() -> None:
    body = load("response_plain_text.json")
    body["output"][0]["content"] = [{"type": "refusal", "refusal": "I can't help with that."}]
    resp = parse_response(body)
    assert resp.stop_reason == StopReason.REFUSAL
    assert resp.content[0].extensions["refusal"] is True
    assert format_response(resp, request()) == body


def test_odd_bodies_do_not_crash() -> None:
    odd = [
        3,
        {"type": "message"},
        {"type": "message", "content": [{"type": "output_text"}]},
        {"type": "function_call", "name": "f"},
        {"type": "reasoning", "summary": "x"},
    ]
    body = {"output": odd, "usage": "n/a"}
    resp = parse_response(body)
    assert resp.content == [] and resp.usage is None
    assert [i for i, _ in resp.extensions["_output_items"]] == [0, 1, 2, 3, 4]
    assert format_response(resp, request()) == {"object": "response", **body}


# --- Response objects for Responses clients of other upstreams ------------------------------


def anthropic_response(**fields) -> Response:
    base = {
        "id": "msg_01abc",
        "model": "claude-x",
        "content": [TextPart("Hello")],
        "usage": Usage(input_tokens=10, cache_read_tokens=4, cache_write_tokens=2, output_tokens=9, reasoning_tokens=3),
        "protocol": "anthropic",
    }
    return Response(**(base | fields))


def test_format_text_answer_from_another_upstream() -> None:
    req = parse_request(load("request_instructions.json"))
    body = format_response(anthropic_response(created=1700000000), req)
    assert body["id"] == "resp_msg_01abc"
    assert body["object"] == "response" and body["created_at"] == 1700000000
    assert (body["status"], body["error"], body["incomplete_details"]) == ("completed", None, None)
    assert body["model"] == "claude-x"
    assert body["instructions"] == "Always begin your replies with 'Ahoy'"
    (item,) = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant" and item["status"] == "completed"
    assert item["id"].startswith("msg_")
    assert item["content"] == [{"type": "output_text", "text": "Hello", "annotations": []}]
    assert body["usage"] == {
        "input_tokens": 16,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 2},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 25,
    }
    assert format_response(anthropic_response(created=1700000000), req) == body, "stable ids"


def test_format_echoes_the_request_settings() -> None:
    req = parse_request(load("request_tool_choice_function.json") | {"temperature": 0.3, "max_output_tokens": 99})
    body = format_response(anthropic_response(), req)
    assert body["tool_choice"] == {"type": "function", "name": "get_weather_at_location"}
    assert body["tools"] == load("request_tool_choice_function.json")["tools"]
    assert (body["temperature"], body["max_output_tokens"], body["top_p"]) == (0.3, 99, 1.0)
    assert body["parallel_tool_calls"] is True and body["store"] is True
    assert body["text"] == {"format": {"type": "text"}}
    assert body["reasoning"] == {"effort": None, "summary": None}
    summary = format_response(anthropic_response(), parse_request(load("request_reasoning_summary.json")))
    assert summary["reasoning"] == {"effort": "xhigh", "summary": "detailed"}


def test_format_tool_calls_and_reasoning() -> None:
    resp = anthropic_response(
        content=[
            ReasoningPart("let me think", signature="EroC", signature_source="anthropic"),
            TextPart("Checking both."),
            ToolCallPart("toolu_1", "get_weather_for_city", '{"city_name":"Santiago"}'),
            ToolCallPart("toolu_2", "get_weather_for_city", '{"city_name":"Karachi"}'),
        ],
        stop_reason=StopReason.TOOL_USE,
    )
    body = format_response(resp, parse_request(load("request_parallel_tool_calls.json")))
    reasoning, message, first, second = body["output"]
    assert reasoning["type"] == "reasoning" and reasoning["id"].startswith("rs_")
    assert reasoning["summary"] == [{"type": "summary_text", "text": "let me think"}]
    assert "encrypted_content" not in reasoning, "a foreign signature is never passed on"
    assert message["content"][0]["text"] == "Checking both."
    assert first == {
        "id": first["id"],
        "type": "function_call",
        "status": "completed",
        "call_id": "toolu_1",
        "name": "get_weather_for_city",
        "arguments": '{"city_name":"Santiago"}',
    }
    assert first["id"].startswith("fc_") and second["id"] != first["id"]
    assert body["status"] == "completed"


def test_format_own_reasoning_keeps_encrypted_content_and_id() -> None:
    part = ReasoningPart(
        "", signature="gAAA", signature_source="openai_responses", extensions={"id": "rs_1", "summary": []}
    )
    body = format_response(anthropic_response(content=[part, TextPart("hi")]), request())
    assert body["output"][0] == {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"}


def test_redacted_thinking_has_no_responses_form() -> None:
    resp = anthropic_response(content=[ReasoningPart(redacted="EmwKA", signature_source="anthropic"), TextPart("hi")])
    assert [i["type"] for i in format_response(resp, request())["output"]] == ["message"]


def test_format_maps_namespaced_and_freeform_calls_back() -> None:
    req = parse_request(load("codex/hello/01_v1_responses.body.json"))
    resp = anthropic_response(
        content=[
            ToolCallPart("toolu_1", "functions__exec", '{"input":"text(1)"}'),
            ToolCallPart("toolu_2", "clock__sleep", '{"ms":5}'),
            ToolCallPart("toolu_3", "wait", '{"cell_id":"c"}'),
        ],
        stop_reason=StopReason.TOOL_USE,
    )
    exec_call, sleep, wait = format_response(resp, req)["output"]
    assert exec_call["type"] == "custom_tool_call" and exec_call["id"].startswith("ctc_")
    assert (exec_call["namespace"], exec_call["name"], exec_call["input"]) == ("functions", "exec", "text(1)")
    assert (sleep["type"], sleep["namespace"], sleep["name"], sleep["arguments"]) == (
        "function_call",
        "clock",
        "sleep",
        '{"ms":5}',
    )
    assert (wait["namespace"], wait["name"]) == ("functions", "wait"), "a bare name finds its namespaced tool"


def test_format_max_tokens_is_incomplete() -> None:
    body = format_response(anthropic_response(stop_reason=StopReason.MAX_TOKENS), request())
    assert (body["status"], body["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    filtered = format_response(anthropic_response(stop_reason=StopReason.CONTENT_FILTER), request())
    assert filtered["incomplete_details"] == {"reason": "content_filter"}


def test_format_error_stop_is_failed() -> None:
    body = format_response(anthropic_response(stop_reason=StopReason.ERROR), request())
    assert body["status"] == "failed" and body["error"]["code"] == "server_error"


def test_format_without_usage_or_id() -> None:
    body = format_response(anthropic_response(id="", usage=None), request())
    assert body["id"].startswith("resp_") and body["usage"] is None


def test_format_refusal_text_part() -> None:
    resp = anthropic_response(content=[TextPart("No.", {"refusal": True})], stop_reason=StopReason.REFUSAL)
    body = format_response(resp, request())
    assert body["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]
    assert body["status"] == "completed"


def test_format_does_not_mutate() -> None:
    resp = anthropic_response(content=[TextPart("a"), ToolCallPart("c", "f", "{}")])
    req = parse_request(load("codex/hello/01_v1_responses.body.json"))
    snapshot = (copy.deepcopy(resp), copy.deepcopy(req))
    format_response(resp, req)
    assert (resp, req) == snapshot
