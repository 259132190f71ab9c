"""The official openai SDK reads what our Chat encoder and format_response produce.

The bytes are served by a real HTTP server on 127.0.0.1 (the ``replay`` fixture); the SDK parses
them with its own models and its stream accumulator (``chat.completions.stream``).
"""

from __future__ import annotations

import openai
import orjson
import pytest
from chat_helpers import FIXTURES, encode, load, text_events
from protocol_helpers import full_usage, openai_client

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
from switchyard.core.model import ReasoningPart, Response, StopReason, TextPart, ToolCallPart, Usage
from switchyard.protocols import anthropic
from switchyard.protocols.openai_chat import format_error, format_response, parse_request, parse_response

SSE = "text/event-stream"
MESSAGES = [{"role": "user", "content": "hi"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
        },
    },
]


def serve_stream(replay, events: list, **body) -> None:
    req = parse_request({"model": "gpt-x", "messages": MESSAGES, "stream": True, **body})
    replay.reply = Reply(encode(events, req), SSE)


def parallel_events() -> list:
    return [
        MessageStart("msg_2", "claude-x", usage=Usage(input_tokens=10)),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "two calls"),
        SignatureDelta(0, "SIG", "anthropic"),
        PartStop(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "Checking."),
        PartStop(1),
        PartStart(2, ToolCallPart("call_a", "get_weather", "")),
        ToolArgsDelta(2, '{"city":'),
        ToolArgsDelta(2, '"Paris"}'),
        PartStop(2),
        PartStart(3, ToolCallPart("call_b", "get_time", "")),
        ToolArgsDelta(3, '{"tz":"CET"}'),
        PartStop(3),
        MessageDelta(StopReason.TOOL_USE, usage=full_usage()),
        MessageStop(),
    ]


# ---------------------------------------------------------------------------- non-streaming


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("response_*.json")))
def test_create_reads_our_completions(replay, name: str) -> None:
    body = load(name)
    replay.reply = Reply(
        orjson.dumps(format_response(parse_response(body), parse_request({"model": "m", "messages": MESSAGES})))
    )
    got = openai_client(replay).chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert got.id == body["id"] and got.model == body["model"]
    assert got.choices[0].message.content == body["choices"][0]["message"]["content"]
    assert got.choices[0].finish_reason == body["choices"][0]["finish_reason"]
    assert got.usage is not None and got.usage.total_tokens == body["usage"]["total_tokens"]
    calls = got.choices[0].message.tool_calls or []
    assert [c.id for c in calls] == [c["id"] for c in body["choices"][0]["message"].get("tool_calls") or []]


def test_create_reads_an_answer_of_another_protocol(replay) -> None:
    resp = Response(
        "msg_9",
        "claude-x",
        [
            ReasoningPart("think", signature="SIG", signature_source="anthropic"),
            TextPart("Sure."),
            ToolCallPart("call_a", "get_weather", '{"city":"Paris"}'),
            ToolCallPart("call_b", "get_time", '{"tz":"CET"}'),
        ],
        stop_reason=StopReason.TOOL_USE,
        usage=full_usage(),
        protocol="anthropic",
    )
    replay.reply = Reply(orjson.dumps(format_response(resp, parse_request({"model": "m", "messages": MESSAGES}))))
    got = openai_client(replay).chat.completions.create(model="gpt-x", messages=MESSAGES, tools=TOOLS)
    message = got.choices[0].message
    assert message.content == "Sure." and got.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in message.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_time", {"tz": "CET"}),
    ]
    assert message.model_extra.get("reasoning_content") == "think"
    assert got.usage.prompt_tokens == 14 and got.usage.completion_tokens == 9 and got.usage.total_tokens == 23
    assert got.usage.prompt_tokens_details.cached_tokens == 4
    assert got.usage.completion_tokens_details.reasoning_tokens == 3


def test_create_reads_a_real_anthropic_answer(replay) -> None:
    body = orjson.loads(
        (FIXTURES.parent.parent / "anthropic" / "fixtures" / "response_parallel_tool_use.json").read_bytes()
    )
    resp = anthropic.parse_response(body)
    replay.reply = Reply(orjson.dumps(format_response(resp, parse_request({"model": "m", "messages": MESSAGES}))))
    got = openai_client(replay).chat.completions.create(model="gpt-x", messages=MESSAGES)
    wanted = [b["input"] for b in body["content"] if b["type"] == "tool_use"]
    assert [orjson.loads(c.function.arguments) for c in got.choices[0].message.tool_calls] == wanted


# -------------------------------------------------------------------------------- streaming


def test_create_stream_text(replay) -> None:
    serve_stream(replay, text_events(full_usage()))
    pieces = list(openai_client(replay).chat.completions.create(model="gpt-x", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == "Hello"
    assert pieces[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in pieces)


def test_create_stream_usage_when_asked(replay) -> None:
    serve_stream(replay, text_events(full_usage()), stream_options={"include_usage": True})
    pieces = list(
        openai_client(replay).chat.completions.create(
            model="gpt-x", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert pieces[-1].choices == [] and pieces[-1].usage is not None
    assert (pieces[-1].usage.prompt_tokens, pieces[-1].usage.completion_tokens) == (14, 9)


def test_stream_helper_text(replay) -> None:
    serve_stream(replay, text_events(full_usage()), stream_options={"include_usage": True})
    with openai_client(replay).chat.completions.stream(
        model="gpt-x", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert [d for d in deltas if d] == ["Hel", "lo"]  # the role chunk carries content "" as OpenAI's does
    assert final.id == "chatcmpl-msg_1" and final.model == "claude-x"
    assert final.choices[0].message.content == "Hello" and final.choices[0].finish_reason == "stop"
    assert final.usage.total_tokens == 23


def test_stream_helper_accumulates_parallel_tool_calls_and_usage(replay) -> None:
    serve_stream(replay, parallel_events(), stream_options={"include_usage": True}, tools=TOOLS)
    with openai_client(replay).chat.completions.stream(
        model="gpt-x", messages=MESSAGES, tools=TOOLS, stream_options={"include_usage": True}
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Checking." and final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("call_a", "get_weather", '{"city":"Paris"}'),
        ("call_b", "get_time", '{"tz":"CET"}'),
    ]
    assert [(e.name, e.index) for e in done] == [("get_weather", 0), ("get_time", 1)]
    assert final.usage.prompt_tokens == 14 and final.usage.completion_tokens_details.reasoning_tokens == 3


def test_stream_helper_reads_a_translated_anthropic_stream(replay) -> None:
    from chat_helpers import FIXTURES as here

    from switchyard.core import SSEDecoder

    data = (here.parent.parent / "anthropic" / "fixtures" / "stream_tool_use.sse").read_bytes()
    sse, dec = SSEDecoder(), anthropic.StreamDecoder()
    events = [e for f in sse.feed(data) + sse.flush() for e in dec.feed(f)] + dec.finish()
    serve_stream(replay, events, stream_options={"include_usage": True}, tools=TOOLS)
    with openai_client(replay).chat.completions.stream(
        model="gpt-x", messages=MESSAGES, tools=TOOLS, stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls and all(isinstance(orjson.loads(c.function.arguments), dict) for c in calls)
    assert final.choices[0].finish_reason == "tool_calls" and final.usage.total_tokens > 0


def test_in_band_error_raises(replay) -> None:
    events = [*text_events(full_usage())[:3], StreamError(GatewayError(ErrorKind.OVERLOADED, "Overloaded"))]
    serve_stream(replay, events)
    with pytest.raises(openai.APIError) as info:
        list(openai_client(replay).chat.completions.create(model="gpt-x", messages=MESSAGES, stream=True))
    assert "Overloaded" in str(info.value)


def test_in_band_error_raises_in_the_stream_helper(replay) -> None:
    serve_stream(replay, [*text_events(full_usage())[:3], StreamError(GatewayError(ErrorKind.SERVER, "boom"))])
    with (
        pytest.raises(openai.APIError),
        openai_client(replay).chat.completions.stream(model="gpt-x", messages=MESSAGES) as stream,
    ):
        for _ in stream:
            pass


@pytest.mark.parametrize(
    ("err", "exc_type"),
    [
        (GatewayError(ErrorKind.RATE_LIMIT, "slow down"), openai.RateLimitError),
        (GatewayError(ErrorKind.AUTHENTICATION, "bad key"), openai.AuthenticationError),
        (GatewayError(ErrorKind.INVALID_REQUEST, "bad field", param="messages"), openai.BadRequestError),
        (GatewayError(ErrorKind.OVERLOADED, "busy"), openai.InternalServerError),
    ],
)
def test_http_errors(replay, err: GatewayError, exc_type: type) -> None:
    status, body = format_error(err)
    replay.reply = Reply(orjson.dumps(body), status=status)
    with pytest.raises(exc_type) as info:
        openai_client(replay).chat.completions.create(model="gpt-x", messages=MESSAGES)
    assert info.value.status_code == status and err.message in str(info.value)
