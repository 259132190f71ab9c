"""Gemini stream codec: the decoder on real transcripts, the encoder on event sequences from any
decoder, and regression tests named after their edge case."""

from __future__ import annotations

import orjson
import pytest
from gemini_helpers import CLI, FIXTURES, decode, encode, frames, load, raw

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
from switchyard.core.model import Reasoning, ReasoningPart, Request, StopReason, TextPart, ToolCallPart, Usage
from switchyard.core.sse import SSEFrame
from switchyard.protocols.gemini import StreamDecoder, parse_request
from switchyard.protocols.gemini.wire import is_minted

STREAMS = sorted(p.name for p in FIXTURES.glob("*.sse")) + sorted(
    str(p.relative_to(FIXTURES)) for p in CLI.glob("*/*.sse")
)


def comparable(events: list) -> list:
    """Events with errors turned into their fields (exceptions compare by identity)."""
    return [(e.error.kind, e.error.message, e.error.status) if isinstance(e, StreamError) else e for e in events]


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def check_order(events: list) -> None:
    """Core stream grammar: MessageStart first, parts never interleave, indices from 0, one stop."""
    assert isinstance(events[0], MessageStart)
    open_index = None
    next_index = 0
    for e in events[1:]:
        if isinstance(e, PartStart):
            assert open_index is None and e.index == next_index
            open_index, next_index = e.index, next_index + 1
        elif isinstance(e, TextDelta | ToolArgsDelta | ReasoningDelta | SignatureDelta):
            assert e.index == open_index
        elif isinstance(e, PartStop):
            assert e.index == open_index
            open_index = None
        elif isinstance(e, MessageDelta | MessageStop):
            assert open_index is None  # (a StreamError may cut a part short)
    assert isinstance(events[-1], MessageStop | StreamError)


@pytest.mark.parametrize("name", STREAMS)
def test_decoder_follows_the_event_grammar(name: str) -> None:
    check_order(decode(raw(name)))


@pytest.mark.parametrize("name", STREAMS)
def test_stream_chunking_does_not_matter(name: str) -> None:
    data = raw(name)
    whole = comparable(decode(data))
    for cut in range(0, len(data) + 1, max(1, len(data) // 97)):
        assert comparable(decode(data, [cut])) == whole
    assert comparable(decode(data, list(range(0, len(data), 5)))) == whole


def test_plain_text_stream() -> None:
    events = decode(raw("stream_plain_text.sse"))
    assert kinds(events) == ["MessageStart", "PartStart", "TextDelta", "PartStop", "MessageDelta", "MessageStop"]
    start, delta = events[0], events[4]
    assert (start.id, start.model) == ("yFWYabnBB8Wg1e8P3ZTdiAY", "gemini-2.5-flash")
    assert delta.stop_reason == StopReason.END_TURN
    assert delta.usage == Usage(
        input_tokens=11, output_tokens=34, reasoning_tokens=33, extensions=delta.usage.extensions
    )


def test_usage_in_message_start() -> None:
    start = decode(raw("stream_system_instruction.sse"))[0]
    assert start.usage.input_tokens == 29 and start.usage.output_tokens == 211


def test_usage_is_cumulative_and_the_last_chunk_wins() -> None:
    events = decode(raw("stream_text_trailing_signature_gemini31.sse"))
    delta = next(e for e in events if isinstance(e, MessageDelta))
    assert delta.usage.input_tokens == 440 and delta.usage.output_tokens == 114


def test_text_chunks_extend_one_text_part() -> None:
    events = decode(raw("stream_system_instruction.sse"))
    assert [e.index for e in events if isinstance(e, TextDelta)] == [0, 0, 0, 0]
    assert sum(isinstance(e, PartStart) for e in events) == 1


def test_parallel_tool_calls_share_a_stream() -> None:
    for name, ids in [
        ("stream_parallel_calls_gemini3.sse", ["3ae8iwca", "up3kf30e", "ycroch25"]),
        ("stream_parallel_calls_gemini25.sse", None),
    ]:
        events = decode(raw(name))
        starts = [e for e in events if isinstance(e, PartStart)]
        args = [e.json for e in events if isinstance(e, ToolArgsDelta)]
        assert [s.index for s in starts] == [0, 1, 2]
        assert [orjson.loads(a) for a in args] == [{"a": 2, "b": 3}, {"a": 4, "b": 5}, {"a": 6, "b": 7}]
        call_ids = [s.part.id for s in starts]
        if ids:
            assert call_ids == ids
        else:
            assert all(is_minted(i) for i in call_ids) and len(set(call_ids)) == 3
        sigs = [e for e in events if isinstance(e, SignatureDelta)]
        assert [(s.index, s.source) for s in sigs] == [(0, "gemini")]
        assert next(e for e in events if isinstance(e, MessageDelta)).stop_reason == StopReason.TOOL_USE


def test_trailing_signature_only_part_becomes_reasoning() -> None:
    events = decode(raw("stream_text_trailing_signature_gemini31.sse"))
    tail = events[-6:]
    assert kinds(tail) == ["PartStop", "PartStart", "SignatureDelta", "PartStop", "MessageDelta", "MessageStop"]
    assert isinstance(tail[1].part, ReasoningPart) and tail[2].signature.startswith("EsICCr8C")


def test_signature_on_a_text_part_comes_before_its_text() -> None:
    events = decode(raw("gemini_cli/hello/02_streamGenerateContent_gemini-3.8-flash.response.sse"))
    assert kinds(events)[1:12] == [
        "PartStart",
        "ReasoningDelta",
        "ReasoningDelta",
        "ReasoningDelta",
        "ReasoningDelta",
        "PartStop",
        "PartStart",
        "SignatureDelta",
        "TextDelta",
        "TextDelta",
        "PartStop",
    ]


def test_a_second_signed_text_part_starts_a_new_part() -> None:
    chunk = b'data: {"candidates":[{"content":{"parts":[{"text":"a","thoughtSignature":"s1"}]},"index":0}]}\r\n\r\n'
    last = b'data: {"candidates":[{"content":{"parts":[{"text":"b","thoughtSignature":"s2"}]},"finishReason":"STOP","index":0}]}\r\n\r\n'
    events = decode(chunk + last)
    assert [
        (type(e).__name__, getattr(e, "index", None)) for e in events if isinstance(e, PartStart | SignatureDelta)
    ] == [
        ("PartStart", 0),
        ("SignatureDelta", 0),
        ("PartStart", 1),
        ("SignatureDelta", 1),
    ]


def test_midstream_error_frame() -> None:
    events = decode(raw("stream_error_midstream.sse"))
    assert kinds(events) == ["MessageStart", "PartStart", "TextDelta", "StreamError"]
    err = events[-1].error
    assert (err.kind, err.status, err.upstream_type) == (ErrorKind.OVERLOADED, 503, "UNAVAILABLE")


def test_stream_without_finish_reason_is_an_error() -> None:
    data = raw("stream_system_instruction.sse")
    cut = data.rindex(b"data:")
    events = decode(data[:cut])
    assert isinstance(events[-1], StreamError)
    assert not any(isinstance(e, MessageStop | MessageDelta) for e in events)
    assert events[-1].error.kind == ErrorKind.SERVER


def test_empty_stream_is_an_error() -> None:
    assert kinds(decode(b"")) == ["StreamError"]


def test_non_json_frame_is_an_error() -> None:
    dec = StreamDecoder()
    assert kinds(dec.feed(SSEFrame(data="{oops"))) == ["StreamError"]
    assert dec.feed(SSEFrame(data="{}")) == [] and dec.finish() == []


def test_usage_after_the_finish_chunk_gives_another_message_delta() -> None:
    dec = StreamDecoder()
    dec.feed(
        SSEFrame(
            data='{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1}}'
        )
    )
    dec.feed(SSEFrame(data='{"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":5,"totalTokenCount":6}}'))
    tail = dec.finish()
    assert kinds(tail) == ["MessageDelta", "MessageStop"] and tail[0].usage.output_tokens == 5


def test_blocked_prompt_in_a_stream() -> None:
    events = decode(
        b'data: {"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":3},"responseId":"r"}\r\n\r\n'
    )
    assert kinds(events) == ["MessageStart", "MessageDelta", "MessageStop"]
    assert events[1].stop_reason == StopReason.CONTENT_FILTER


def test_opaque_parts_pass_through_to_gemini_clients() -> None:
    part = {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
    chunk = orjson.dumps({"candidates": [{"content": {"parts": [part]}, "finishReason": "STOP", "index": 0}]})
    events = decode(b"data: " + chunk + b"\r\n\r\n")
    assert events[1] == PartStart(0, TextPart("", extensions={"_raw_part": part}))
    out = frames(encode(Request(model=""), events))
    assert out[0]["candidates"][0]["content"]["parts"] == [part]


# --- encoder ----------------------------------------------------------------------------------


def client(include_thoughts: bool = False) -> Request:
    req = Request(model="gemini-x", protocol="gemini")
    if include_thoughts:
        req.reasoning = Reasoning(include_thoughts=True)
    return req


def test_encoder_frames_end_with_crlf_and_carry_ids() -> None:
    events = [
        MessageStart("r1", "m1"),
        PartStart(0, TextPart("")),
        TextDelta(0, "Hi"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN, usage=Usage(input_tokens=3, output_tokens=2)),
        MessageStop(),
    ]
    out = encode(client(), events)
    assert out.endswith(b"\r\n\r\n") and out.count(b"\r\n\r\n") == 2
    first, last = frames(out)
    assert first == {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "index": 0}],
        "modelVersion": "m1",
        "responseId": "r1",
    }
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}


def test_tool_call_is_buffered_and_sent_whole() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, ToolCallPart("call_1", "get_weather", "")),
        ToolArgsDelta(0, ""),
        ToolArgsDelta(0, '{"city":'),
        ToolArgsDelta(0, '"Paris"}'),
        PartStop(0),
        PartStart(1, ToolCallPart("call_2", "get_time", "")),
        ToolArgsDelta(1, "{}"),
        PartStop(1),
        MessageDelta(StopReason.TOOL_USE),
        MessageStop(),
    ]
    out = frames(encode(client(), events))
    assert [f["candidates"][0]["content"]["parts"] for f in out[:2]] == [
        [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}}],
        [{"functionCall": {"name": "get_time", "args": {}, "id": "call_2"}}],
    ]
    assert out[2]["candidates"][0]["finishReason"] == "STOP"


def test_tool_call_with_arguments_in_the_start_part() -> None:
    events = [MessageStart("r", "m"), PartStart(0, ToolCallPart("c", "f", '{"a":1}')), PartStop(0), MessageStop()]
    assert frames(encode(client(), events))[0]["candidates"][0]["content"]["parts"][0]["functionCall"]["args"] == {
        "a": 1
    }


def test_signature_delta_accumulates() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, ToolCallPart("c", "f", "")),
        ToolArgsDelta(0, "{}"),
        SignatureDelta(0, "ab", "gemini"),
        SignatureDelta(0, "cd", "gemini"),
        PartStop(0),
        MessageStop(),
    ]
    assert frames(encode(client(), events))[0]["candidates"][0]["content"]["parts"][0]["thoughtSignature"] == "abcd"


def test_foreign_signatures_are_dropped() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "thinking"),
        SignatureDelta(0, "anthropic-sig", "anthropic"),
        PartStop(0),
        PartStart(1, ToolCallPart("c", "f", "{}")),
        SignatureDelta(1, "x", "openai_responses"),
        PartStop(1),
        MessageDelta(StopReason.TOOL_USE),
        MessageStop(),
    ]
    out = frames(encode(client(include_thoughts=True), events))
    assert out[0]["candidates"][0]["content"]["parts"] == [{"text": "thinking", "thought": True}]
    assert out[1]["candidates"][0]["content"]["parts"] == [{"functionCall": {"name": "f", "args": {}, "id": "c"}}]


def test_thoughts_only_when_asked_but_signatures_always() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "hmm"),
        SignatureDelta(0, "sig", "gemini"),
        PartStop(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "ok"),
        PartStop(1),
        MessageStop(),
    ]
    parts = [f["candidates"][0]["content"]["parts"] for f in frames(encode(client(), events))]
    assert parts == [[{"text": "", "thoughtSignature": "sig"}], [{"text": "ok"}], [{"text": ""}]]
    parts = [f["candidates"][0]["content"]["parts"] for f in frames(encode(client(include_thoughts=True), events))]
    assert parts[0] == [{"text": "hmm", "thought": True}]
    assert parts[1] == [{"text": "", "thoughtSignature": "sig"}]


def test_text_signature_rides_on_the_next_text_chunk() -> None:
    events = decode(raw("gemini_cli/hello/02_streamGenerateContent_gemini-3.8-flash.response.sse"))
    parts = [f["candidates"][0]["content"]["parts"] for f in frames(encode(client(), events))]
    assert parts == [
        [{"text": "Hello from ", "thoughtSignature": "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ=="}],
        [{"text": "capture-mock."}],
        [{"text": ""}],
    ]


def test_message_start_without_usage_and_message_delta_without_stop() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, TextPart("")),
        TextDelta(0, "x"),
        PartStop(0),
        MessageDelta(),
        MessageDelta(StopReason.MAX_TOKENS, usage=Usage(output_tokens=1)),
        MessageStop(),
    ]
    out = frames(encode(client(), events))
    assert "usageMetadata" not in out[0]
    assert out[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_finish_without_message_stop_still_sends_the_finish_chunk() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, TextPart("")),
        TextDelta(0, "x"),
        PartStop(0),
        MessageDelta(StopReason.END_TURN),
    ]
    out = frames(encode(client(), events))
    assert out[-1]["candidates"][0]["finishReason"] == "STOP"


def test_stream_error_is_in_band_and_final() -> None:
    err = GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=3)
    events = [
        MessageStart("r", "m"),
        PartStart(0, TextPart("")),
        TextDelta(0, "x"),
        StreamError(err),
        TextDelta(0, "late"),
        MessageStop(),
    ]
    out = frames(encode(client(), events))
    assert out[-1] == {
        "error": {
            "code": 429,
            "message": "slow down",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}],
        }
    }
    assert len(out) == 2


def test_heartbeat_is_an_empty_text_chunk() -> None:
    out = encode(client(), [MessageStart("r", "m"), Heartbeat()])
    assert frames(out) == [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "index": 0}],
            "modelVersion": "m",
            "responseId": "r",
        }
    ]
    assert not out.startswith(b":")


def test_gemini_to_gemini_stream_keeps_calls_signatures_and_usage() -> None:
    req = parse_request(load("request_stream_parallel_calls_gemini3.json"))
    upstream = frames(raw("stream_parallel_calls_gemini3.sse"))
    out = frames(encode(req, decode(raw("stream_parallel_calls_gemini3.sse"))))
    assert [f["candidates"][0]["content"]["parts"] for f in out] == [
        f["candidates"][0]["content"]["parts"] for f in upstream
    ]
    assert out[-1]["usageMetadata"]["totalTokenCount"] == upstream[-1]["usageMetadata"]["totalTokenCount"]
