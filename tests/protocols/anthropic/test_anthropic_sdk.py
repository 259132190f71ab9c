"""The official anthropic SDK reads what our format_response, StreamEncoder and format_error
produce, served by a real HTTP server on 127.0.0.1 (the ``replay`` fixture). The SDK parses with
its own models and its stream accumulator (``messages.stream`` / ``get_final_message``)."""

from __future__ import annotations

import anthropic
import orjson
import pytest
from anthropic_helpers import decode, encode, load, raw

from replay_server import Reply
from switchyard.core.errors import ErrorKind, GatewayError
from switchyard.core.events import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from switchyard.core.model import ReasoningPart, Request, Response, StopReason, TextPart, ToolCallPart, Usage
from switchyard.protocols.anthropic import (
    build_request,
    format_count_tokens,
    format_error,
    format_response,
    parse_count_tokens_request,
    parse_request,
    parse_response,
)

SSE = "text/event-stream"
MESSAGES = [{"role": "user", "content": "hi"}]


def client(replay) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=replay.url, api_key="k", max_retries=0, timeout=10)


def serve_json(replay, body: dict, status: int = 200) -> None:
    replay.reply = Reply(orjson.dumps(body), status=status)


def serve_stream(replay, data: bytes) -> None:
    replay.reply = Reply(data, SSE)


def final_message(replay, **kw) -> anthropic.types.Message:
    with client(replay).messages.stream(model="claude-x", max_tokens=50, messages=MESSAGES, **kw) as stream:
        texts = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert texts == "".join(b.text for b in message.content if b.type == "text")
    return message


def test_sdk_request_parses(replay) -> None:
    """What the SDK sends is a body our parser accepts and rebuilds unchanged."""
    serve_json(replay, load("response_plain_text.json"))
    client(replay).messages.create(
        model="claude-x",
        max_tokens=10,
        system=[{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        messages=MESSAGES,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[{"name": "f", "input_schema": {"type": "object"}}],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    body = orjson.loads(replay.requests[-1].body)
    assert build_request(parse_request(body)) == body


@pytest.mark.parametrize(
    "name",
    [
        "response_parallel_tool_use.json",
        "response_thinking.json",
        "response_server_tool_web_search.json",
        "response_prompt_caching_write.json",
    ],
)
def test_create_reads_our_messages(replay, name: str) -> None:
    body = format_response(
        parse_response(load(name)), parse_request({"model": "m", "max_tokens": 5, "messages": MESSAGES})
    )
    serve_json(replay, body)
    message = client(replay).messages.create(model="claude-x", max_tokens=50, messages=MESSAGES)
    assert [b.type for b in message.content] == [b["type"] for b in body["content"]]
    assert message.usage.input_tokens == body["usage"]["input_tokens"]
    if name == "response_parallel_tool_use.json":
        assert [b.input for b in message.content if b.type == "tool_use"] == [{"count": 1}, {"count": 2}]
        assert message.stop_reason == "tool_use"
    if name == "response_thinking.json":
        assert message.content[0].signature == body["content"][0]["signature"]
    if name == "response_prompt_caching_write.json":
        assert message.usage.cache_creation_input_tokens == 188086
        assert message.usage.cache_creation.ephemeral_5m_input_tokens == 188086


def test_create_reads_an_answer_of_another_protocol(replay) -> None:
    resp = Response(
        "chatcmpl-9",
        "gpt-x",
        [
            ReasoningPart("plan", "ENC", "openai_responses"),
            TextPart("Checking."),
            ToolCallPart("call_a", "get_weather", '{"city":"Paris"}'),
            ToolCallPart("call_b", "get_weather", '{"city":"Rome"}'),
        ],
        StopReason.TOOL_USE,
        usage=Usage(input_tokens=50, cache_read_tokens=10, output_tokens=20, reasoning_tokens=5),
        protocol="openai_chat",
    )
    serve_json(replay, format_response(resp, Request(model="claude-x")))
    message = client(replay).messages.create(model="claude-x", max_tokens=50, messages=MESSAGES)
    assert message.id == "msg_chatcmpl-9"
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "plan" and message.content[0].signature == ""
    assert [b.input["city"] for b in message.content[2:]] == ["Paris", "Rome"]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (
        50,
        10,
        20,
    )


def test_stream_text(replay) -> None:
    serve_stream(replay, encode(decode(raw("stream_plain_text.sse"))))
    message = final_message(replay)
    assert message.content[0].text == "Hello there!"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 6)


def test_stream_thinking_with_signature(replay) -> None:
    serve_stream(replay, encode(decode(raw("stream_thinking.sse"))))
    message = final_message(replay)
    expected = load("response_thinking.json")["content"]
    assert message.content[0].type == "thinking"
    assert message.content[0].thinking == expected[0]["thinking"]
    assert message.content[0].signature == expected[0]["signature"]
    assert message.content[1].text == "Hello"


def test_stream_text_then_tool_use(replay) -> None:
    serve_stream(replay, encode(decode(raw("stream_text_then_tool_use.sse"))))
    message = final_message(replay)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"location": "Paris"} and message.stop_reason == "tool_use"


def test_stream_parallel_tool_use_and_usage(replay) -> None:
    events = [
        MessageStart("chatcmpl-1", "gpt-x"),
        PartStart(0, ReasoningPart("", None, "openai_responses")),
        ReasoningDelta(0, "two cities"),
        SignatureDelta(0, "ENCRYPTED", "openai_responses"),
        PartStop(0),
        PartStart(1, ToolCallPart("call_1", "get_weather", "")),
        ToolArgsDelta(1, '{"city"'),
        ToolArgsDelta(1, ':"Paris"}'),
        PartStop(1),
        PartStart(2, ToolCallPart("call_2", "get_weather", '{"city":"Rome"}')),
        PartStop(2),
        MessageDelta(
            StopReason.TOOL_USE,
            usage=Usage(input_tokens=30, cache_read_tokens=70, output_tokens=40, reasoning_tokens=9),
        ),
        MessageStop(),
    ]
    serve_stream(replay, encode(events))
    message = final_message(replay)
    assert [b.type for b in message.content] == ["thinking", "tool_use", "tool_use"]
    assert message.content[0].thinking == "two cities" and message.content[0].signature == ""
    assert [b.input for b in message.content[1:]] == [{"city": "Paris"}, {"city": "Rome"}]
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (
        30,
        70,
        40,
    )
    assert message.id == "msg_chatcmpl-1" and message.model == "gpt-x" and message.stop_reason == "tool_use"


def test_stream_claude_code_tool_call(replay) -> None:
    serve_stream(replay, encode(decode(raw("claude_code/tool_call/02_v1_messages.response.sse"))))
    message = final_message(replay)
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[0].signature == "bW9jay1zaWduYXR1cmU="
    assert message.content[2].input == {"command": "ls -la"}


def test_stream_text_chunks(replay) -> None:
    events = [
        MessageStart("m", "c"),
        PartStart(0, TextPart("")),
        TextDelta(0, "a"),
        TextDelta(0, "b"),
        PartStop(0),
        MessageStop(),
    ]
    serve_stream(replay, encode(events))
    with client(replay).messages.stream(model="c", max_tokens=5, messages=MESSAGES) as stream:
        assert list(stream.text_stream) == ["a", "b"]


def test_in_band_error_raises(replay) -> None:
    serve_stream(replay, encode(decode(raw("stream_error_overloaded.sse"))))
    with (
        pytest.raises(anthropic.APIStatusError) as exc,
        client(replay).messages.stream(model="c", max_tokens=5, messages=MESSAGES) as stream,
    ):
        stream.get_final_message()
    assert exc.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_in_band_error_raises_in_a_raw_stream(replay) -> None:
    error = GatewayError(ErrorKind.RATE_LIMIT, "slow down", status=429)
    events = [MessageStart("m", "c"), PartStart(0, TextPart("")), TextDelta(0, "partial"), StreamError(error)]
    serve_stream(replay, encode(events))
    seen = []
    with pytest.raises(anthropic.APIStatusError) as exc:
        for event in client(replay).messages.create(model="c", max_tokens=5, messages=MESSAGES, stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start", "content_block_delta"]
    assert exc.value.body["error"] == {"type": "rate_limit_error", "message": "slow down"}


@pytest.mark.parametrize(
    ("err", "exc_type"),
    [
        (GatewayError(ErrorKind.OVERLOADED, "busy", status=503), anthropic.OverloadedError),
        (GatewayError(ErrorKind.RATE_LIMIT, "slow", status=429), anthropic.RateLimitError),
        (GatewayError(ErrorKind.INVALID_REQUEST, "bad"), anthropic.BadRequestError),
        (GatewayError(ErrorKind.AUTHENTICATION, "who"), anthropic.AuthenticationError),
        (GatewayError(ErrorKind.NOT_FOUND, "gone"), anthropic.NotFoundError),
    ],
)
def test_http_errors(replay, err: GatewayError, exc_type: type) -> None:
    status, body = format_error(err)
    serve_json(replay, body, status)
    with pytest.raises(exc_type) as exc:
        client(replay).messages.create(model="c", max_tokens=5, messages=MESSAGES)
    assert exc.value.status_code == status and exc.value.body == body


def test_count_tokens(replay) -> None:
    serve_json(replay, format_count_tokens(14))
    count = client(replay).messages.count_tokens(
        model="claude-x", system="You are a scientist", messages=[{"role": "user", "content": "Hello, Claude"}]
    )
    assert count.input_tokens == 14
    body = orjson.loads(replay.requests[-1].body)
    assert parse_count_tokens_request(body).system[0].text == "You are a scientist"
