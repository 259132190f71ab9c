"""StreamDecoder on every real Chat stream (any chunking) and StreamEncoder on event sequences
from any decoder."""

from __future__ import annotations

import orjson
import pytest
from chat_helpers import chunks, decode, encode, names, raw, text_events

from switchyard.core.errors import ErrorKind, GatewayError
from switchyard.core.events import (
    Heartbeat,
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
from switchyard.core.model import ReasoningPart, Request, StopReason, TextPart, ToolCallPart, Usage
from switchyard.protocols.openai_chat import parse_request

STREAMS = names("stream_*.sse")


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events if not isinstance(e, TextDelta | ToolArgsDelta | ReasoningDelta)]


def text_of(events, index: int) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta | ReasoningDelta) and e.index == index)


def args_of(events, index: int) -> str:
    return "".join(e.json for e in events if isinstance(e, ToolArgsDelta) and e.index == index)


def comparable(events) -> list:
    """Events with errors (exceptions compare by identity) replaced by their fields."""
    return [(e.error.kind, e.error.status, e.error.message) if isinstance(e, StreamError) else e for e in events]


def wire_payloads(name: str) -> list[dict]:
    return [c for c in chunks(raw(name)) if c != "[DONE]"]


# --------------------------------------------------------------------------------- decoder


@pytest.mark.parametrize("name", STREAMS)
def test_grammar_and_chunking_independence(name: str) -> None:
    data = raw(name)
    whole = decode(data)
    assert isinstance(whole[0], MessageStart)
    for cuts in ([1], [7, 8, 9], list(range(0, len(data), 13))):
        assert comparable(decode(data, cuts)) == comparable(whole)
    # parts do not interleave and are numbered from 0 in start order
    open_index = None
    started = []
    for e in whole:
        if isinstance(e, PartStart):
            assert open_index is None
            open_index = e.index
            started.append(e.index)
        elif isinstance(e, PartStop):
            assert e.index == open_index
            open_index = None
        elif isinstance(e, TextDelta | ToolArgsDelta | ReasoningDelta):
            assert e.index == open_index
    assert started == list(range(len(started)))
    if name != "stream_error_midstream.sse":
        assert isinstance(whole[-2], MessageDelta) and isinstance(whole[-1], MessageStop)


@pytest.mark.parametrize("name", [n for n in STREAMS if n != "stream_error_midstream.sse"])
def test_text_and_usage_match_the_wire(name: str) -> None:
    payloads = wire_payloads(name)
    events = decode(raw(name))
    start = events[0]
    assert start.id == payloads[0]["id"] and start.model == payloads[0]["model"]
    wire_text = "".join(c["choices"][0]["delta"].get("content") or "" for c in payloads if c.get("choices"))
    got = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert got == wire_text
    usage_chunk = next(c["usage"] for c in payloads if c.get("usage"))
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert delta.usage is not None
    cached = (usage_chunk.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    assert delta.usage.input_tokens == usage_chunk["prompt_tokens"] - cached
    assert delta.usage.output_tokens == usage_chunk["completion_tokens"]
    assert delta.usage.total_tokens == usage_chunk["total_tokens"]


def test_tool_call_stream() -> None:
    events = decode(raw("stream_tool_call.sse"))
    start = next(e for e in events if isinstance(e, PartStart))
    assert isinstance(start.part, ToolCallPart) and start.part.id and start.part.name
    assert orjson.loads(args_of(events, 0))
    assert next(e for e in events if isinstance(e, MessageDelta)).stop_reason == StopReason.TOOL_USE


def test_multiple_tool_calls_share_a_stream() -> None:
    events = decode(raw("stream_parallel_tool_calls.sse"))
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [(s.index, s.part.name) for s in starts] == [(0, "GetWeatherArgs"), (1, "get_stock_price")]
    assert [s.part.id for s in starts] == ["call_JMW1whyEaYG438VE1OIflxA2", "call_DNYTawLBoN8fj3KN6qU9N1Ou"]
    assert orjson.loads(args_of(events, 0)) == {"city": "Edinburgh", "country": "GB", "units": "c"}
    assert orjson.loads(args_of(events, 1)) == {"ticker": "AAPL", "exchange": "NASDAQ"}
    # the first call is closed before the second starts
    assert events.index(PartStop(0)) < events.index(starts[1])


def test_refusal_stream_is_text() -> None:
    events = decode(raw("stream_refusal.sse"))
    assert "can't assist" in text_of(events, 0)


def test_error_midstream() -> None:
    events = decode(raw("stream_error_midstream.sse"))
    assert kinds(events) == ["MessageStart", "PartStart", "StreamError"]
    err = events[-1].error
    assert err.kind == ErrorKind.SERVER and "server had an error" in err.message
    assert err.upstream_type == "server_error"


def test_cut_stream_is_an_error() -> None:
    data = raw("stream_plain_text.sse")
    cut = data[: data.index(b'"finish_reason":"stop"') - 200]
    cut = cut[: cut.rindex(b"\n\n") + 2]
    events = decode(cut)
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.message == "upstream stream ended before completion"
    assert not any(isinstance(e, MessageStop) for e in events)


def test_missing_done_after_finish_and_usage_is_complete() -> None:
    data = raw("stream_plain_text.sse").replace(b"data: [DONE]\n\n", b"")
    events = decode(data)
    assert isinstance(events[-1], MessageStop)
    assert events[-2].usage is not None and events[-2].stop_reason == StopReason.END_TURN


def test_reasoning_content_from_compatible_servers() -> None:
    def frame(delta, finish=None):
        chunk = {"id": "c1", "model": "deepseek", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    data = (
        frame({"role": "assistant", "reasoning_content": "let me"})
        + frame({"reasoning": " think"})
        + frame({"content": "Answer"})
        + frame({}, "stop")
        + b"data: [DONE]\n\n"
    )
    events = decode(data)
    assert isinstance(events[1], PartStart) and isinstance(events[1].part, ReasoningPart)
    assert text_of(events, 0) == "let me think" and text_of(events, 1) == "Answer"
    assert kinds(events) == [
        "MessageStart",
        "PartStart",
        "PartStop",
        "PartStart",
        "PartStop",
        "MessageDelta",
        "MessageStop",
    ]


def test_interleaved_parallel_arguments_are_an_error_not_a_drop() -> None:
    def frame(calls):
        return (
            b"data: "
            + orjson.dumps({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": calls}}]})
            + b"\n\n"
        )

    data = (
        frame([{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{"}}])
        + frame([{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{"}}])
        + frame([{"index": 0, "function": {"arguments": "}"}}])
    )
    events = decode(data)
    assert isinstance(events[-1], StreamError)


def test_azure_prompt_filter_chunk_does_not_start_the_message() -> None:
    lead = b'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}\n\n'
    events = decode(lead + raw("stream_plain_text.sse"))
    assert events[0].id.startswith("chatcmpl-") and events[0].model == "gpt-4o-2024-08-06"


def test_done_alone_is_still_a_grammatical_message() -> None:
    assert kinds(decode(b"data: [DONE]\n\n")) == ["MessageStart", "MessageDelta", "MessageStop"]


def test_not_json_chunk_is_an_error() -> None:
    assert isinstance(decode(b"data: {oops\n\n")[-1], StreamError)


def test_comments_and_nothing_after_the_end() -> None:
    data = b": keepalive\n\n" + raw("stream_plain_text.sse") + b'data: {"id":"x","choices":[]}\n\n'
    assert decode(data) == decode(raw("stream_plain_text.sse"))


# --------------------------------------------------------------------------------- encoder


def chat_req(**body) -> Request:
    return parse_request({"model": "gpt-client", "messages": [{"role": "user", "content": "q"}], **body})


USAGE = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=4, reasoning_tokens=2)


def test_text_encoding() -> None:
    out = chunks(encode(text_events(USAGE), chat_req(stream=True)))
    assert out[-1] == "[DONE]"
    assert out[0]["choices"][0]["delta"] == {"role": "assistant"}  # no content field until there is content
    assert (
        out[0]["id"] == "chatcmpl-msg_1"
        and out[0]["model"] == "claude-x"
        and out[0]["object"] == "chat.completion.chunk"
    )
    assert [c["choices"][0]["delta"].get("content") for c in out[1:3]] == ["Hel", "lo"]
    assert out[3]["choices"][0]["finish_reason"] == "stop" and out[3]["choices"][0]["delta"] == {}
    assert len(out) == 5  # no usage chunk: the client did not ask


def test_include_usage_only_when_asked() -> None:
    without = chunks(encode(text_events(USAGE), chat_req(stream=True)))
    assert not any(isinstance(c, dict) and "usage" in c for c in without)
    with_usage = chunks(encode(text_events(USAGE), chat_req(stream=True, stream_options={"include_usage": True})))
    usage_chunk = with_usage[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 14,
        "completion_tokens": 5,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }


def test_usage_in_message_start() -> None:
    events = text_events()
    events[0] = MessageStart("msg_1", "claude-x", usage=Usage(input_tokens=7))
    out = chunks(encode(events, chat_req(stream=True, stream_options={"include_usage": True})))
    assert out[-2]["usage"]["prompt_tokens"] == 7
    # a later MessageDelta (cumulative, complete) wins
    events = text_events(USAGE)
    events[0] = MessageStart("msg_1", "claude-x", usage=Usage(input_tokens=7))
    out = chunks(encode(events, chat_req(stream=True, stream_options={"include_usage": True})))
    assert out[-2]["usage"]["prompt_tokens"] == 14


def test_multiple_tool_calls_encoded_with_wire_indexes() -> None:
    events = [
        MessageStart("m", "x"),
        PartStart(0, TextPart("")),
        TextDelta(0, "Calling."),
        PartStop(0),
        PartStart(1, ToolCallPart("t1", "f", "")),
        ToolArgsDelta(1, '{"a":'),
        ToolArgsDelta(1, "1}"),
        PartStop(1),
        PartStart(2, ToolCallPart("t2", "g", "")),
        ToolArgsDelta(2, "{}"),
        PartStop(2),
        MessageDelta(StopReason.TOOL_USE),
        MessageStop(),
    ]
    out = [c for c in chunks(encode(events)) if c != "[DONE]"]
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in out if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0] == {"index": 0, "id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}
    assert [c["index"] for c in calls] == [0, 0, 0, 1, 1]
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_call_with_arguments_in_part_start() -> None:
    events = [
        MessageStart("m", "x"),
        PartStart(0, ToolCallPart("t1", "f", '{"a":1}')),
        PartStop(0),
        MessageDelta(StopReason.TOOL_USE),
        MessageStop(),
    ]
    out = [c for c in chunks(encode(events)) if c != "[DONE]"]
    args = "".join(
        c["choices"][0]["delta"]["tool_calls"][0]["function"].get("arguments", "")
        for c in out
        if "tool_calls" in c["choices"][0]["delta"]
    )
    assert args == '{"a":1}'


def test_signature_delta_accumulates() -> None:
    # Chat clients have no place for signatures: the reasoning text goes out, the signature does not
    events = [
        MessageStart("m", "x"),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "hmm"),
        SignatureDelta(0, "sig-a", "anthropic"),
        SignatureDelta(0, "sig-b", "anthropic"),
        PartStop(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "ok"),
        PartStop(1),
        MessageDelta(StopReason.END_TURN),
        MessageStop(),
    ]
    data = encode(events)
    assert b"sig-" not in data
    deltas = [c["choices"][0]["delta"] for c in chunks(data) if c != "[DONE]"]
    assert {"reasoning_content": "hmm"} in deltas and {"content": "ok"} in deltas


def test_redacted_thinking() -> None:
    events = [
        MessageStart("m", "x"),
        PartStart(0, ReasoningPart(redacted="opaque")),
        PartStop(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "ok"),
        PartStop(1),
        MessageDelta(StopReason.END_TURN),
        MessageStop(),
    ]
    data = encode(events)
    assert b"opaque" not in data and b'"content":"ok"' in data


def test_refusal_part_goes_out_as_refusal() -> None:
    events = [
        MessageStart("m", "x"),
        PartStart(0, TextPart("", {"refusal": True})),
        TextDelta(0, "no"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN),
        MessageStop(),
    ]
    deltas = [c["choices"][0]["delta"] for c in chunks(encode(events)) if c != "[DONE]"]
    assert {"refusal": "no"} in deltas


def test_message_delta_without_stop_then_another() -> None:
    events = [
        MessageStart("m", "x"),
        MessageDelta(None, usage=Usage(input_tokens=1)),
        MessageDelta(StopReason.MAX_TOKENS),
        MessageStop(),
    ]
    out = chunks(encode(events, chat_req(stream=True, stream_options={"include_usage": True})))
    assert out[-3]["choices"][0]["finish_reason"] == "length"
    assert out[-2]["usage"]["prompt_tokens"] == 1


def test_heartbeat_is_a_comment() -> None:
    enc_out = encode([Heartbeat(), *text_events(USAGE)])
    assert enc_out.startswith(b": ")


def test_stream_error_is_the_openai_error_chunk_and_nothing_after() -> None:
    events = [
        *text_events(USAGE)[:3],
        StreamError(GatewayError(ErrorKind.OVERLOADED, "busy")),
        TextDelta(0, "late"),
        MessageStop(),
    ]
    data = encode(events)
    out = chunks(data)
    assert out[-1] == {
        "error": {"message": "busy", "type": "server_error", "param": None, "code": "server_is_overloaded"}
    }
    assert b"late" not in data and b"[DONE]" not in data


def test_finish_without_stop_is_an_error() -> None:
    out = chunks(encode(text_events(USAGE)[:3]))
    assert "error" in out[-1] and out[-1]["error"]["message"] == "upstream stream ended before completion"


def test_events_without_message_start() -> None:
    out = chunks(
        encode([PartStart(0, TextPart("")), TextDelta(0, "x"), PartStop(0), MessageStop()], chat_req(stream=True))
    )
    assert out[0]["model"] == "gpt-client" and out[1]["choices"][0]["delta"] == {"content": "x"}


@pytest.mark.parametrize("name", [n for n in STREAMS if n != "stream_error_midstream.sse"])
def test_decode_encode_decode_is_stable(name: str) -> None:
    first = decode(raw(name))
    again = decode(encode(first, chat_req(stream=True, stream_options={"include_usage": True})))

    def shape(events):
        return [
            (type(e).__name__, getattr(e, "text", None), getattr(e, "json", None), getattr(e, "stop_reason", None))
            for e in events
            if not isinstance(e, MessageStart)
        ]

    assert shape(again) == shape(first)
    usage_a = next(e for e in first if isinstance(e, MessageDelta)).usage
    usage_b = next(e for e in again if isinstance(e, MessageDelta)).usage
    assert (usage_a.input_tokens, usage_a.output_tokens, usage_a.cache_read_tokens) == (
        usage_b.input_tokens,
        usage_b.output_tokens,
        usage_b.cache_read_tokens,
    )
