"""parse_request / build_request: fixture and Claude Code round trips, the mapping to the core,
validation errors naming the field."""

from __future__ import annotations

import copy

import orjson
import pytest
from anthropic_helpers import capture_bodies, load, names, request

from switchyard.core.errors import RequestError, TranslationError
from switchyard.core.model import (
    DocumentPart,
    ImagePart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from switchyard.protocols import codec
from switchyard.protocols.anthropic import build_request, parse_count_tokens_request, parse_request

REQUESTS = [n for n in names("request_*.json") if n != "request_count_tokens.json"]


@pytest.mark.parametrize("name", REQUESTS)
def test_fixture_round_trip(name: str) -> None:
    body = load(name)
    snapshot = copy.deepcopy(body)
    req = parse_request(body)
    assert req.protocol == "anthropic"
    assert build_request(req) == body
    assert body == snapshot, "parse_request mutated its input"


@pytest.mark.parametrize("path", capture_bodies(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_claude_code_round_trip(path) -> None:
    body = orjson.loads(path.read_bytes())
    req = parse_request(body)
    assert build_request(req) == body
    assert build_request(req) == build_request(req), "build_request is not repeatable"


def test_count_tokens_body_needs_no_max_tokens() -> None:
    body = load("request_count_tokens.json")
    req = parse_count_tokens_request(body)
    assert req.max_tokens is None
    assert build_request(req) == body
    with pytest.raises(RequestError) as exc:
        parse_request(body)
    assert exc.value.param == "max_tokens"


# ------------------------------------------------------------------------------------ mapping


def test_system_string_and_blocks() -> None:
    req = parse_request(load("request_system_multi_turn.json"))
    assert [p.text for p in req.system] == ["You are a helpful assistant. You always talk like a pirate."]
    req = parse_request(load("request_prompt_caching.json"))
    assert req.system[1].extensions == {"cache_control": {"type": "ephemeral"}}
    assert [m.role for m in req.messages] == ["user"]


def test_mid_conversation_system_message_kept_in_place() -> None:
    body = orjson.loads(capture_bodies()[-1].read_bytes())  # tool_call/03
    req = parse_request(body)
    assert [m.role for m in req.messages] == ["user", "system", "assistant", "tool"]
    assert req.messages[1].content[0].text.startswith("Available agent types")
    assert len(req.system) == 3 and req.system[2].extensions == {"cache_control": {"type": "ephemeral"}}


def test_claude_code_turn_mapping() -> None:
    body = orjson.loads(capture_bodies()[-1].read_bytes())  # tool_call/03
    req = parse_request(body)
    assistant = req.messages[2].content
    assert isinstance(assistant[0], ReasoningPart)
    assert (assistant[0].signature, assistant[0].signature_source) == ("bW9jay1zaWduYXR1cmU=", "anthropic")
    assert isinstance(assistant[2], ToolCallPart) and orjson.loads(assistant[2].arguments) == {"command": "ls -la"}
    result = req.messages[3].content[0]
    assert isinstance(result, ToolResultPart) and result.is_error is False
    assert result.extensions["cache_control"] == {"type": "ephemeral"}
    assert req.reasoning is not None and req.reasoning.adaptive and req.reasoning.effort == "high"
    assert req.user is not None and req.user.startswith('{"device_id"')
    assert req.extensions["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    assert req.stream is True and req.max_tokens == 64000


def test_tool_result_message_becomes_tool_then_user() -> None:
    req = parse_request(load("request_tool_result.json"))
    assert [m.role for m in req.messages] == ["user", "assistant", "tool"]
    result = req.messages[2].content[0]
    assert isinstance(result, ToolResultPart)
    assert result.tool_call_id == "toolu_01A9HHF5Ezy3oBrKmSgfASm9" and result.is_error
    assert [p.text for p in result.content] == ["RuntimeError('Unexpected error, try again')"]
    call = req.messages[1].content[0]
    assert isinstance(call, ToolCallPart) and call.extensions == {"caller": {"type": "direct"}}


def test_interleaved_results_and_text_round_trip() -> None:
    content = [
        {"type": "text", "text": "first"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "r1"}]},
        {"type": "text", "text": "second"},
        {"type": "tool_result", "tool_use_id": "toolu_2"},
    ]
    body = request(
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "a", "input": {}},
                    {"type": "tool_use", "id": "toolu_2", "name": "a", "input": {"x": [1, {"y": None}]}},
                ],
            },
            {"role": "user", "content": content},
        ]
    )
    req = parse_request(body)
    assert [m.role for m in req.messages] == ["user", "assistant", "tool", "user"]
    assert [p.tool_call_id for p in req.messages[2].content] == ["toolu_1", "toolu_2"]
    assert [p.text for p in req.messages[3].content] == ["first", "second"]
    assert build_request(req) == body


def test_thinking_blocks() -> None:
    req = parse_request(load("request_thinking_tool_loop.json"))
    thinking = req.messages[1].content[0]
    assert isinstance(thinking, ReasoningPart)
    assert thinking.signature == "<signature exactly as received>" and thinking.signature_source == "anthropic"
    assert req.reasoning is not None and req.reasoning.budget_tokens == 1024


def test_redacted_thinking_and_empty_signature() -> None:
    assistant = [
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "thinking", "thinking": "shown by another provider", "signature": ""},
        {"type": "text", "text": "ok"},
    ]
    body = request(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": assistant}])
    req = parse_request(body)
    redacted, visible = req.messages[1].content[:2]
    assert isinstance(redacted, ReasoningPart) and redacted.redacted == "EmwKAhgB"
    assert redacted.signature_source == "anthropic"
    assert isinstance(visible, ReasoningPart) and visible.signature is None and visible.signature_source is None
    assert build_request(req) == body


def test_media_blocks() -> None:
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}, "cache_control": {"type": "ephemeral"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}, "title": "N"},
        {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}, "citations": {"enabled": True}},
    ]
    body = request(messages=[{"role": "user", "content": content}])
    req = parse_request(body)
    parts = req.messages[0].content
    assert isinstance(parts[0], ImagePart) and (parts[0].media_type, parts[0].data) == ("image/png", "iVBOR")
    assert isinstance(parts[1], ImagePart) and parts[1].url == "https://x/y.png"
    assert isinstance(parts[2], DocumentPart) and parts[2].media_type == "application/pdf"
    assert isinstance(parts[3], DocumentPart) and (parts[3].text, parts[3].title) == ("notes", "N")
    assert isinstance(parts[4], DocumentPart) and parts[4].url == "https://x/a.pdf"
    assert req.native_only == []
    assert build_request(req) == body


def test_file_ids_are_native_only() -> None:
    content = [
        {"type": "image", "source": {"type": "file", "file_id": "file_011"}},
        {"type": "document", "source": {"type": "file", "file_id": "file_012"}},
    ]
    body = request(messages=[{"role": "user", "content": content}])
    req = parse_request(body)
    assert req.native_only == ["messages[0].content[0]", "messages[0].content[1]"]
    assert build_request(req) == body
    with pytest.raises(TranslationError) as exc:
        codec("openai_chat").build_request(req)
    assert exc.value.param == "messages[0].content[0]"


def test_unknown_blocks_are_native_only() -> None:
    search = {"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "x"}]}
    body = request(messages=[{"role": "user", "content": [{"type": "text", "text": "look"}, search]}])
    req = parse_request(body)
    opaque = req.messages[0].content[1]
    assert isinstance(opaque, TextPart) and opaque.text == "" and opaque.extensions["_raw_part"] == search
    assert req.native_only == ["messages[0].content[1]"]
    assert build_request(req) == body
    with pytest.raises(TranslationError):
        codec("gemini").build_request(req)


def test_server_tools_are_native_only() -> None:
    body = load("request_server_tool_web_search.json")
    req = parse_request(body)
    assert req.tools == [] and req.native_only == ["tools[0]"]
    with pytest.raises(TranslationError) as exc:
        codec("openai_responses").build_request(req)
    assert exc.value.param == "tools[0]"
    mixed = request(tools=[{"name": "a", "input_schema": {"type": "object"}}, body["tools"][0]])
    assert build_request(parse_request(mixed)) == mixed


def test_tools_and_tool_choice() -> None:
    tools = [
        {
            "type": "custom",
            "name": "get",
            "description": "d",
            "input_schema": {"type": "object", "properties": {}},
            "strict": True,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    body = request(tools=tools, tool_choice={"type": "tool", "name": "get", "disable_parallel_tool_use": True})
    req = parse_request(body)
    tool = req.tools[0]
    assert (tool.name, tool.description, tool.strict) == ("get", "d", True)
    assert tool.extensions == {"type": "custom", "cache_control": {"type": "ephemeral"}}
    assert req.tool_choice is not None and (req.tool_choice.mode, req.tool_choice.name) == ("tool", "get")
    assert req.parallel_tool_calls is False
    assert build_request(req) == body
    for wire, mode in (("auto", "auto"), ("any", "required"), ("none", "none")):
        req = parse_request(request(tools=tools, tool_choice={"type": wire}))
        assert req.tool_choice is not None and req.tool_choice.mode == mode and req.parallel_tool_calls is None


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        ({"type": "enabled", "budget_tokens": 2000}, (True, 2000, False)),
        ({"type": "disabled"}, (False, None, False)),
        ({"type": "adaptive", "display": "summarized"}, (True, None, True)),
    ],
)
def test_thinking_settings(thinking, expected) -> None:
    req = parse_request(request(thinking=thinking))
    r = req.reasoning
    assert r is not None and (r.enabled, r.budget_tokens, r.adaptive) == expected
    assert build_request(req)["thinking"] == thinking


def test_output_config() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    body = request(output_config={"effort": "low", "format": {"type": "json_schema", "schema": schema}})
    req = parse_request(body)
    assert req.reasoning is not None and req.reasoning.effort == "low"
    assert req.response_format == {"type": "json_schema", "name": "response", "schema": schema}
    assert "thinking" not in build_request(req)
    assert build_request(req) == body
    req.reasoning.effort = "max"  # a rewrite of the core value wins over the remembered wire form
    assert build_request(req)["output_config"]["effort"] == "max"


def test_other_fields_kept_in_extensions() -> None:
    extra = {
        "metadata": {"user_id": "u-1"},
        "service_tier": "auto",
        "container": "cntr_1",
        "inference_geo": "us",
        "cache_control": {"type": "ephemeral"},
        "context_management": {"edits": []},
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "stop_sequences": ["END"],
        "stream": False,
    }
    body = request(**extra)
    req = parse_request(body)
    assert req.user == "u-1" and req.metadata == {"user_id": "u-1"}
    assert (req.temperature, req.top_p, req.top_k, req.stop) == (0.2, 0.9, 5, ["END"])
    assert req.extensions["service_tier"] == "auto" and req.extensions["inference_geo"] == "us"
    assert build_request(req) == body


def test_explicit_nulls_round_trip() -> None:
    body = request(system=None, tools=None, temperature=None)
    assert build_request(parse_request(body)) == body


# --------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 5, "messages": []}, "model"),
        ({"model": "m", "messages": []}, "max_tokens"),
        ({"model": "m", "max_tokens": 5}, "messages"),
        (request(max_tokens="5"), "max_tokens"),
        (request(max_tokens=True), "max_tokens"),
        (request(messages={"role": "user"}), "messages"),
        (request(messages=["hi"]), "messages[0]"),
        (request(messages=[{"role": "tool", "content": "x"}]), "messages[0].role"),
        (request(messages=[{"role": "user"}]), "messages[0].content"),
        (request(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (request(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages[0].content[0].type"),
        (request(messages=[{"role": "user", "content": [{"type": "text", "text": 1}]}]), "messages[0].content[0].text"),
        (
            request(messages=[{"role": "assistant", "content": [{"type": "tool_use", "name": "a", "input": {}}]}]),
            "messages[0].content[0].id",
        ),
        (
            request(
                messages=[
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "a", "input": "x"}]}
                ]
            ),
            "messages[0].content[0].input",
        ),
        (
            request(
                messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 3}]}]
            ),
            "messages[0].content[0].content",
        ),
        (
            request(messages=[{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]),
            "messages[0].content[0].tool_use_id",
        ),
        (
            request(messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]),
            "messages[0].content[0].source.data",
        ),
        (request(system=5), "system"),
        (request(system=[{"type": "text"}]), "system[0].text"),
        (request(tools=[{"description": "x", "input_schema": {}}]), "tools[0].name"),
        (request(tools=[{"name": "a", "input_schema": []}]), "tools[0].input_schema"),
        (request(tool_choice={"type": "sometimes"}), "tool_choice.type"),
        (request(tool_choice={"type": "tool"}), "tool_choice.name"),
        (request(tool_choice="auto"), "tool_choice"),
        (request(thinking={"type": "enabled"}), "thinking.budget_tokens"),
        (request(thinking={"type": "on"}), "thinking.type"),
        (request(stop_sequences=["a", 1]), "stop_sequences"),
        (request(temperature="hot"), "temperature"),
        (request(output_config={"format": {"type": "json_object"}}), "output_config.format"),
        (request(output_config={"effort": 3}), "output_config.effort"),
        (request(metadata="u"), "metadata"),
        (request(stream="yes"), "stream"),
    ],
)
def test_validation_names_the_field(body, param) -> None:
    with pytest.raises(RequestError) as exc:
        parse_request(body)
    assert exc.value.param == param
    assert param in exc.value.message


def test_body_must_be_an_object() -> None:
    with pytest.raises(RequestError):
        parse_request([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("thinking", "shown"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, True),
        ({"type": "adaptive"}, True),
        ({"type": "enabled", "budget_tokens": 2048, "display": "omitted"}, False),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking_on_asks_other_upstreams_for_visible_thinking(thinking: dict, shown: bool | None) -> None:
    body = {"model": "m", "max_tokens": 8192, "messages": [{"role": "user", "content": "q"}], "thinking": thinking}
    req = parse_request(body)
    assert req.reasoning is not None and req.reasoning.include_thoughts is shown
    gemini = codec("gemini").build_request(req)
    assert gemini.get("generationConfig", {}).get("thinkingConfig", {}).get("includeThoughts") is shown
    responses = codec("openai_responses").build_request(req)
    assert (responses.get("reasoning") or {}).get("summary") == ("auto" if shown else None)
    assert build_request(req) == body  # the native body is unchanged
