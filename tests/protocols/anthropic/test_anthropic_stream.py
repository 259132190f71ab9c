"""StreamDecoder (Anthropic SSE -> core events) and StreamEncoder (core events -> Anthropic SSE)."""

from __future__ import annotations

import orjson
import pytest
from anthropic_helpers import decode, encode, frames, load, names, raw

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
from switchyard.core.model import ReasoningPart, StopReason, TextPart, ToolCallPart, Usage
from switchyard.core.sse import SSEFrame, encode_frame
from switchyard.protocols.anthropic import StreamDecoder, parse_response

STREAMS = names("stream_*.sse")


def canon(events) -> list:
    """Events made comparable (exceptions have no equality)."""
    return [
        ("error", e.error.kind, e.error.message, e.error.status, e.error.upstream_type)
        if isinstance(e, StreamError)
        else e
        for e in events
    ]


def fold(events) -> dict:
    """What a client would assemble from core events."""
    parts: dict[int, dict] = {}
    out: dict = {"parts": parts, "stop": None, "usage": None, "error": None, "start": None}
    for e in events:
        if isinstance(e, MessageStart):
            out["start"] = e
        elif isinstance(e, PartStart):
            p = e.part
            kind = "tool" if isinstance(p, ToolCallPart) else "reasoning" if isinstance(p, ReasoningPart) else "text"
            parts[e.index] = {
                "kind": kind,
                "text": "",
                "sig": "",
                "id": getattr(p, "id", None),
                "redacted": getattr(p, "redacted", None),
            }
        elif isinstance(e, TextDelta | ReasoningDelta):
            parts[e.index]["text"] += e.text
        elif isinstance(e, ToolArgsDelta):
            parts[e.index]["text"] += e.json
        elif isinstance(e, SignatureDelta):
            parts[e.index]["sig"] += e.signature
        elif isinstance(e, MessageDelta):
            out["stop"] = e.stop_reason or out["stop"]
            out["usage"] = e.usage or out["usage"]
        elif isinstance(e, StreamError):
            out["error"] = e.error
    return out


def check_order(events) -> None:
    """The core event grammar (core/events.py)."""
    body = [e for e in events if not isinstance(e, Heartbeat)]
    assert isinstance(body[0], MessageStart | StreamError)
    open_index = None
    seen = -1
    for e in body[1:]:
        if isinstance(e, PartStart):
            assert open_index is None, "parts interleave"
            assert e.index == seen + 1, "indices are not contiguous"
            open_index = seen = e.index
        elif isinstance(e, PartStop):
            assert e.index == open_index
            open_index = None
        elif isinstance(e, TextDelta | ToolArgsDelta | ReasoningDelta | SignatureDelta):
            assert e.index == open_index
        elif isinstance(e, MessageDelta | MessageStop):
            assert open_index is None, "a part is still open at the end"
    assert isinstance(body[-1], MessageStop | StreamError)


# ------------------------------------------------------------------------------------ decoder


@pytest.mark.parametrize("name", STREAMS)
def test_decoder_event_grammar(name: str) -> None:
    check_order(decode(raw(name)))


@pytest.mark.parametrize("name", STREAMS)
def test_chunking_does_not_matter(name: str) -> None:
    data = raw(name)
    whole = canon(decode(data))
    step = max(1, len(data) // 300)
    for cut in range(0, len(data), step):
        assert canon(decode(data, [cut])) == whole, f"split at byte {cut}"
    assert canon(decode(data, list(range(0, len(data), 5)))) == whole


def test_stream_matches_its_message() -> None:
    """stream_thinking.sse and response_thinking.json are the same answer."""
    got = fold(decode(raw("stream_thinking.sse")))
    message = parse_response(load("response_thinking.json"))
    thinking, text = message.content
    assert got["parts"][0]["kind"] == "reasoning"
    assert (got["parts"][0]["text"], got["parts"][0]["sig"]) == (thinking.text, thinking.signature)
    assert got["parts"][1]["text"] == text.text
    assert got["stop"] == StopReason.END_TURN


def test_signature_delta_accumulates() -> None:
    events = decode(raw("stream_thinking_signature_refusal.sse"))
    signatures = [e for e in events if isinstance(e, SignatureDelta)]
    assert [(s.index, s.source) for s in signatures] == [(0, "anthropic")]
    start = next(e for e in events if isinstance(e, PartStart))
    assert isinstance(start.part, ReasoningPart) and start.part.signature_source == "anthropic"
    got = fold(events)
    assert got["stop"] == StopReason.REFUSAL and got["usage"].reasoning_tokens == 67


def test_usage_in_message_start() -> None:
    start = decode(raw("stream_tool_use.sse"))[0]
    assert isinstance(start, MessageStart)
    assert start.id == "msg_01AusY9WEbCaj3N7Tv5J4YjH" and start.model == "claude-haiku-4-5-20251001"
    assert start.usage is not None and (start.usage.input_tokens, start.usage.output_tokens) == (656, 26)


def test_message_delta_usage_is_complete() -> None:
    """Older servers send only output_tokens in message_delta: the input numbers of
    message_start are merged in."""
    delta = next(e for e in decode(raw("stream_plain_text.sse")) if isinstance(e, MessageDelta))
    assert delta.usage is not None and (delta.usage.input_tokens, delta.usage.output_tokens) == (11, 6)
    delta = next(e for e in decode(raw("stream_text_after_tool_result.sse")) if isinstance(e, MessageDelta))
    assert delta.usage is not None and (delta.usage.input_tokens, delta.usage.output_tokens) == (770, 38)
    assert delta.usage.extensions["_anthropic"]["service_tier"] == "standard"


def test_tool_use_stream() -> None:
    events = decode(raw("stream_text_then_tool_use.sse"))
    got = fold(events)
    assert got["parts"][0]["text"] == "I'll check the current weather in Paris for you."
    assert got["parts"][1]["id"] == "toolu_01NRLabsLyVHZPKxbKvkfSMn"
    assert orjson.loads(got["parts"][1]["text"]) == {"location": "Paris"}
    assert all(e.json for e in events if isinstance(e, ToolArgsDelta)), "the empty first fragment is skipped"
    assert got["stop"] == StopReason.TOOL_USE
    assert sum(isinstance(e, Heartbeat) for e in events) == 1


def test_max_tokens_mid_tool_input() -> None:
    events = decode(raw("stream_max_tokens_mid_tool_input.sse"))
    check_order(events)
    stop = events.index(next(e for e in events if isinstance(e, MessageDelta)))
    assert isinstance(events[stop - 1], PartStop) and events[stop - 1].index == 1
    got = fold(events)
    assert got["stop"] == StopReason.MAX_TOKENS and got["parts"][1]["text"].startswith('{"filename": "taxes.txt')


def test_error_event() -> None:
    events = decode(raw("stream_error_overloaded.sse"))
    assert isinstance(events[-1], StreamError)
    err = events[-1].error
    assert (err.kind, err.status, err.upstream_type, err.message) == (
        ErrorKind.OVERLOADED,
        529,
        "overloaded_error",
        "Overloaded",
    )


def test_stream_cut_before_message_stop() -> None:
    data = raw("stream_plain_text.sse")
    cut = data[: data.index(b"event: message_delta")]
    events = decode(cut)
    assert isinstance(events[-1], StreamError) and events[-1].error.kind == ErrorKind.SERVER
    assert "ended before completion" in events[-1].error.message
    assert not any(isinstance(e, MessageDelta | MessageStop) for e in events)


def test_nothing_after_the_end() -> None:
    dec = StreamDecoder()
    data = raw("stream_plain_text.sse") + b'\n\nevent: ping\ndata: {"type":"ping"}\n\n'
    events = decode(data)
    assert isinstance(events[-1], MessageStop)
    assert dec.finish() != [] and dec.finish() == []


def test_unknown_blocks_events_and_deltas_are_ignored() -> None:
    def frame(data: dict) -> SSEFrame:
        return SSEFrame(orjson.dumps(data).decode(), data["type"])

    stream = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "compaction_started"},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "citations_delta", "citation": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]
    dec = StreamDecoder()
    events = [e for d in stream for e in dec.feed(frame(d))] + dec.finish()
    check_order(events)
    assert [type(e).__name__ for e in events] == [
        "MessageStart",
        "PartStart",
        "TextDelta",
        "PartStop",
        "MessageDelta",
        "MessageStop",
    ]
    assert events[1].index == 0


def test_not_json_is_an_error() -> None:
    dec = StreamDecoder()
    events = dec.feed(SSEFrame("{oops", "message_start"))
    assert isinstance(events[0], StreamError) and dec.finish() == []


# ------------------------------------------------------------------------------------ encoder


def names_of(data: bytes) -> list[str]:
    return [name for name, _ in frames(data)]


def usage(**kw) -> Usage:
    return Usage(**kw)


def test_same_protocol_stream_survives_re_encoding() -> None:
    for name in STREAMS:
        original = fold(decode(raw(name)))
        again = fold(decode(encode(decode(raw(name)))))
        assert again["parts"] == original["parts"], name
        assert again["stop"] == original["stop"]
        assert (again["error"] is None) == (original["error"] is None)


def test_encoder_wire_format() -> None:
    events = [
        MessageStart("resp_1", "gpt-x", usage(input_tokens=7)),
        Heartbeat(),
        PartStart(0, TextPart("")),
        TextDelta(0, "Hel"),
        TextDelta(0, "lo"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN, usage=usage(input_tokens=7, cache_read_tokens=3, output_tokens=2)),
        MessageStop(),
    ]
    assert frames(encode(events)) == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_resp_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "gpt-x",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 7,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 0,
                    },
                },
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {
                    "input_tokens": 7,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 3,
                    "output_tokens": 2,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_message_start_without_usage_and_no_message_start() -> None:
    out = frames(encode([PartStart(0, TextPart("")), TextDelta(0, "x"), PartStop(0), MessageDelta(), MessageStop()]))
    assert out[0][0] == "message_start"
    assert out[0][1]["message"]["usage"]["input_tokens"] == 0 and out[0][1]["message"]["model"] == "claude-test"
    assert out[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_parallel_tool_calls_share_a_stream() -> None:
    events = [
        MessageStart("c", "m"),
        PartStart(0, ToolCallPart("call_1", "get_weather", "")),
        ToolArgsDelta(0, '{"city":'),
        ToolArgsDelta(0, '"Paris"}'),
        PartStop(0),
        PartStart(1, ToolCallPart("call_2", "get_weather", '{"city":"Rome"}')),
        PartStop(1),
        MessageDelta(StopReason.TOOL_USE, usage=usage(output_tokens=20)),
        MessageStop(),
    ]
    out = frames(encode(events))
    starts = [d for n, d in out if n == "content_block_start"]
    assert [(s["index"], s["content_block"]["id"], s["content_block"]["input"]) for s in starts] == [
        (0, "call_1", {}),
        (1, "call_2", {}),
    ]
    args = {}
    for n, d in out:
        if n == "content_block_delta":
            args[d["index"]] = args.get(d["index"], "") + d["delta"]["partial_json"]
    assert {i: orjson.loads(a) for i, a in args.items()} == {0: {"city": "Paris"}, 1: {"city": "Rome"}}
    assert names_of(encode(events)).count("content_block_stop") == 2
    assert out[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_tool_calls_reported_as_tool_use() -> None:
    events = [
        MessageStart("c", "m"),
        PartStart(0, ToolCallPart("c1", "f", "{}")),
        PartStop(0),
        MessageDelta(StopReason.END_TURN),
        MessageStop(),
    ]
    assert frames(encode(events))[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_anthropic_thinking_with_signature() -> None:
    events = [
        MessageStart("msg_1", "claude"),
        PartStart(0, ReasoningPart("", None, "anthropic")),
        ReasoningDelta(0, "hmm"),
        SignatureDelta(0, "SIG", "anthropic"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN),
        MessageStop(),
    ]
    out = frames(encode(events))
    assert out[1][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [d["delta"] for n, d in out if n == "content_block_delta"] == [
        {"type": "thinking_delta", "thinking": "hmm"},
        {"type": "signature_delta", "signature": "SIG"},
    ]


def test_foreign_reasoning_has_no_signature() -> None:
    events = [
        MessageStart("r", "gpt"),
        PartStart(0, ReasoningPart("", None, "openai_responses")),
        ReasoningDelta(0, "summary"),
        SignatureDelta(0, "ENCRYPTED", "openai_responses"),
        PartStop(0),
        PartStart(1, ReasoningPart()),
        SignatureDelta(1, "GEMINI", "gemini"),
        PartStop(1),
        PartStart(2, TextPart("")),
        PartStop(2),
        PartStart(3, TextPart("")),
        TextDelta(3, ""),
        TextDelta(3, "answer"),
        PartStop(3),
        MessageDelta(StopReason.END_TURN),
        MessageStop(),
    ]
    out = frames(encode(events))
    starts = [(d["index"], d["content_block"]["type"]) for n, d in out if n == "content_block_start"]
    assert starts == [(0, "thinking"), (1, "text")], "signature-only and empty parts make no block"
    deltas = [d["delta"] for n, d in out if n == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "summary"},
        {"type": "signature_delta", "signature": ""},  # as the plain answer's "signature": ""
        {"type": "text_delta", "text": "answer"},
    ]


def test_signature_given_with_part_start() -> None:
    events = [
        MessageStart("m", "c"),
        PartStart(0, ReasoningPart("all at once", "SIG", "anthropic")),
        PartStop(0),
        MessageStop(),
    ]
    deltas = [d["delta"] for n, d in frames(encode(events)) if n == "content_block_delta"]
    assert deltas == [
        {"type": "thinking_delta", "thinking": "all at once"},
        {"type": "signature_delta", "signature": "SIG"},
    ]


def test_redacted_thinking() -> None:
    events = [
        MessageStart("m", "c"),
        PartStart(0, ReasoningPart(redacted="DATA", signature_source="anthropic")),
        PartStop(0),
        MessageStop(),
    ]
    out = frames(encode(events))
    assert out[1][1]["content_block"] == {"type": "redacted_thinking", "data": "DATA"}
    assert out[2][0] == "content_block_stop"


def test_blocks_never_interleave_and_open_parts_are_closed() -> None:
    events = [
        MessageStart("m", "c"),
        PartStart(0, TextPart("")),
        TextDelta(0, "a"),
        PartStart(1, ToolCallPart("t", "f", "")),
        ToolArgsDelta(1, "{}"),
        TextDelta(0, "late"),  # for a part that is already closed: dropped
        MessageDelta(StopReason.TOOL_USE, usage=usage(input_tokens=1, output_tokens=2)),
        MessageStop(),
    ]
    assert names_of(encode(events)) == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_finish_completes_a_started_stream() -> None:
    events = [
        MessageStart("m", "c"),
        PartStart(0, TextPart("")),
        TextDelta(0, "a"),
        MessageDelta(StopReason.MAX_TOKENS, usage=usage(output_tokens=5)),
    ]
    out = frames(encode(events))
    assert [n for n, _ in out][-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert out[-2][1]["delta"]["stop_reason"] == "max_tokens" and out[-2][1]["usage"]["output_tokens"] == 5


def test_finish_of_an_empty_stream_is_an_error() -> None:
    out = frames(encode([]))
    assert out == [
        (
            "error",
            {"type": "error", "error": {"type": "api_error", "message": "upstream stream ended before completion"}},
        )
    ]


def test_stream_error_and_nothing_after() -> None:
    err = GatewayError(ErrorKind.OVERLOADED, "Overloaded", status=503)
    events = [
        MessageStart("m", "c"),
        PartStart(0, TextPart("")),
        TextDelta(0, "x"),
        StreamError(err),
        TextDelta(0, "y"),
        MessageStop(),
    ]
    out = frames(encode(events))
    assert out[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert [n for n, _ in out].count("error") == 1 and "message_stop" not in [n for n, _ in out]


def test_later_message_delta_wins() -> None:
    events = [
        MessageStart("m", "c", usage(input_tokens=9)),
        MessageDelta(None, usage=usage(input_tokens=9, output_tokens=1)),
        MessageDelta(StopReason.STOP_SEQUENCE, "END", usage(input_tokens=9, output_tokens=4, cache_write_tokens=2)),
        MessageDelta(None),
        MessageStop(),
    ]
    delta = frames(encode(events))[-2][1]
    assert delta["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    assert delta["usage"] == {
        "input_tokens": 9,
        "cache_creation_input_tokens": 2,
        "cache_read_input_tokens": 0,
        "output_tokens": 4,
    }


def test_upstream_usage_object_kept_for_messages_clients() -> None:
    out = frames(encode(decode(raw("stream_tool_use.sse"))))
    start_usage = out[0][1]["message"]["usage"]
    assert start_usage["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
    assert out[-2][1]["usage"]["input_tokens"] == 656 and out[-2][1]["usage"]["output_tokens"] == 74


def test_encoder_writes_event_lines() -> None:
    data = encode([MessageStart("m", "c"), MessageStop()])
    assert data.startswith(b"event: message_start\ndata: {")
    assert data.endswith(encode_frame(b'{"type":"message_stop"}', "message_stop"))
