"""StreamDecoder (Responses SSE -> core events) and StreamEncoder (core events -> Responses SSE)."""

from __future__ import annotations

import orjson
import pytest
from responses_helpers import decode, encode, frames, load, raw, request

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
from switchyard.protocols.openai_responses import StreamDecoder, StreamEncoder, parse_request, parse_response

STREAMS = [
    "stream_plain_text.sse",
    "stream_tool_call.sse",
    "stream_reasoning_summary.sse",
    "stream_error_insufficient_quota.sse",
    "codex/hello/01_v1_responses.response.sse",
    "codex/tool_call/01_v1_responses.response.sse",
    "codex/tool_call/02_v1_responses.response.sse",
    "codex/tool_call_unknown_model/01_v1_responses.response.sse",
]


def sse(*events: dict) -> bytes:
    return b"".join(encode_frame(orjson.dumps(e), e["type"]) for e in events)


def completed(output: list | None = None, status: str = "completed", **fields) -> dict:
    response = {"id": "resp_1", "model": "m", "status": status, "output": output or [], "usage": None, **fields}
    return {"type": f"response.{status}", "response": response}


CREATED = {"type": "response.created", "response": {"id": "resp_1", "model": "m", "created_at": 5, "usage": None}}


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def assemble(events: list) -> list:
    """Parts rebuilt from decoded events (text / arguments / reasoning / signature joined)."""
    parts: dict[int, object] = {}
    for e in events:
        if isinstance(e, PartStart):
            parts[e.index] = e.part
        elif isinstance(e, TextDelta):
            parts[e.index].text += e.text  # type: ignore[attr-defined]
        elif isinstance(e, ToolArgsDelta):
            parts[e.index].arguments += e.json  # type: ignore[attr-defined]
        elif isinstance(e, ReasoningDelta):
            parts[e.index].text += e.text  # type: ignore[attr-defined]
        elif isinstance(e, SignatureDelta):
            part = parts[e.index]
            part.signature = (part.signature or "") + e.signature  # type: ignore[attr-defined]
            part.signature_source = e.source  # type: ignore[attr-defined]
    return [parts[i] for i in sorted(parts)]


# --- decoder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STREAMS)
def test_decoded_parts_match_the_completed_response(name: str) -> None:
    data = raw(name)
    events = decode(data)
    last = frames(data)[-1][1]
    if last["type"] != "response.completed":
        assert isinstance(events[-1], StreamError)
        return
    expected = parse_response(last["response"])
    assert isinstance(events[0], MessageStart) and events[0].id == expected.id and events[0].model == expected.model
    assert isinstance(events[-1], MessageStop)
    delta = events[-2]
    assert isinstance(delta, MessageDelta)
    assert (delta.stop_reason, delta.usage) == (expected.stop_reason, expected.usage)
    got = assemble(events)
    assert [p.kind for p in got] == [p.kind for p in expected.content]
    for mine, theirs in zip(got, expected.content, strict=True):
        for attr in ("text", "arguments", "id", "name", "signature", "signature_source"):
            assert getattr(mine, attr, None) == getattr(theirs, attr, None), attr


@pytest.mark.parametrize("name", [n for n in STREAMS if "reasoning" not in n])
def test_chunking_does_not_matter(name: str) -> None:
    def comparable(events: list) -> list:
        return [(e.error.kind, e.error.message) if isinstance(e, StreamError) else e for e in events]

    data = raw(name)
    whole = comparable(decode(data))
    for cut in range(0, len(data) + 1, max(1, len(data) // 300)):
        assert comparable(decode(data, [cut])) == whole, f"split at byte {cut}"


def test_plain_text_sequence() -> None:
    events = decode(raw("stream_plain_text.sse"))
    assert kinds(events) == ["MessageStart", "PartStart"] + ["TextDelta"] * 9 + [
        "PartStop",
        "MessageDelta",
        "MessageStop",
    ]
    assert events[0].created == 1758064478  # type: ignore[union-attr]


def test_tool_call_sequence() -> None:
    events = decode(raw("stream_tool_call.sse"))
    start = events[1]
    assert isinstance(start, PartStart) and isinstance(start.part, ToolCallPart)
    assert (start.part.id, start.part.name, start.part.arguments) == (
        "call_0UFGPwrziw5rbinYp7rthrTb",
        "get_weather_at_location",
        "",
    )
    assert start.part.extensions["id"] == "fc_0c25e60be926327b0069305ebaa9648195b0273f9500448380"
    args = "".join(e.json for e in events if isinstance(e, ToolArgsDelta))
    assert args == '{"location":"San Francisco, CA"}'
    assert events[-2].stop_reason == StopReason.TOOL_USE  # type: ignore[union-attr]


def test_reasoning_summary_parts_are_joined_with_a_blank_line() -> None:
    events = decode(raw("stream_reasoning_summary.sse"))
    separators = [e for e in events if isinstance(e, ReasoningDelta) and e.text == "\n\n"]
    assert len(separators) == 3  # four summary parts
    assert events[-2].usage.reasoning_tokens == 2240  # type: ignore[union-attr]


def test_custom_tool_input_streams_as_json_arguments() -> None:
    events = decode(raw("codex/tool_call/01_v1_responses.response.sse"))
    call = next(e.part for e in events if isinstance(e, PartStart) and isinstance(e.part, ToolCallPart))
    assert call.extensions["_custom"] is True
    args = "".join(e.json for e in events if isinstance(e, ToolArgsDelta))
    assert orjson.loads(args) == {"input": 'const r = await tools.exec_command({cmd: "ls -la"});\ntext(r);\n'}


def test_signature_delta_comes_from_output_item_done() -> None:
    data = sse(
        CREATED,
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": []},
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
        },
        completed(),
    )
    events = decode(data)
    assert kinds(events) == ["MessageStart", "PartStart", "SignatureDelta", "PartStop", "MessageDelta", "MessageStop"]
    assert events[2] == SignatureDelta(0, "gAAA", "openai_responses")


def test_done_events_without_deltas_give_the_text() -> None:
    data = sse(
        CREATED,
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "msg_1", "type": "message", "content": []},
        },
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": "whole"},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"type": "function_call", "call_id": "c1", "name": "f"},
        },
        {"type": "response.function_call_arguments.done", "output_index": 1, "arguments": "{}"},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"id": "rs_2", "type": "reasoning", "summary": []},
        },
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {
                "id": "rs_2",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
            },
        },
        completed(),
    )
    text, call, reasoning = assemble(decode(data))
    assert text.text == "whole"  # type: ignore[attr-defined]
    assert (call.id, call.arguments) == ("c1", "{}")  # type: ignore[attr-defined]
    assert reasoning.text == "a\n\nb"  # type: ignore[attr-defined]


def test_refusal_stream() -> None:
    data = sse(
        CREATED,
        {
            "type": "response.content_part.added",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "refusal", "refusal": ""},
        },
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "No."},
        {"type": "response.content_part.done", "output_index": 0, "content_index": 0},
        completed(),
    )
    events = decode(data)
    assert events[1].part.extensions == {"refusal": True}  # type: ignore[union-attr]
    assert events[2] == TextDelta(0, "No.")
    assert events[-2].stop_reason == StopReason.REFUSAL  # type: ignore[union-attr]


def test_raw_reasoning_text() -> None:
    data = sse(
        CREATED,
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": []},
        },
        {"type": "response.reasoning_text.delta", "output_index": 0, "content_index": 0, "delta": "step 1"},
        {"type": "response.reasoning_text.done", "output_index": 0, "content_index": 0, "text": "step 1"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "id": "rs_1",
                "type": "reasoning",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "step 1"}],
            },
        },
        completed(),
    )
    (reasoning,) = assemble(decode(data))
    assert reasoning.text == "step 1"  # type: ignore[attr-defined]


def test_incomplete_is_max_tokens_with_usage() -> None:
    usage = {
        "input_tokens": 5,
        "input_tokens_details": {"cached_tokens": 2},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12,
    }
    events = decode(
        sse(CREATED, completed(status="incomplete", incomplete_details={"reason": "max_output_tokens"}, usage=usage))
    )
    delta = events[-2]
    assert isinstance(delta, MessageDelta) and delta.stop_reason == StopReason.MAX_TOKENS
    assert delta.usage is not None and (
        delta.usage.input_tokens,
        delta.usage.cache_read_tokens,
        delta.usage.output_tokens,
    ) == (3, 2, 7)


def test_in_band_error_event() -> None:
    events = decode(raw("stream_error_insufficient_quota.sse"))
    assert kinds(events) == ["MessageStart", "StreamError"]
    err = events[1].error  # type: ignore[union-attr]
    assert (err.kind, err.status, err.code) == (ErrorKind.QUOTA, 429, "insufficient_quota")
    assert err.message.startswith("You exceeded your current quota")


def test_response_failed_is_a_stream_error() -> None:
    failed = completed(status="failed", error={"code": "server_error", "message": "boom"})
    events = decode(sse(CREATED, failed))
    assert isinstance(events[-1], StreamError) and events[-1].error.message == "boom"
    assert events[-1].error.kind == ErrorKind.SERVER


def test_stream_without_terminal_event_fails_at_finish() -> None:
    data = raw("stream_plain_text.sse")
    cut = data.index(b"event: response.completed")
    events = decode(data[:cut])
    assert isinstance(events[-1], StreamError)
    assert events[-1].error.message == "upstream stream ended before completion"
    assert isinstance(events[-2], PartStop)


def test_nothing_after_the_end() -> None:
    dec = StreamDecoder()
    frame = SSEFrame(orjson.dumps(CREATED).decode(), "response.created")
    assert len(dec.feed(frame)) == 1
    assert dec.feed(SSEFrame('{"type":"error","error":{"message":"x"}}', "error"))[0].error.message == "x"  # type: ignore[union-attr]
    assert dec.feed(frame) == [] and dec.finish() == []


def test_non_json_frame_is_a_stream_error() -> None:
    dec = StreamDecoder()
    (event,) = dec.feed(SSEFrame("not json"))
    assert isinstance(event, StreamError)


def test_unknown_events_and_comments_are_ignored() -> None:
    dec = StreamDecoder()
    assert dec.feed(SSEFrame(comment="keepalive")) == []
    assert dec.feed(SSEFrame('{"type":"response.web_search_call.searching","output_index":0}')) == []
    assert dec.feed(SSEFrame("[1, 2]")) == []


def test_hosted_items_give_no_parts() -> None:
    data = sse(
        CREATED,
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "ws_1", "type": "web_search_call"}},
        {"type": "response.output_item.done", "output_index": 0, "item": {"id": "ws_1", "type": "web_search_call"}},
        completed(),
    )
    assert kinds(decode(data)) == ["MessageStart", "MessageDelta", "MessageStop"]


# --- encoder ---------------------------------------------------------------------------------


def types(data: bytes) -> list[str]:
    out = []
    for event, payload in frames(data):
        assert event == payload["type"], "the event line repeats the type"
        out.append(payload["type"])
    return out


def check_sequence(data: bytes) -> None:
    numbers = [payload["sequence_number"] for _, payload in frames(data)]
    assert numbers == list(range(len(numbers)))


def test_encoder_plain_text_from_the_real_stream() -> None:
    req = parse_request(load("request_stream_plain_text.json"))
    out = encode(req, decode(raw("stream_plain_text.sse")))
    check_sequence(out)
    assert types(out) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 9,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = frames(out)[-1][1]["response"]
    assert final["id"] == "resp_0b70e4946283a4df0068c9ef5ef4d88194adeeb6e2283d609a"
    assert final["output"][0]["content"][0]["text"] == "Hello! How can I assist you today?"
    assert final["usage"]["total_tokens"] == 21
    created = frames(out)[0][1]["response"]
    assert (created["status"], created["output"], created["usage"]) == ("in_progress", [], None)


def test_encoder_tool_call_minimal_sequence() -> None:
    events = [
        MessageStart("msg_1", "claude-x"),
        PartStart(0, ToolCallPart("toolu_1", "get_weather_at_location", "")),
        ToolArgsDelta(0, '{"location":"SF"}'),
        PartStop(0),
        MessageDelta(StopReason.TOOL_USE, usage=Usage(input_tokens=3, output_tokens=4)),
        MessageStop(),
    ]
    out = encode(parse_request(load("request_stream_tool_call.json")), events)
    assert types(out) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = frames(out)[5][1]["item"]
    assert {k: done[k] for k in ("type", "status", "call_id", "name", "arguments")} == {
        "type": "function_call",
        "status": "completed",
        "call_id": "toolu_1",
        "name": "get_weather_at_location",
        "arguments": '{"location":"SF"}',
    }
    assert frames(out)[-1][1]["response"]["id"] == "resp_msg_1"


def test_parallel_tool_calls_share_a_stream() -> None:
    events = [MessageStart("r", "m")]
    for i, city in enumerate(["S", "K"]):
        events += [
            PartStart(i, ToolCallPart(f"c{i}", "w", "")),
            ToolArgsDelta(i, '{"c":'),
            ToolArgsDelta(i, f'"{city}"}}'),
            PartStop(i),
        ]
    events += [MessageDelta(StopReason.TOOL_USE), MessageStop()]
    out = encode(request(), events)
    added = [p for _, p in frames(out) if p["type"] == "response.output_item.added"]
    assert [a["output_index"] for a in added] == [0, 1]
    final = frames(out)[-1][1]["response"]["output"]
    assert [(i["call_id"], i["arguments"]) for i in final] == [("c0", '{"c":"S"}'), ("c1", '{"c":"K"}')]
    assert final[0]["id"] != final[1]["id"]


def test_text_parts_share_one_message_item() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, TextPart("")),
        TextDelta(0, "a"),
        PartStop(0),
        PartStart(1, TextPart("")),
        TextDelta(1, "b"),
        PartStop(1),
        MessageStop(),
    ]
    out = encode(request(), events)
    final = frames(out)[-1][1]["response"]["output"]
    assert len(final) == 1 and [c["text"] for c in final[0]["content"]] == ["a", "b"]
    content_indexes = [p["content_index"] for _, p in frames(out) if p["type"] == "response.output_text.delta"]
    assert content_indexes == [0, 1]


def test_encoder_reasoning_with_own_and_foreign_signatures() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, ReasoningPart(extensions={"id": "rs_up"})),
        ReasoningDelta(0, "think"),
        SignatureDelta(0, "gAAA", "openai_responses"),
        PartStop(0),
        PartStart(1, ReasoningPart()),
        ReasoningDelta(1, "more"),
        SignatureDelta(1, "EroC", "anthropic"),
        PartStop(1),
        MessageStop(),
    ]
    out = encode(request(), events)
    assert types(out)[2:7] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]
    first, second = frames(out)[-1][1]["response"]["output"]
    assert first == {
        "id": "rs_up",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "think"}],
        "encrypted_content": "gAAA",
    }
    assert "encrypted_content" not in second and second["id"].startswith("rs_")


def test_encoder_redacted_thinking_is_skipped() -> None:
    events = [MessageStart("r", "m"), PartStart(0, ReasoningPart(redacted="EmwK")), PartStop(0), MessageStop()]
    assert frames(encode(request(), events))[-1][1]["response"]["output"] == []


def test_encoder_freeform_call_for_a_codex_client() -> None:
    req = parse_request(load("codex/hello/01_v1_responses.body.json"))
    events = [
        MessageStart("r", "claude"),
        PartStart(0, ToolCallPart("toolu_1", "functions__exec", "")),
        ToolArgsDelta(0, '{"input": "text('),
        ToolArgsDelta(0, '\\"hi\\")"}'),
        PartStop(0),
        MessageDelta(StopReason.TOOL_USE),
        MessageStop(),
    ]
    out = encode(req, events)
    assert types(out)[2:6] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ]
    item = frames(out)[5][1]["item"]
    assert (item["type"], item["namespace"], item["name"], item["input"]) == (
        "custom_tool_call",
        "functions",
        "exec",
        'text("hi")',
    )


def test_encoder_incomplete_answer() -> None:
    events = [
        MessageStart("r", "m"),
        PartStart(0, TextPart("")),
        TextDelta(0, "cut"),
        PartStop(0),
        MessageDelta(StopReason.MAX_TOKENS),
        MessageStop(),
    ]
    out = encode(request(), events)
    final = frames(out)[-1][1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["response"]["output"][0]["status"] == "incomplete"


def test_message_delta_twice_later_values_win() -> None:
    events = [
        MessageStart("r", "m", usage=Usage(input_tokens=5)),
        MessageDelta(None, usage=Usage(input_tokens=5, output_tokens=1)),
        MessageDelta(StopReason.END_TURN, usage=Usage(input_tokens=5, output_tokens=9)),
        MessageStop(),
    ]
    usage = frames(encode(request(), events))[-1][1]["response"]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (5, 9)


def test_usage_in_message_start_is_reported() -> None:
    events = [MessageStart("r", "m", usage=Usage(input_tokens=7, cache_read_tokens=3)), MessageStop()]
    usage = frames(encode(request(), events))[-1][1]["response"]["usage"]
    assert usage["input_tokens"] == 10 and usage["input_tokens_details"]["cached_tokens"] == 3


def test_encoder_stream_error() -> None:
    enc = StreamEncoder(request())
    out = enc.feed(MessageStart("r", "m")) + enc.feed(PartStart(0, TextPart("")))
    err = GatewayError(ErrorKind.RATE_LIMIT, "slow down", status=429, code="rate_limit_exceeded")
    out += enc.feed(StreamError(err))
    tail = frames(out)[-2:]
    assert tail[0][0] == "error"
    assert tail[0][1]["error"] == {
        "message": "slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert (tail[0][1]["message"], tail[0][1]["code"]) == ("slow down", "rate_limit_exceeded")
    assert tail[1][1]["type"] == "response.failed"
    assert tail[1][1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
    assert enc.feed(TextDelta(0, "late")) == b"" and enc.finish() == b""
    assert enc.final_response is not None and enc.final_response["status"] == "failed"


def test_error_before_start_still_announces_the_response() -> None:
    out = encode(request(), [StreamError(GatewayError(ErrorKind.OVERLOADED, "busy"))])
    assert types(out) == ["response.created", "response.in_progress", "error", "response.failed"]


def test_heartbeat_is_a_comment() -> None:
    enc = StreamEncoder(request())
    assert enc.feed(Heartbeat()) == b": keepalive\n\n"


def test_events_without_message_start() -> None:
    out = encode(request(), [PartStart(0, TextPart("")), TextDelta(0, "x"), PartStop(0), MessageStop()])
    assert types(out)[:2] == ["response.created", "response.in_progress"]
    assert frames(out)[-1][1]["response"]["model"] == "gpt-x"


def test_finish_without_message_stop_fails_the_response() -> None:
    enc = StreamEncoder(request())
    out = enc.feed(MessageStart("r", "m")) + enc.finish()
    assert types(out)[-2:] == ["error", "response.failed"]


def test_final_response_is_the_completed_response() -> None:
    enc = StreamEncoder(request())
    out = b"".join(enc.feed(e) for e in decode(raw("stream_tool_call.sse")))
    assert enc.final_response == frames(out)[-1][1]["response"]
    assert enc.final_response["output"][0]["arguments"] == '{"location":"San Francisco, CA"}'  # type: ignore[index]
