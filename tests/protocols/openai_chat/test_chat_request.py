"""parse_request / build_request on Chat bodies: fixture round trips, the mapping to the core,
validation errors naming the field."""

from __future__ import annotations

import copy

import pytest
from chat_helpers import load, names, request

from switchyard.core.errors import RequestError
from switchyard.core.model import (
    DocumentPart,
    ImagePart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from switchyard.protocols import codec
from switchyard.protocols.openai_chat import NAME, build_request, parse_request


@pytest.mark.parametrize("name", names("request_*.json"))
def test_fixture_round_trip(name: str) -> None:
    body = load(name)
    snapshot = copy.deepcopy(body)
    req = parse_request(body)
    assert req.protocol == NAME == "openai_chat"
    assert build_request(req) == body
    assert body == snapshot, "parse_request mutated its input"


def test_codec_registered() -> None:
    assert codec("openai_chat").NAME == "openai_chat"


def test_system_and_developer_messages_stay_in_place() -> None:
    body = load("request_developer_message_reasoning.json")
    req = parse_request(body)
    assert req.system == []
    assert [m.role for m in req.messages] == [m["role"] for m in body["messages"]]


def test_tool_call_and_result_mapping() -> None:
    req = parse_request(load("request_parallel_tool_results.json"))
    calls = [p for m in req.messages for p in m.content if isinstance(p, ToolCallPart)]
    results = [m.content[0] for m in req.messages if m.role == "tool"]
    assert len(calls) == 2 and len(results) == 2
    assert [r.tool_call_id for r in results] == [c.id for c in calls]
    assert all(isinstance(r, ToolResultPart) for r in results)
    for call in calls:
        assert isinstance(call.arguments, str)


def test_parameters_mapping() -> None:
    req = parse_request(
        request(
            max_completion_tokens=50,
            temperature=0.5,
            top_p=0.9,
            stop="END",
            reasoning_effort="low",
            user="u1",
            metadata={"a": "b"},
            parallel_tool_calls=False,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        )
    )
    assert (req.max_tokens, req.temperature, req.top_p, req.stop) == (50, 0.5, 0.9, ["END"])
    assert req.reasoning is not None and req.reasoning.effort == "low" and req.reasoning.enabled
    assert (req.user, req.metadata, req.parallel_tool_calls) == ("u1", {"a": "b"}, False)
    assert req.response_format == {"type": "json_schema", "name": "x", "schema": {"type": "object"}}


def test_max_tokens_field_kept() -> None:
    body = request(max_tokens=10)
    assert build_request(parse_request(body)) == body
    body = request(max_completion_tokens=10)
    assert build_request(parse_request(body)) == body


def test_content_forms_round_trip() -> None:
    body = request(
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "sys"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                ],
            },
            {"role": "assistant", "content": None, "refusal": "no"},
            {"role": "user", "content": "ok", "name": "bob"},
        ]
    )
    req = parse_request(body)
    parts = req.messages[1].content
    assert isinstance(parts[1], ImagePart) and parts[1].url == "https://x/y.png" and parts[1].detail == "low"
    assert isinstance(parts[2], ImagePart) and (parts[2].media_type, parts[2].data) == ("image/png", "AAAA")
    assert isinstance(parts[3], DocumentPart) and parts[3].media_type == "audio/wav"
    assert isinstance(parts[4], DocumentPart) and parts[4].media_type == "application/pdf"
    assert isinstance(parts[5], DocumentPart) and parts[5].file_id == "file-1"
    refusal = req.messages[2].content[0]
    assert isinstance(refusal, TextPart) and refusal.extensions.get("refusal")
    assert build_request(req) == body


def test_reasoning_content_in_history_round_trips() -> None:
    body = request(
        messages=[
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "reasoning_content": "thought"},
            {"role": "user", "content": "again"},
        ]
    )
    req = parse_request(body)
    assert isinstance(req.messages[1].content[0], ReasoningPart)
    assert build_request(req) == body


def test_custom_tool_and_choice_round_trip() -> None:
    body = request(
        tools=[{"type": "custom", "custom": {"name": "patch", "description": "apply"}}],
        tool_choice={"type": "custom", "custom": {"name": "patch"}},
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "custom", "custom": {"name": "patch", "input": "diff"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ],
    )
    req = parse_request(body)
    assert req.tools[0].freeform
    call = req.messages[1].content[0]
    assert isinstance(call, ToolCallPart) and call.arguments == '{"input":"diff"}'
    assert build_request(req) == body


def test_unknown_fields_kept_as_extensions() -> None:
    body = request(seed=7, service_tier="flex", prompt_cache_key="k", store=False)
    req = parse_request(body)
    assert req.extensions["seed"] == 7 and req.extensions["service_tier"] == "flex"
    assert build_request(req) == body


@pytest.mark.parametrize(
    ("extra", "path"),
    [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"audio": {"voice": "x"}}, "audio")],
)
def test_native_only_fields(extra, path) -> None:
    req = parse_request(request(**extra))
    assert req.native_only == [path]
    assert build_request(req) == request(**extra)


def test_text_modality_is_not_native_only() -> None:
    assert parse_request(request(modalities=["text"])).native_only == []


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": []}, "model"),
        ({"model": 3, "messages": []}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": {}}, "messages"),
        (request(messages=["x"]), "messages[0]"),
        (request(messages=[{"content": "x"}]), "messages[0].role"),
        (request(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role"),
        (request(messages=[{"role": "function", "content": "x"}]), "messages[0].role"),
        (request(messages=[{"role": "user"}]), "messages[0].content"),
        (request(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (request(messages=[{"role": "user", "content": [{"type": "video"}]}]), "messages[0].content[0].type"),
        (request(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content[0].text"),
        (request(messages=[{"role": "tool", "content": "x"}]), "messages[0].tool_call_id"),
        (
            request(messages=[{"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]}]),
            "messages[0].tool_calls[0].function",
        ),
        (
            request(
                messages=[{"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {}}]}]
            ),
            "messages[0].tool_calls[0].id",
        ),
        (request(tools=[{"type": "function", "function": {}}]), "tools[0].function.name"),
        (request(tools=[{"type": "function"}]), "tools[0].function"),
        (request(tools=[{"type": "web_search"}]), "tools[0].type"),
        (request(tool_choice="sometimes"), "tool_choice"),
        (request(max_tokens="10"), "max_tokens"),
        (request(temperature="hot"), "temperature"),
        (request(stop=[1]), "stop"),
        (request(stream="yes"), "stream"),
        (request(response_format={"type": "xml"}), "response_format.type"),
        (request(response_format={"type": "json_schema"}), "response_format.json_schema"),
    ],
)
def test_validation_names_the_field(body, param) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(body)
    assert info.value.param == param


def test_body_must_be_an_object() -> None:
    with pytest.raises(RequestError):
        parse_request([])  # type: ignore[arg-type]
