"""parse_request / build_request: fixture and Codex round trips, the mapping, validation, and
builds for a Responses upstream from requests of other protocols."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from responses_helpers import CODEX, FIXTURES, load, request

from switchyard.core.errors import RequestError, TranslationError
from switchyard.core.model import (
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    ReasoningPart,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from switchyard.protocols.openai_responses import build_request, parse_request

REQUESTS = sorted(FIXTURES.glob("request_*.json"))
CODEX_BODIES = sorted(CODEX.glob("*/*.body.json"))


def _id(path: Path) -> str:
    return path.name if path.parent == FIXTURES else f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", REQUESTS + CODEX_BODIES, ids=_id)
def test_round_trip_is_lossless(path: Path) -> None:
    body = orjson.loads(path.read_bytes())
    before = copy.deepcopy(body)
    req = parse_request(body)
    assert req.protocol == "openai_responses"
    assert build_request(req) == body
    assert body == before, "parse_request mutated its input"


# --- parsing ---------------------------------------------------------------------------------


def test_string_input_is_one_user_message() -> None:
    req = parse_request(load("request_plain_text_string_input.json"))
    assert len(req.messages) == 1
    assert req.messages[0].role == "user"
    assert req.messages[0].content[0].text == "What's the weather like in SF?"


def test_instructions_become_system() -> None:
    req = parse_request(load("request_instructions.json"))
    assert [p.text for p in req.system] == ["Always begin your replies with 'Ahoy'"]


def test_message_roles_keep_their_positions() -> None:
    req = parse_request(load("request_multi_turn_history.json"))
    assert [m.role for m in req.messages] == ["developer", "user", "assistant", "user"]
    assert req.messages[2].content[0].text == "Hello, Bob. It's a nice, sunny day!"
    assert req.messages[2].content[0].extensions == {"annotations": []}


def test_system_message_item_stays_a_message() -> None:
    req = parse_request(load("request_system_message_item.json"))
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.system == []


def test_same_role_messages_stay_separate() -> None:
    body = load("codex/hello/01_v1_responses.body.json")
    req = parse_request(body)
    assert [m.role for m in req.messages] == ["developer"] * 4 + ["user"] * 2


def test_client_item_ids_are_kept() -> None:
    req = parse_request(load("codex/tool_call_unknown_model/02_v1_responses.body.json"))
    assert req.messages[0].extensions["id"] == "msg_3ef90e01-ada3-5597-845b-7f31d8c6e548"
    result = req.messages[-1].content[0]
    assert isinstance(result, ToolResultPart)
    assert result.extensions["id"] == "fco_01a20665-6b0c-7902-9312-bc2f5b210efb"


def test_parallel_function_calls_share_one_assistant_message() -> None:
    body = {
        "model": "m",
        "input": [
            {"type": "message", "role": "user", "content": "weather?"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_A", "name": "w", "arguments": '{"c":"S"}'},
            {"type": "function_call", "id": "fc_2", "call_id": "call_B", "name": "w", "arguments": '{"c":"K"}'},
            {"type": "function_call_output", "call_id": "call_A", "output": "rainy"},
            {"type": "function_call_output", "call_id": "call_B", "output": "sunny"},
        ],
    }
    req = parse_request(body)
    assert [m.role for m in req.messages] == ["user", "assistant", "tool"]
    calls = req.messages[1].content
    assert [(c.id, c.name, c.arguments, c.extensions["id"]) for c in calls] == [  # type: ignore[union-attr]
        ("call_A", "w", '{"c":"S"}', "fc_1"),
        ("call_B", "w", '{"c":"K"}', "fc_2"),
    ]
    results = req.messages[2].content
    assert [(r.tool_call_id, r.name, r.content[0].text) for r in results] == [  # type: ignore[union-attr]
        ("call_A", "w", "rainy"),
        ("call_B", "w", "sunny"),
    ]
    assert build_request(req) == body


def test_orphan_tool_result_with_previous_response_id() -> None:
    req = parse_request(load("request_parallel_tool_results.json"))
    assert [m.role for m in req.messages] == ["tool"]
    assert [r.tool_call_id for r in req.messages[0].content] == ["call_constructed_A", "call_constructed_B"]  # type: ignore[union-attr]
    assert all(r.name is None for r in req.messages[0].content)  # type: ignore[union-attr]
    assert req.native_only == ["previous_response_id"]


def test_reasoning_item_summary_joined_and_encrypted_content_is_the_signature() -> None:
    req = parse_request(load("codex/tool_call_unknown_model/02_v1_responses.body.json"))
    turn = req.messages[4]
    assert turn.role == "assistant"
    reasoning, call = turn.content
    assert isinstance(reasoning, ReasoningPart) and isinstance(call, ToolCallPart)
    assert reasoning.text == "**Replying**\n\nThe user wants a short reply."
    assert reasoning.signature == "bW9jay1lbmNyeXB0ZWQtcmVhc29uaW5n"
    assert reasoning.signature_source == "openai_responses"
    assert reasoning.extensions["id"] == "rs_mock_ca50cd5739a849ebb0c13f2a"
    assert reasoning.extensions["summary"] == [
        {"type": "summary_text", "text": "**Replying**\n\nThe user wants a short reply."}
    ]
    assert (call.id, call.name, call.arguments) == (
        "call_mock_baf38040bac34dc6857aff7a",
        "exec_command",
        '{"cmd": "ls -la"}',
    )


def test_reasoning_summary_parts_joined_with_blank_line() -> None:
    body = {
        "model": "m",
        "input": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
            }
        ],
    }
    req = parse_request(body)
    part = req.messages[0].content[0]
    assert isinstance(part, ReasoningPart)
    assert part.text == "a\n\nb"
    assert part.signature is None and part.signature_source is None
    assert build_request(req) == body


def test_additional_tools_are_flattened_into_request_tools() -> None:
    req = parse_request(load("codex/hello/01_v1_responses.body.json"))
    names = [t.name for t in req.tools]
    assert names[:4] == [
        "functions__exec",
        "functions__wait",
        "functions__request_user_input",
        "functions__request_user_input_async",
    ]
    assert "clock__sleep" in names and "collaboration__spawn_agent" in names
    exec_tool = req.tools[0]
    assert exec_tool.freeform is True and exec_tool.parameters is None
    assert exec_tool.extensions["format"]["syntax"] == "lark"
    assert not any(m.extensions.get("type") == "additional_tools" for m in req.messages)


def test_namespace_tools_are_flattened() -> None:
    req = parse_request(load("codex/tool_call_unknown_model/01_v1_responses.body.json"))
    names = [t.name for t in req.tools]
    assert names[4:9] == [
        "multi_agent_v1__close_agent",
        "multi_agent_v1__resume_agent",
        "multi_agent_v1__send_input",
        "multi_agent_v1__spawn_agent",
        "multi_agent_v1__wait_agent",
    ]
    assert req.extensions["_hosted_tools"] == [{"type": "web_search", "external_web_access": False}]


def test_hosted_tools_kept_in_extensions() -> None:
    req = parse_request(load("codex/hello_gpt_5_5/01_v1_responses.body.json"))
    assert [t["type"] for t in req.extensions["_hosted_tools"]] == ["tool_search", "web_search"]
    apply_patch = next(t for t in req.tools if t.name == "apply_patch")
    assert apply_patch.freeform is True


def test_custom_tool_call_and_output() -> None:
    req = parse_request(load("codex/tool_call/02_v1_responses.body.json"))
    call = req.messages[-2].content[1]
    assert isinstance(call, ToolCallPart)
    assert call.name == "functions__exec"  # the bare name the model answered resolves to the namespaced tool
    assert call.extensions["_custom"] is True and call.extensions["_wire_name"] == "exec"
    assert orjson.loads(call.arguments) == {"input": 'const r = await tools.exec_command({cmd: "ls -la"});\ntext(r);\n'}
    result = req.messages[-1].content[0]
    assert isinstance(result, ToolResultPart)
    assert result.name == "functions__exec"
    assert result.content[0].text == "Script completed\nWall time 0.1 seconds\nOutput:\n"  # type: ignore[union-attr]
    assert len(result.content) == 2


def test_function_call_with_namespace() -> None:
    body = {
        "model": "m",
        "tools": [
            {"type": "namespace", "name": "crm", "description": "", "tools": [{"type": "function", "name": "find"}]}
        ],
        "input": [{"type": "function_call", "call_id": "c1", "namespace": "crm", "name": "find", "arguments": "{}"}],
    }
    req = parse_request(body)
    assert req.tools[0].name == "crm__find"
    assert req.messages[0].content[0].name == "crm__find"  # type: ignore[union-attr]
    assert build_request(req) == body


def test_easy_message_without_type() -> None:
    body = {"model": "m", "input": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    req = parse_request(body)
    assert [(m.role, m.content[0].text) for m in req.messages] == [("user", "hi"), ("assistant", "hello")]  # type: ignore[union-attr]
    assert build_request(req) == body


def test_content_parts() -> None:
    body = {
        "model": "m",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBOR", "detail": "high"},
                    {"type": "input_image", "image_url": "https://x/y.jpg", "detail": "auto"},
                    {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"},
                    {"type": "input_file", "file_url": "https://x/b.pdf"},
                    {"type": "input_file", "file_id": "file-1"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "t", "annotations": [{"type": "url_citation"}], "logprobs": []},
                    {"type": "refusal", "refusal": "no"},
                ],
            },
        ],
    }
    req = parse_request(body)
    text, png, url, pdf, link, fid = req.messages[0].content
    assert isinstance(text, TextPart) and text.text == "look"
    assert isinstance(png, ImagePart) and (png.data, png.media_type, png.detail) == ("iVBOR", "image/png", "high")
    assert isinstance(url, ImagePart) and url.url == "https://x/y.jpg"
    assert isinstance(pdf, DocumentPart) and (pdf.data, pdf.media_type, pdf.filename) == (
        "JVBER",
        "application/pdf",
        "a.pdf",
    )
    assert isinstance(link, DocumentPart) and link.url == "https://x/b.pdf"
    assert isinstance(fid, DocumentPart) and fid.file_id == "file-1"
    out, refusal = req.messages[1].content
    assert out.extensions == {"annotations": [{"type": "url_citation"}], "logprobs": []}
    assert isinstance(refusal, TextPart) and refusal.text == "no" and refusal.extensions["refusal"] is True
    assert req.native_only == []
    assert build_request(req) == body


def test_image_file_id_is_native_only() -> None:
    body = {
        "model": "m",
        "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-9", "detail": "auto"}]}],
    }
    req = parse_request(body)
    assert req.native_only == ["input[0].content[0].file_id"]
    assert build_request(req) == body


def test_item_reference_is_kept_and_native_only() -> None:
    body = {"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}, {"role": "user", "content": "again"}]}
    req = parse_request(body)
    assert req.native_only == ["input[0]"]
    assert build_request(req) == body
    req.protocol = "anthropic"
    with pytest.raises(TranslationError) as exc:
        build_request(req)
    assert exc.value.param == "input[0]"


def test_hosted_call_items_are_kept_but_not_native_only() -> None:
    call = {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "q"}}
    body = {"model": "m", "input": [{"role": "user", "content": "q"}, call, {"role": "assistant", "content": "a"}]}
    req = parse_request(body)
    assert req.native_only == []
    assert [m.role for m in req.messages] == ["user", "assistant"]
    assert build_request(req) == body


def test_tool_choice_function() -> None:
    req = parse_request(load("request_tool_choice_function.json"))
    assert req.tool_choice == ToolChoice("tool", "get_weather_at_location")


def test_tool_choice_hosted_form_is_auto_for_other_protocols() -> None:
    req = parse_request(load("request_cached_tokens.json"))
    assert req.tool_choice is not None and req.tool_choice.mode == "auto"
    assert req.tool_choice.extensions["_wire"] == {"type": "web_search_preview"}


def test_tool_choice_allowed_tools_is_native_only() -> None:
    tc = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "f"}]}
    req = request(tools=[{"type": "function", "name": "f"}], tool_choice=tc)
    assert req.tool_choice is not None and req.tool_choice.mode == "required"
    assert req.native_only == ["tool_choice"]


def test_tool_choice_names_a_namespaced_tool_by_its_bare_name() -> None:
    tools = [{"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "function", "name": "f"}]}]
    req = request(tools=tools, tool_choice={"type": "function", "name": "f"})
    assert req.tool_choice == ToolChoice("tool", "ns__f")
    assert build_request(req)["tool_choice"] == {"type": "function", "name": "f"}


def test_text_format_json_schema_is_response_format() -> None:
    fmt = {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}
    req = request(text={"format": fmt, "verbosity": "low"})
    assert req.response_format == fmt
    assert req.extensions["text"] == {"verbosity": "low"}
    assert build_request(req)["text"] == {"format": fmt, "verbosity": "low"}


def test_reasoning_settings() -> None:
    req = parse_request(load("request_reasoning_summary.json"))
    assert req.reasoning == Reasoning(effort="xhigh", summary="detailed")
    codex = parse_request(load("codex/hello/01_v1_responses.body.json"))
    assert codex.reasoning is not None and codex.reasoning.effort == "low"
    assert codex.reasoning.extensions == {"context": "all_turns"}
    off = request(reasoning={"effort": "none"})
    assert off.reasoning is not None and off.reasoning.enabled is False
    assert build_request(off)["reasoning"] == {"effort": "none"}


def test_generation_settings() -> None:
    req = request(
        max_output_tokens=20, temperature=0.5, top_p=0.9, parallel_tool_calls=False, metadata={"a": "b"}, user="u"
    )
    assert (req.max_tokens, req.temperature, req.top_p, req.parallel_tool_calls) == (20, 0.5, 0.9, False)
    assert (req.metadata, req.user) == ({"a": "b"}, "u")


def test_extensions_hold_the_fields_the_core_does_not_model() -> None:
    req = parse_request(load("request_prompt_cache_key.json"))
    assert req.extensions["prompt_cache_key"] == "test-prompt-cache-key"
    assert req.extensions["prompt_cache_retention"] == "24h"
    codex = parse_request(load("codex/hello/01_v1_responses.body.json"))
    assert codex.extensions["store"] is False
    assert codex.extensions["include"] == ["reasoning.encrypted_content"]
    assert "client_metadata" in codex.extensions


def test_input_may_be_left_out_when_a_previous_response_supplies_it() -> None:
    body = {"model": "m", "previous_response_id": "resp_1"}
    req = parse_request(body)
    assert req.messages == [] and build_request(req) == body


def test_explicit_nulls_round_trip() -> None:
    body = {
        "model": "m",
        "input": "hi",
        "instructions": None,
        "temperature": None,
        "reasoning": {"effort": None, "summary": "auto"},
    }
    assert build_request(parse_request(body)) == body


def test_stream_flag() -> None:
    assert parse_request(load("request_stream_plain_text.json")).stream is True
    req = request()
    req.stream = True  # the server decides to stream
    assert build_request(req)["stream"] is True
    assert build_request(request(stream=False))["stream"] is False


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": 3, "input": "hi"}, "model"),
        ({"model": "m", "input": 3}, "input"),
        ({"model": "m", "input": [3]}, "input[0]"),
        ({"model": "m", "input": [{"content": "x"}]}, "input[0].type"),
        ({"model": "m", "input": [{"type": "message", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "boss", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "user"}]}, "input[0].content"),
        ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text"),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0].image_url",
        ),
        ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        ({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f"}]}, "input[0].arguments"),
        ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
        ({"model": "m", "input": [{"type": "custom_tool_call", "call_id": "c", "name": "f"}]}, "input[0].input"),
        ({"model": "m", "input": [{"type": "reasoning", "summary": "x"}]}, "input[0].summary"),
        ({"model": "m", "input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        (
            {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "parameters": []}]},
            "tools[0].parameters",
        ),
        (
            {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f", "strict": "yes"}]},
            "tools[0].strict",
        ),
        ({"model": "m", "input": "hi", "tools": {"type": "function"}}, "tools"),
        ({"model": "m", "input": "hi", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "input": "hi", "instructions": ["x"]}, "instructions"),
        ({"model": "m", "input": "hi", "temperature": "hot"}, "temperature"),
        ({"model": "m", "input": "hi", "max_output_tokens": 1.5}, "max_output_tokens"),
        ({"model": "m", "input": "hi", "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"model": "m", "input": "hi", "reasoning": {"effort": 3}}, "reasoning.effort"),
        ({"model": "m", "input": "hi", "reasoning": "high"}, "reasoning"),
        ({"model": "m", "input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"model": "m", "input": "hi", "include": "reasoning.encrypted_content"}, "include"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": None}, "input"),
        ({"model": "m", "input": "hi", "background": True}, "background"),
        ({"model": "m", "input": "hi", "conversation": "conv_1"}, "conversation"),
    ],
)
def test_validation_names_the_field(body: dict, param: str) -> None:
    with pytest.raises(RequestError) as exc:
        parse_request(body)
    assert exc.value.param == param


def test_body_must_be_an_object() -> None:
    with pytest.raises(RequestError):
        parse_request([])  # type: ignore[arg-type]


# --- builds from other protocols -------------------------------------------------------------


def foreign(**fields) -> Request:
    return Request(model="gpt-x", protocol="anthropic", **fields)


def test_build_system_roles_and_text() -> None:
    req = foreign(
        system=[TextPart("Be brief."), TextPart("Be kind.")],
        messages=[
            Message("user", [TextPart("hi")]),
            Message("assistant", [TextPart("hello")]),
            Message("system", [TextPart("mid-conversation note")]),
            Message("user", [TextPart("bye")]),
        ],
        max_tokens=256,
        temperature=0.2,
    )
    body = build_request(req)
    assert body == {
        "model": "gpt-x",
        "instructions": "Be brief.\n\nBe kind.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hello", "annotations": []}],
            },
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "mid-conversation note"}],
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "bye"}]},
        ],
        "max_output_tokens": 256,
        "temperature": 0.2,
        "store": False,
    }


def test_build_tool_calls_and_results() -> None:
    req = foreign(
        tools=[Tool("get_weather", "weather", {"type": "object", "properties": {"c": {"type": "string"}}})],
        messages=[
            Message("user", [TextPart("weather in S and K?")]),
            Message(
                "assistant",
                [
                    TextPart("Checking."),
                    ToolCallPart("toolu_1", "get_weather", '{"c":"S"}'),
                    ToolCallPart("toolu_2", "get_weather", '{"c":"K"}'),
                ],
            ),
            Message(
                "tool", [ToolResultPart("toolu_1", [TextPart("rainy")]), ToolResultPart("toolu_2", [TextPart("sunny")])]
            ),
        ],
    )
    body = build_request(req)
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "weather",
            "parameters": {"type": "object", "properties": {"c": {"type": "string"}}},
            "strict": False,
        }
    ]
    items = body["input"]
    assert items[1] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
    }
    assert items[2]["type"] == "function_call" and items[2]["call_id"] == "toolu_1"
    assert items[2]["id"].startswith("fc_") and items[2]["arguments"] == '{"c":"S"}'
    assert items[3]["call_id"] == "toolu_2" and items[3]["id"] != items[2]["id"]
    assert items[4:] == [
        {"type": "function_call_output", "call_id": "toolu_1", "output": "rainy"},
        {"type": "function_call_output", "call_id": "toolu_2", "output": "sunny"},
    ]
    assert build_request(req) == body, "ids are minted stably"


def test_error_tool_result_is_marked_in_the_text() -> None:
    req = foreign(messages=[Message("tool", [ToolResultPart("c1", [TextPart("not found")], is_error=True)])])
    assert build_request(req)["input"] == [
        {"type": "function_call_output", "call_id": "c1", "output": "Error: not found"}
    ]


def test_empty_tool_result() -> None:
    req = foreign(messages=[Message("tool", [ToolResultPart("c1", [])])])
    assert build_request(req)["input"] == [{"type": "function_call_output", "call_id": "c1", "output": ""}]


def test_rich_tool_result_is_a_list_of_input_parts() -> None:
    result = ToolResultPart("c1", [TextPart("see"), ImagePart(data="AAA", media_type="image/png")])
    req = foreign(messages=[Message("tool", [result])])
    assert build_request(req)["input"][0]["output"] == [
        {"type": "input_text", "text": "see"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "auto"},
    ]


def test_tool_with_no_parameters() -> None:
    body = build_request(foreign(tools=[Tool("ping")]))
    assert body["tools"] == [
        {"type": "function", "name": "ping", "parameters": {"type": "object", "properties": {}}, "strict": False}
    ]


def test_freeform_tool_and_call_from_the_core() -> None:
    req = foreign(
        tools=[Tool("apply_patch", "patch files", freeform=True)],
        messages=[Message("assistant", [ToolCallPart("c1", "apply_patch", '{"input":"*** Begin Patch"}')])],
        tool_choice=ToolChoice("tool", "apply_patch"),
    )
    body = build_request(req)
    assert body["tools"] == [{"type": "custom", "name": "apply_patch", "description": "patch files"}]
    assert body["tool_choice"] == {"type": "custom", "name": "apply_patch"}
    item = body["input"][0]
    assert (item["type"], item["input"]) == ("custom_tool_call", "*** Begin Patch")
    assert item["id"].startswith("ctc_")


def test_foreign_reasoning_is_dropped_and_own_reasoning_replayed() -> None:
    req = foreign(
        messages=[
            Message(
                "assistant",
                [
                    ReasoningPart("thinking", signature="EroC", signature_source="anthropic"),
                    ReasoningPart(
                        "",
                        signature="gAAA",
                        signature_source="openai_responses",
                        extensions={"id": "rs_9", "summary": []},
                    ),
                    ReasoningPart("", signature="sig", signature_source="gemini"),
                    ToolCallPart("c1", "f", "{}"),
                ],
            )
        ]
    )
    items = build_request(req)["input"]
    assert items[0] == {"type": "reasoning", "id": "rs_9", "summary": [], "encrypted_content": "gAAA"}
    assert [i["type"] for i in items] == ["reasoning", "function_call"]


def test_own_reasoning_without_id_gets_a_stable_one() -> None:
    part = ReasoningPart("summary", signature="gAAA", signature_source="openai_responses")
    items = build_request(foreign(messages=[Message("assistant", [part])]))["input"]
    assert items[0]["id"].startswith("rs_")
    assert items[0]["summary"] == [{"type": "summary_text", "text": "summary"}]


def test_store_false_and_include_encrypted_reasoning_when_reasoning_is_requested() -> None:
    body = build_request(foreign(reasoning=Reasoning(budget_tokens=8000)))
    assert body["store"] is False
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["reasoning"] == {"effort": "medium"}
    plain = build_request(foreign())
    assert plain["store"] is False and "include" not in plain


def test_include_when_history_replays_responses_reasoning() -> None:
    part = ReasoningPart("", signature="gAAA", signature_source="openai_responses")
    body = build_request(foreign(messages=[Message("assistant", [part])]))
    assert body["include"] == ["reasoning.encrypted_content"]


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        (Reasoning(budget_tokens=1024), {"effort": "low"}),
        (Reasoning(budget_tokens=20000), {"effort": "high"}),
        (Reasoning(effort="max"), {"effort": "xhigh"}),
        (Reasoning(effort="minimal"), {"effort": "minimal"}),
        (Reasoning(adaptive=True), None),
        (Reasoning(enabled=False), None),
        (Reasoning(effort="high", include_thoughts=True), {"effort": "high", "summary": "auto"}),
    ],
)
def test_reasoning_settings_from_other_protocols(reasoning: Reasoning, expected: dict | None) -> None:
    assert build_request(foreign(reasoning=reasoning)).get("reasoning") == expected


def test_response_format() -> None:
    flat = {"type": "json_schema", "name": "o", "schema": {"type": "object"}, "strict": True}
    assert build_request(foreign(response_format=flat))["text"] == {"format": flat}
    nested = {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}, "strict": True}}
    assert build_request(foreign(response_format=nested))["text"] == {"format": flat}
    assert build_request(foreign(response_format={"type": "json_object"}))["text"] == {
        "format": {"type": "json_object"}
    }


def test_user_becomes_safety_identifier_and_metadata_stays_home() -> None:
    body = build_request(foreign(user="u-1", metadata={"user_id": "u-1"}))
    assert body["safety_identifier"] == "u-1"
    assert "user" not in body and "metadata" not in body
    long_id = '{"device_id":"' + "f" * 64 + '","session_id":"be13873a"}'
    hashed = build_request(foreign(user=long_id))["safety_identifier"]
    assert hashed.startswith("user_") and len(hashed) <= 64
    assert build_request(foreign(user=long_id))["safety_identifier"] == hashed


def test_max_output_tokens_floor() -> None:
    assert build_request(foreign(max_tokens=1))["max_output_tokens"] == 16


def test_tool_choice_and_parallel_from_the_core() -> None:
    body = build_request(foreign(tool_choice=ToolChoice("required"), parallel_tool_calls=False))
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("required", False)
    assert build_request(foreign(tool_choice=ToolChoice("tool", "f")))["tool_choice"] == {
        "type": "function",
        "name": "f",
    }


def test_images_and_documents_from_the_core() -> None:
    parts = [
        ImagePart(url="https://x/a.png", detail="low"),
        DocumentPart(data="JVBER", media_type="application/pdf"),
        DocumentPart(url="https://x/b.pdf", filename="b.pdf"),
        DocumentPart(text="plain notes", title="Notes"),
    ]
    content = build_request(foreign(messages=[Message("user", parts)]))["input"][0]["content"]
    assert content == [
        {"type": "input_image", "image_url": "https://x/a.png", "detail": "low"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER", "filename": "document.pdf"},
        {"type": "input_file", "file_url": "https://x/b.pdf", "filename": "b.pdf"},
        {"type": "input_text", "text": "Notes\n\nplain notes"},
    ]


def test_provider_file_id_is_not_portable() -> None:
    req = foreign(messages=[Message("user", [DocumentPart(file_id="file_011")])])
    with pytest.raises(TranslationError) as exc:
        build_request(req)
    assert exc.value.param == "messages[0].content[0].file_id"


def test_image_in_assistant_message_cannot_be_sent() -> None:
    req = foreign(messages=[Message("assistant", [ImagePart(url="https://x/a.png")])])
    with pytest.raises(TranslationError) as exc:
        build_request(req)
    assert exc.value.param == "messages[0].content[0]"


def test_non_text_system_cannot_be_instructions() -> None:
    with pytest.raises(TranslationError) as exc:
        build_request(foreign(system=[ImagePart(url="https://x/a.png")]))
    assert exc.value.param == "system[0]"


def test_stop_sequences_cannot_be_translated() -> None:
    with pytest.raises(TranslationError) as exc:
        build_request(foreign(stop=["END"]))
    assert exc.value.param == "stop"


def test_native_only_of_another_protocol_raises() -> None:
    with pytest.raises(TranslationError) as exc:
        build_request(foreign(native_only=["n"]))
    assert exc.value.param == "n"


def test_foreign_extensions_are_ignored() -> None:
    req = foreign(
        extensions={"store": True, "metadata_x": 1}, messages=[Message("user", [TextPart("hi", {"cache_control": {}})])]
    )
    body = build_request(req)
    assert body["store"] is False and "metadata_x" not in body
    assert body["input"][0]["content"] == [{"type": "input_text", "text": "hi"}]


def test_build_does_not_mutate_the_request() -> None:
    req = parse_request(load("codex/tool_call/02_v1_responses.body.json"))
    snapshot = copy.deepcopy(req)
    build_request(req)
    build_request(req)
    assert req == snapshot
