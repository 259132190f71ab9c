"""The neutral JSON form is exact: from_json(to_json(x)) == x, with no aliasing."""

from __future__ import annotations

import pytest
from fc_helpers import FIXTURES, decode, load, raw
from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.core.errors import GatewayError
from switchyard.core.events import MessageDelta, MessageStart, PartStart, SignatureDelta, StreamError
from switchyard.core.model import (
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    ReasoningPart,
    Request,
    Response,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)
from switchyard.fieldcache import from_json, to_json
from switchyard.protocols import codec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
extensions = st.dictionaries(st.sampled_from(["kind", "_x", "id", "thoughtSignature"]), json_values, max_size=3)
opt_text = st.none() | st.text(max_size=8)

simple_parts = st.one_of(
    st.builds(TextPart, st.text(max_size=8), extensions),
    st.builds(ImagePart, opt_text, opt_text, opt_text, opt_text, extensions),
    st.builds(DocumentPart, opt_text, opt_text, opt_text, opt_text, opt_text, opt_text, opt_text, extensions),
    st.builds(
        ToolCallPart, st.text(max_size=6), st.text(max_size=6), st.text(max_size=8), opt_text, opt_text, extensions
    ),
    st.builds(ReasoningPart, st.text(max_size=8), opt_text, opt_text, opt_text, extensions),
)
parts = st.one_of(
    simple_parts,
    st.builds(
        ToolResultPart, st.text(max_size=6), st.lists(simple_parts, max_size=2), st.booleans(), opt_text, extensions
    ),
)
messages = st.builds(
    Message,
    st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
    st.lists(parts, max_size=4),
    extensions,
)
usage = st.builds(
    Usage, st.integers(0, 99), st.integers(0, 99), st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)
)
requests = st.builds(
    Request,
    model=st.text(max_size=8),
    messages=st.lists(messages, max_size=4),
    system=st.lists(simple_parts, max_size=2),
    tools=st.lists(st.builds(Tool, st.text(max_size=5), opt_text, st.none() | st.just({"type": "object"})), max_size=2),
    tool_choice=st.none() | st.builds(ToolChoice, st.sampled_from(["auto", "none", "required", "tool"]), opt_text),
    reasoning=st.none() | st.builds(Reasoning, st.booleans(), opt_text, st.none() | st.integers(0, 9999)),
    max_tokens=st.none() | st.integers(1, 10_000),
    temperature=st.none() | st.floats(0, 2),
    stop=st.lists(st.text(max_size=3), max_size=2),
    metadata=st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    native_only=st.lists(st.text(max_size=4), max_size=2),
    extensions=extensions,
)


@settings(max_examples=150, deadline=None)
@given(requests)
def test_request_round_trip_is_exact(req: Request) -> None:
    doc = to_json(req)
    assert doc["kind"] == "request"
    assert from_json(doc) == req


@settings(max_examples=100, deadline=None)
@given(
    st.builds(Response, st.text(max_size=5), st.text(max_size=5), st.lists(parts, max_size=4), usage=st.none() | usage)
)
def test_response_round_trip_is_exact(resp: Response) -> None:
    assert from_json(to_json(resp)) == resp


def test_kind_inside_extensions_is_not_decoded() -> None:
    part = TextPart("x", extensions={"_raw_part": {"kind": "tool_call", "id": "c"}, "kind": "odd"})
    back = from_json(to_json(part))
    assert back == part
    assert back.extensions["_raw_part"] == {"kind": "tool_call", "id": "c"}


def test_no_aliasing_either_way() -> None:
    req = Request("m", [Message("user", [TextPart("q", extensions={"a": [1]})])], metadata={"k": {"v": 1}})
    doc = to_json(req)
    doc["messages"][0]["content"][0]["extensions"]["a"].append(2)
    doc["metadata"]["k"]["v"] = 2
    assert req.messages[0].content[0].extensions == {"a": [1]}
    assert req.metadata == {"k": {"v": 1}}
    back = from_json(doc)
    doc["messages"][0]["content"][0]["extensions"]["a"].append(3)
    assert back.messages[0].content[0].extensions == {"a": [1, 2]}


def test_tags_and_part_kinds() -> None:
    doc = to_json(Request("m", [Message("assistant", [ReasoningPart("t"), ToolCallPart("c", "f")])]))
    assert doc["messages"][0]["kind"] == "message"
    assert [p["kind"] for p in doc["messages"][0]["content"]] == ["reasoning", "tool_call"]
    assert to_json(Reasoning(effort="high"))["kind"] == "reasoning_config"
    assert to_json(Usage())["kind"] == "usage"


@pytest.mark.parametrize("bad", [{"kind": "nope"}, {"kind": "text", "text": "x", "colour": 1}, {"text": "x"}, "x"])
def test_from_json_rejects_unknown_shapes(bad: object) -> None:
    with pytest.raises(ValueError):
        from_json(bad)


def test_events_round_trip() -> None:
    events = [
        MessageStart("id", "m", Usage(3, 0)),
        PartStart(0, ToolCallPart("c", "f", "")),
        SignatureDelta(0, "sig", "gemini"),
        MessageDelta("tool_use", None, Usage(3, 5)),
    ]
    for event in events:
        doc = to_json(event)
        assert from_json(doc) == event
    err = to_json(StreamError(GatewayError("server", "boom")))
    assert err["kind"] == "stream_error" and err["error"]["message"] == "boom"


@pytest.mark.parametrize(
    ("protocol", "name"),
    [
        ("gemini", "gemini/request_multi_turn_thought_signatures.json"),
        ("gemini", "gemini/request_signature_only_part_gemini31.json"),
        ("gemini", "gemini/request_parallel_function_responses_gemini3.json"),
        ("openai_responses", "openai_responses/request_reasoning_encrypted_roundtrip.json"),
        ("openai_responses", "openai_responses/request_tool_call.json"),
        ("anthropic", "anthropic/request_thinking_tool_loop.json"),
        ("anthropic", "anthropic/request_parallel_tool_use.json"),
        ("openai_chat", "openai_chat/request_tool_result.json"),
        ("openai_chat", "openai_chat/request_parallel_tool_results.json"),
    ],
)
def test_codec_requests_round_trip(protocol: str, name: str) -> None:
    req = codec(protocol).parse_request(load(name), "model-x") if protocol == "gemini" else None
    if req is None:
        req = codec(protocol).parse_request(load(name))
    assert from_json(to_json(req)) == req
    # and the round trip builds the same wire body
    assert codec(protocol).build_request(from_json(to_json(req))) == codec(protocol).build_request(req)


@pytest.mark.parametrize(
    ("protocol", "name"),
    [
        (p.parent.name, p.name)
        for protocol in ("gemini", "anthropic", "openai_responses")
        for p in sorted((FIXTURES / protocol).glob("stream_*.sse"))
    ],
)
def test_decoded_stream_events_round_trip(protocol: str, name: str) -> None:
    for event in decode(protocol, raw(f"{protocol}/{name}")):
        if not isinstance(event, StreamError):
            assert from_json(to_json(event)) == event
