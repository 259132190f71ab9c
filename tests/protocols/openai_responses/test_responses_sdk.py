"""The official openai SDK reads what our Responses encoder and format_response produce.

The bytes are served by a real HTTP server on 127.0.0.1 (the ``replay`` fixture); the SDK parses
them with its own response models and stream accumulator (``responses.stream`` is strict about
item identities, output indexes and the event order).
"""

from __future__ import annotations

import openai
import orjson
import pytest
from protocol_helpers import full_usage, openai_client
from responses_helpers import decode, encode, load, raw

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
from switchyard.protocols.openai_responses import format_error, format_response, parse_request

SSE = "text/event-stream"
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": False,
    }
]


def reply_json(replay, resp: Response, body: dict) -> None:
    replay.reply = Reply(orjson.dumps(format_response(resp, parse_request(body))))


def test_create_text_and_usage(replay) -> None:
    body = {"model": "gpt-x", "input": "hi", "instructions": "be brief"}
    resp = Response(
        id="msg_1",
        model="claude-x",
        content=[TextPart("Hello "), TextPart("there")],
        usage=full_usage(),
        protocol="anthropic",
    )
    reply_json(replay, resp, body)
    out = openai_client(replay).responses.create(**body)
    assert out.output_text == "Hello there"
    assert out.id == "resp_msg_1" and out.model == "claude-x" and out.status == "completed"
    assert out.instructions == "be brief"
    assert out.usage is not None
    assert (out.usage.input_tokens, out.usage.input_tokens_details.cached_tokens) == (14, 4)
    assert (out.usage.output_tokens, out.usage.output_tokens_details.reasoning_tokens, out.usage.total_tokens) == (
        9,
        3,
        23,
    )


def test_create_parallel_function_calls(replay) -> None:
    body = {"model": "gpt-x", "input": "weather in S and K?", "tools": TOOLS}
    calls = [
        ToolCallPart("toolu_1", "get_weather", '{"city":"S"}'),
        ToolCallPart("toolu_2", "get_weather", '{"city":"K"}'),
    ]
    resp = Response(
        id="msg_2",
        model="claude-x",
        content=calls,
        stop_reason=StopReason.TOOL_USE,
        usage=full_usage(),
        protocol="anthropic",
    )
    reply_json(replay, resp, body)
    out = openai_client(replay).responses.create(**body)
    fcs = [i for i in out.output if i.type == "function_call"]
    assert [(f.call_id, f.name, orjson.loads(f.arguments)) for f in fcs] == [
        ("toolu_1", "get_weather", {"city": "S"}),
        ("toolu_2", "get_weather", {"city": "K"}),
    ]
    assert out.tools[0].name == "get_weather"  # type: ignore[union-attr]


def test_create_reasoning_summary(replay) -> None:
    body = {"model": "gpt-x", "input": "think", "reasoning": {"effort": "low", "summary": "auto"}}
    content = [ReasoningPart("step by step", signature="EroC", signature_source="anthropic"), TextPart("42")]
    resp = Response(id="msg_3", model="claude-x", content=content, usage=full_usage(), protocol="anthropic")
    reply_json(replay, resp, body)
    out = openai_client(replay).responses.create(**body)
    reasoning = out.output[0]
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "step by step"
    assert out.output_text == "42"
    assert out.reasoning is not None and out.reasoning.effort == "low"


def test_create_max_tokens_is_incomplete(replay) -> None:
    body = {"model": "gpt-x", "input": "long story", "max_output_tokens": 20}
    resp = Response(
        id="msg_4",
        model="m",
        content=[TextPart("Once")],
        stop_reason=StopReason.MAX_TOKENS,
        usage=full_usage(),
        protocol="gemini",
    )
    reply_json(replay, resp, body)
    out = openai_client(replay).responses.create(**body)
    assert out.status == "incomplete" and out.incomplete_details is not None
    assert out.incomplete_details.reason == "max_output_tokens"


def test_http_error_makes_the_sdk_raise(replay) -> None:
    status, body = format_error(GatewayError(ErrorKind.QUOTA, "You exceeded your current quota", status=402))
    replay.reply = Reply(orjson.dumps(body), status=status)
    with pytest.raises(openai.RateLimitError) as exc:
        openai_client(replay).responses.create(model="gpt-x", input="hi")
    assert exc.value.code == "insufficient_quota"


# --- streams ---------------------------------------------------------------------------------


def text_events() -> list:
    return [
        MessageStart("msg_s", "claude-x", usage=Usage(input_tokens=10)),
        PartStart(0, TextPart("")),
        TextDelta(0, "Hello"),
        TextDelta(0, " world"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN, usage=full_usage()),
        MessageStop(),
    ]


def test_stream_true_events(replay) -> None:
    body = {"model": "gpt-x", "input": "hi", "stream": True}
    replay.reply = Reply(encode(parse_request(body), text_events()), SSE)
    events = list(openai_client(replay).responses.create(**body))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello world"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "Hello world"  # type: ignore[union-attr]


def test_stream_helper_text_and_usage(replay) -> None:
    body = {"model": "gpt-x", "input": "hi"}
    replay.reply = Reply(encode(parse_request(body), text_events()), SSE)
    with openai_client(replay).responses.stream(**body) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["Hello", " world"]
    assert final.output_text == "Hello world"
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (14, 9)


def test_stream_helper_parallel_tool_calls(replay) -> None:
    body = {"model": "gpt-x", "input": "weather?", "tools": TOOLS}
    events = [MessageStart("msg_t", "claude-x"), PartStart(0, TextPart("")), TextDelta(0, "Checking."), PartStop(0)]
    for i, city in enumerate(["S", "K"], start=1):
        events += [
            PartStart(i, ToolCallPart(f"toolu_{i}", "get_weather", "")),
            ToolArgsDelta(i, '{"city":'),
            ToolArgsDelta(i, f'"{city}"}}'),
            PartStop(i),
        ]
    events += [MessageDelta(StopReason.TOOL_USE, usage=full_usage()), MessageStop()]
    replay.reply = Reply(encode(parse_request(body), events), SSE)
    with openai_client(replay).responses.stream(**body) as stream:
        final = stream.get_final_response()
    assert final.output_text == "Checking."
    calls = [i for i in final.output if i.type == "function_call"]
    assert [(c.call_id, c.arguments) for c in calls] == [("toolu_1", '{"city":"S"}'), ("toolu_2", '{"city":"K"}')]


def test_stream_helper_reasoning(replay) -> None:
    body = {"model": "gpt-x", "input": "think", "reasoning": {"summary": "auto"}}
    events = [
        MessageStart("msg_r", "m"),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "first "),
        ReasoningDelta(0, "thoughts"),
        SignatureDelta(0, "gAAA", "openai_responses"),
        PartStop(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "answer"),
        PartStop(1),
        MessageDelta(StopReason.END_TURN, usage=full_usage()),
        MessageStop(),
    ]
    replay.reply = Reply(encode(parse_request(body), events), SSE)
    with openai_client(replay).responses.stream(**body) as stream:
        final = stream.get_final_response()
    reasoning = final.output[0]
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == "first thoughts" and reasoning.encrypted_content == "gAAA"
    assert final.output_text == "answer"


def test_stream_helper_custom_tool_call_for_codex(replay) -> None:
    body = load("codex/hello/01_v1_responses.body.json")
    events = [
        MessageStart("msg_c", "claude-x"),
        PartStart(0, ToolCallPart("toolu_9", "functions__exec", "")),
        ToolArgsDelta(0, '{"input":"text(1)"}'),
        PartStop(0),
        MessageDelta(StopReason.TOOL_USE, usage=full_usage()),
        MessageStop(),
    ]
    replay.reply = Reply(encode(parse_request(body), events), SSE)
    kwargs = {k: v for k, v in body.items() if k not in ("stream", "client_metadata")}
    with openai_client(replay).responses.stream(**kwargs) as stream:
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "custom_tool_call"
    assert (call.call_id, call.name, call.input) == ("toolu_9", "exec", "text(1)")


@pytest.mark.parametrize(
    ("request_name", "stream_name"),
    [
        ("request_stream_plain_text.json", "stream_plain_text.sse"),
        ("request_stream_tool_call.json", "stream_tool_call.sse"),
        ("request_stream_reasoning_summary.json", "stream_reasoning_summary.sse"),
    ],
)
def test_real_streams_re_encoded_read_back(replay, request_name: str, stream_name: str) -> None:
    body = load(request_name)
    data = raw(stream_name)
    replay.reply = Reply(encode(parse_request(body), decode(data)), SSE)
    kwargs = {k: v for k, v in body.items() if k != "stream"}
    with openai_client(replay).responses.stream(**kwargs) as stream:
        final = stream.get_final_response()
    last = orjson.loads(data.rstrip().rsplit(b"\ndata: ", 1)[1])["response"]
    assert final.id == last["id"]
    assert final.output_text == "".join(
        c["text"] for item in last["output"] if item["type"] == "message" for c in item["content"]
    )
    assert [i.type for i in final.output] == [i["type"] for i in last["output"]]
    assert final.usage is not None and final.usage.total_tokens == last["usage"]["total_tokens"]


def test_in_band_error_makes_the_sdk_raise(replay) -> None:
    body = {"model": "gpt-x", "input": "hi"}
    err = GatewayError(ErrorKind.QUOTA, "You exceeded your current quota", code="insufficient_quota")
    events = [MessageStart("msg_e", "m"), PartStart(0, TextPart("")), TextDelta(0, "par"), StreamError(err)]
    replay.reply = Reply(encode(parse_request(body), events), SSE)
    with pytest.raises(openai.APIError) as exc, openai_client(replay).responses.stream(**body) as stream:
        for _ in stream:
            pass
    assert "exceeded your current quota" in exc.value.message


def test_real_in_band_error_stream_makes_the_sdk_raise(replay) -> None:
    body = load("request_stream_plain_text.json")
    replay.reply = Reply(encode(parse_request(body), decode(raw("stream_error_insufficient_quota.sse"))), SSE)
    with pytest.raises(openai.APIError):
        list(openai_client(replay).responses.create(**body))
