"""Gemini response codec: fixture round trips, finish reasons, usage, and formatting responses
that came from other protocols."""

from __future__ import annotations

import copy

import pytest
from gemini_helpers import CLI, FIXTURES, load

from switchyard.core.model import (
    ImagePart,
    ReasoningPart,
    Request,
    Response,
    StopReason,
    TextPart,
    ToolCallPart,
    Usage,
)
from switchyard.protocols.gemini import format_response, parse_request, parse_response
from switchyard.protocols.gemini.wire import is_minted

RESPONSES = sorted(p.name for p in FIXTURES.glob("response_*.json"))
CLI_RESPONSES = sorted(str(p.relative_to(FIXTURES)) for p in CLI.glob("*/*.response.json"))
PAIRS = {
    "response_include_thoughts.json": "request_include_thoughts.json",
    "response_cached_content_usage.json": "request_cached_content.json",
    "response_multi_turn_thought_signatures.json": "request_multi_turn_thought_signatures.json",
    "response_plain_text.json": "request_plain_text.json",
    "response_tool_call.json": "request_tool_call.json",
    "response_tool_result.json": "request_tool_result.json",
}


@pytest.mark.parametrize("name", RESPONSES + CLI_RESPONSES)
def test_round_trip_is_lossless(name: str) -> None:
    body = load(name)
    original = copy.deepcopy(body)
    req_name = PAIRS.get(name, name.replace(".response.json", ".body.json"))
    req = parse_request(load(req_name))
    resp = parse_response(body)
    assert body == original, "parse_response mutated its input"
    assert format_response(resp, req) == body


def test_plain_text_usage_and_ids() -> None:
    resp = parse_response(load("response_plain_text.json"))
    assert resp.content == [TextPart("Paris")]
    assert (resp.id, resp.model, resp.stop_reason) == (
        "xlWYafXAOKSf1e8PpcODiAg",
        "gemini-2.5-flash",
        StopReason.END_TURN,
    )
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.reasoning_tokens) == (11, 35, 34)
    assert resp.usage.total_tokens == 46


def test_function_call_without_id_is_tool_use_with_a_minted_id() -> None:
    resp = parse_response(load("response_tool_call.json"))
    call = resp.content[0]
    assert resp.stop_reason == StopReason.TOOL_USE
    assert isinstance(call, ToolCallPart) and is_minted(call.id)
    assert call.arguments == '{"city":"london"}' and call.signature_source == "gemini"
    assert parse_response(load("response_tool_call.json")).content[0].id == call.id
    assert resp.extensions["finishReason"] == "STOP"


def test_cached_content_usage_is_split() -> None:
    usage = parse_response(load("response_cached_content_usage.json")).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (10, 32000, 120)
    assert usage.prompt_tokens == 32010 and usage.total_tokens == 32130


def test_tool_use_prompt_tokens_count_as_input() -> None:
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "x"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {
            "promptTokenCount": 11,
            "toolUsePromptTokenCount": 1,
            "candidatesTokenCount": 33,
            "totalTokenCount": 45,
        },
    }
    resp = parse_response(body)
    assert resp.usage.input_tokens == 12 and resp.usage.total_tokens == 45
    assert format_response(resp, Request(model="")) == {**body, "modelVersion": ""}


def test_include_thoughts_parts() -> None:
    resp = parse_response(load("response_include_thoughts.json"))
    thought, answer = resp.content
    assert isinstance(thought, ReasoningPart) and thought.text.startswith("**Summing")
    assert isinstance(answer, TextPart) and answer.extensions["thoughtSignature"].startswith("CiQB")
    assert resp.usage.reasoning_tokens == 564


@pytest.mark.parametrize(
    ("finish", "calls", "stop"),
    [
        ("STOP", False, StopReason.END_TURN),
        ("STOP", True, StopReason.TOOL_USE),
        ("MAX_TOKENS", False, StopReason.MAX_TOKENS),
        ("SAFETY", False, StopReason.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", False, StopReason.CONTENT_FILTER),
        ("BLOCKLIST", False, StopReason.CONTENT_FILTER),
        ("SPII", False, StopReason.CONTENT_FILTER),
        ("RECITATION", False, StopReason.CONTENT_FILTER),
        ("IMAGE_SAFETY", False, StopReason.CONTENT_FILTER),
        ("IMAGE_NEW_KIND", False, StopReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", False, StopReason.END_TURN),
        ("UNEXPECTED_TOOL_CALL", False, StopReason.END_TURN),
        ("TOO_MANY_TOOL_CALLS", False, StopReason.END_TURN),
        ("OTHER", False, StopReason.END_TURN),
        ("SOMETHING_NEW", False, StopReason.END_TURN),
    ],
)
def test_finish_reasons(finish: str, calls: bool, stop: str) -> None:
    parts = [{"functionCall": {"name": "f", "args": {}}}] if calls else [{"text": "x"}]
    body = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}]}
    resp = parse_response(body)
    assert resp.stop_reason == stop
    assert resp.extensions["finishReason"] == finish
    assert format_response(resp, Request(model=""))["candidates"][0]["finishReason"] == finish


def test_blocked_prompt_has_no_candidates() -> None:
    body = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
        "modelVersion": "m",
        "responseId": "r",
    }
    resp = parse_response(body)
    assert resp.stop_reason == StopReason.CONTENT_FILTER and resp.content == []
    assert format_response(resp, Request(model="")) == {
        **body,
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 0, "totalTokenCount": 5},
    }


def test_extra_candidates_are_kept_for_gemini_clients() -> None:
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "a"}]}, "finishReason": "STOP", "index": 0},
            {"content": {"role": "model", "parts": [{"text": "b"}]}, "finishReason": "STOP", "index": 1},
        ],
        "modelVersion": "m",
        "responseId": "r",
    }
    resp = parse_response(body)
    assert resp.content == [TextPart("a")]
    assert format_response(resp, Request(model="")) == body


# --- responses from other protocols -----------------------------------------------------------


def gemini_request(include_thoughts: bool | None = None) -> Request:
    body: dict = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    if include_thoughts is not None:
        body["generationConfig"] = {"thinkingConfig": {"includeThoughts": include_thoughts}}
    return parse_request(body, "gemini-x")


def test_foreign_response_with_tool_calls_and_usage() -> None:
    resp = Response(
        id="msg_1",
        model="claude-x",
        content=[
            TextPart("Let me check."),
            ToolCallPart("toolu_1", "get_weather", '{"city":"Paris"}', signature="sig", signature_source="anthropic"),
        ],
        stop_reason=StopReason.TOOL_USE,
        usage=Usage(input_tokens=10, cache_read_tokens=5, cache_write_tokens=2, output_tokens=30, reasoning_tokens=12),
        protocol="anthropic",
        extensions={"stop_details": None},
    )
    assert format_response(resp, gemini_request()) == {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Let me check."},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "toolu_1"}},
                    ],
                    "role": "model",
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 17,
            "cachedContentTokenCount": 5,
            "candidatesTokenCount": 18,
            "totalTokenCount": 47,
            "thoughtsTokenCount": 12,
        },
        "modelVersion": "claude-x",
        "responseId": "msg_1",
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        (StopReason.END_TURN, "STOP"),
        (StopReason.STOP_SEQUENCE, "STOP"),
        (StopReason.MAX_TOKENS, "MAX_TOKENS"),
        (StopReason.CONTEXT_WINDOW, "MAX_TOKENS"),
        (StopReason.CONTENT_FILTER, "SAFETY"),
        (StopReason.REFUSAL, "SAFETY"),
        (StopReason.PAUSE_TURN, "STOP"),
        (None, "STOP"),
    ],
)
def test_foreign_stop_reasons(stop: str | None, finish: str) -> None:
    resp = Response(id="r", model="m", content=[TextPart("x")], stop_reason=stop, protocol="openai_chat")
    assert format_response(resp, gemini_request())["candidates"][0]["finishReason"] == finish


def test_reasoning_text_only_when_the_client_asked_for_thoughts() -> None:
    resp = Response(
        id="r",
        model="m",
        content=[
            ReasoningPart("pondering", signature="gsig", signature_source="gemini"),
            ReasoningPart("hmm", signature="a", signature_source="anthropic"),
            TextPart("42"),
        ],
        protocol="openai_responses",
    )
    with_thoughts = format_response(resp, gemini_request(True))["candidates"][0]["content"]["parts"]
    assert with_thoughts == [
        {"text": "pondering", "thought": True, "thoughtSignature": "gsig"},
        {"text": "hmm", "thought": True},
        {"text": "42"},
    ]
    without = format_response(resp, gemini_request())["candidates"][0]["content"]["parts"]
    assert without == [{"thoughtSignature": "gsig"}, {"text": "42"}]


def test_minted_call_ids_are_not_sent_to_gemini_clients() -> None:
    resp = parse_response(load("response_tool_call.json"))
    resp.protocol = "openai_chat"
    assert "id" not in format_response(resp, gemini_request())["candidates"][0]["content"]["parts"][0]["functionCall"]


def test_truncated_tool_arguments_become_an_empty_object() -> None:
    resp = Response(
        id="r",
        model="m",
        content=[ToolCallPart("c", "f", '{"a": 1')],
        stop_reason=StopReason.MAX_TOKENS,
        protocol="openai_chat",
    )
    part = format_response(resp, gemini_request())["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "f", "args": {}, "id": "c"}}


def test_generated_image_becomes_inline_data() -> None:
    resp = Response(
        id="r", model="m", content=[ImagePart(data="iVBORw0KGgo=", media_type="image/png")], protocol="openai_responses"
    )
    part = format_response(resp, gemini_request())["candidates"][0]["content"]["parts"][0]
    assert part == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
