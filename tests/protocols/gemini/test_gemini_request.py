"""Gemini request codec: fixture round trips, parsing into the core model, validation, and
builds for a Gemini upstream from requests of other protocols."""

from __future__ import annotations

import copy

import pytest
from gemini_helpers import CLI, FIXTURES, load

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
from switchyard.protocols.gemini import build_request, parse_request
from switchyard.protocols.gemini.wire import is_minted

REQUESTS = sorted(p.name for p in FIXTURES.glob("request_*.json"))
CLI_BODIES = sorted(str(p.relative_to(FIXTURES)) for p in CLI.glob("*/*.body.json"))


@pytest.mark.parametrize("name", REQUESTS + CLI_BODIES)
def test_round_trip_is_lossless(name: str) -> None:
    body = load(name)
    original = copy.deepcopy(body)
    req = parse_request(body, "gemini-x")
    assert body == original, "parse_request mutated its input"
    assert build_request(req) == body


def test_model_comes_from_the_path_and_stream_from_the_endpoint() -> None:
    req = parse_request(load("request_plain_text.json"), "gemini-2.5-flash")
    assert req.model == "gemini-2.5-flash"
    assert req.protocol == "gemini"
    assert req.stream is False
    assert "model" not in build_request(req)


def test_plain_text_and_temperature() -> None:
    req = parse_request(load("request_plain_text.json"))
    assert req.messages == [Message("user", [TextPart("What is the capital of France? One word.")])]
    assert req.temperature == 0


def test_system_instruction_role_is_ignored_but_kept() -> None:
    req = parse_request(load("request_stream_system_instruction.json"))
    assert [p.text for p in req.system] == [
        'You are a helpful assistant.\n\nYou are an agent. Your internal name is "model-agent".'
    ]
    assert build_request(req)["systemInstruction"]["role"] == "user"


def test_function_call_and_response_without_ids_get_the_same_minted_id() -> None:
    req = parse_request(load("request_tool_result.json"))
    call = req.messages[1].content[0]
    result = req.messages[2].content[0]
    assert isinstance(call, ToolCallPart) and isinstance(result, ToolResultPart)
    assert is_minted(call.id) and result.tool_call_id == call.id
    assert call.signature_source == "gemini" and call.signature.startswith("CvABAb4")
    assert req.messages[2].role == "tool" and result.name == "get_weather"
    # {"output": {...}} is not a plain string: the whole response object becomes JSON text
    assert result.content == [TextPart('{"output":{"weather_summary":"Today in \\"london\\" is sunny"}}')]
    assert parse_request(load("request_tool_result.json")).messages[1].content[0].id == call.id  # stable


def test_parallel_function_responses_keep_their_ids_and_order() -> None:
    req = parse_request(load("request_parallel_function_responses_gemini3.json"))
    calls = req.messages[1].content
    results = req.messages[2].content
    assert [c.id for c in calls] == ["3ae8iwca", "up3kf30e", "ycroch25"]
    assert [r.tool_call_id for r in results] == ["3ae8iwca", "up3kf30e", "ycroch25"]
    assert calls[0].signature and calls[1].signature is None
    assert results[1].content == [TextPart('{"sum":9}')]


def test_signature_only_part_is_a_reasoning_part() -> None:
    req = parse_request(load("request_signature_only_part_gemini31.json"))
    text, sig = req.messages[3].content
    assert isinstance(text, TextPart)
    assert isinstance(sig, ReasoningPart) and sig.text == "" and sig.signature_source == "gemini"
    assert build_request(req)["contents"][3]["parts"][1] == {"thoughtSignature": sig.signature}


def test_text_part_signature_stays_on_the_text_part() -> None:
    req = parse_request(load("request_multi_turn_thought_signatures.json"))
    part = req.messages[5].content[0]
    assert isinstance(part, TextPart) and part.extensions["thoughtSignature"].startswith("EtkBCt")


def test_openapi_parameters_are_converted_and_kept() -> None:
    req = parse_request(load("request_multi_turn_thought_signatures.json"))
    fetcher = next(t for t in req.tools if t.name == "data_fetcher")
    assert fetcher.parameters == {
        "properties": {
            "request": {"description": "Detailed instructions or context for the task sub-agent.", "type": "string"}
        },
        "required": ["request"],
        "type": "object",
    }
    decl = build_request(req)["tools"][0]["functionDeclarations"][1]
    assert decl["parameters"]["type"] == "OBJECT" and "parametersJsonSchema" not in decl


def test_nullable_openapi_schema_becomes_a_type_list() -> None:
    body = {
        "contents": [],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "parameters": {"type": "OBJECT", "properties": {"x": {"type": "STRING", "nullable": True}}},
                    }
                ]
            }
        ],
    }
    assert parse_request(body).tools[0].parameters == {
        "type": "object",
        "properties": {"x": {"type": ["string", "null"]}},
    }


def test_cli_thinking_level_and_uppercase_response_schema() -> None:
    req = parse_request(load("gemini_cli/hello/01_generateContent_gemini-3.5-flash-lite.body.json"))
    assert req.reasoning.effort == "high" and req.reasoning.include_thoughts is True
    assert req.response_format["type"] == "json_schema"
    assert req.response_format["name"] == "response"
    assert req.response_format["schema"]["type"] == "object"  # plain JSON Schema in the core
    assert build_request(req)["generationConfig"]["responseJsonSchema"]["type"] == "OBJECT"  # sent back as is
    assert (req.temperature, req.top_p, req.top_k) == (1, 0.95, 64)
    # two consecutive user contents stay two contents
    assert [m.role for m in req.messages] == ["user", "user"]
    assert len(build_request(req)["contents"]) == 2


def test_cli_classifier_schema_builds_valid_structured_output_for_other_protocols() -> None:
    # The Gemini CLI's router classifier sends responseJsonSchema with OpenAPI upper-case types and
    # no name: Chat and Responses require a name, and no other upstream takes "OBJECT" as a type.
    from switchyard.protocols import anthropic, openai_chat, openai_responses

    req = parse_request(load("gemini_cli/hello/01_generateContent_gemini-3.5-flash-lite.body.json"))
    schema = {
        "type": "object",
        "properties": {
            "complexity_reasoning": {"type": "string", "description": "Brief explanation for the score."},
            "complexity_score": {"type": "integer", "description": "Complexity score from 1-100."},
        },
        "required": ["complexity_reasoning", "complexity_score"],
    }
    assert openai_chat.build_request(req)["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
    assert openai_responses.build_request(req)["text"]["format"] == {
        "type": "json_schema",
        "name": "response",
        "schema": schema,
    }
    assert anthropic.build_request(req)["output_config"]["format"] == {"type": "json_schema", "schema": schema}


def test_response_json_schema_nullable_is_folded() -> None:
    body = {
        "contents": [],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "OBJECT", "properties": {"x": {"type": "STRING", "nullable": True}}},
        },
    }
    req = parse_request(body)
    assert req.response_format == {
        "type": "json_schema",
        "name": "response",
        "schema": {"type": "object", "properties": {"x": {"type": ["string", "null"]}}},
    }
    assert build_request(req) == body


def test_thinking_budget_values() -> None:
    def reasoning(budget: int) -> Reasoning:
        return parse_request(
            {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": budget}}}
        ).reasoning

    assert reasoning(0).enabled is False
    assert reasoning(-1).adaptive is True
    assert reasoning(1024).budget_tokens == 1024


def test_snake_case_keys_are_accepted() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "hi"}, {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}}],
            }
        ],
        "system_instruction": {"parts": [{"text": "be brief"}]},
        "generation_config": {
            "max_output_tokens": 50,
            "top_k": 3,
            "thinking_config": {"thinking_budget": 0, "include_thoughts": False},
        },
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["f"]}},
        "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema": {"type": "object"}}]}],
    }
    req = parse_request(body)
    assert req.max_tokens == 50 and req.top_k == 3
    assert req.reasoning.enabled is False and req.reasoning.include_thoughts is False
    assert req.system == [TextPart("be brief")]
    assert req.messages[0].content[1] == ImagePart(data="iVBORw0KGgo=", media_type="image/png")
    assert req.tool_choice == ToolChoice("tool", "f", extensions=req.tool_choice.extensions)
    assert req.tools[0].parameters == {"type": "object"}
    out = build_request(req)
    assert out["generationConfig"]["maxOutputTokens"] == 50 and "systemInstruction" in out


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "contents"),
        ({"contents": {}}, "contents"),
        ({"contents": ["x"]}, "contents[0]"),
        ({"contents": [{"role": "system", "parts": []}]}, "contents[0].role"),
        ({"contents": [{"role": "user", "parts": {}}]}, "contents[0].parts"),
        ({"contents": [{"role": "user", "parts": [{"text": 3}]}]}, "contents[0].parts[0].text"),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]},
            "contents[0].parts[0].functionCall.name",
        ),
        (
            {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": []}}]}]},
            "contents[0].parts[0].functionCall.args",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"functionCall": {"name": "f"}}]}]},
            "contents[0].parts[0].functionCall",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"functionResponse": {"response": {}}}]}]},
            "contents[0].parts[0].functionResponse.name",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png"}}]}]},
            "contents[0].parts[0].inlineData.data",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png"}}]}]},
            "contents[0].parts[0].fileData.fileUri",
        ),
        ({"contents": [], "systemInstruction": {"parts": "x"}}, "systemInstruction.parts"),
        ({"contents": [], "tools": {}}, "tools"),
        (
            {"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]},
            "tools[0].functionDeclarations[0].name",
        ),
        (
            {"contents": [], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}},
            "toolConfig.functionCallingConfig.mode",
        ),
        ({"contents": [], "generationConfig": {"temperature": "hot"}}, "generationConfig.temperature"),
        ({"contents": [], "generationConfig": {"maxOutputTokens": 1.5}}, "generationConfig.maxOutputTokens"),
        ({"contents": [], "generationConfig": {"stopSequences": "x"}}, "generationConfig.stopSequences"),
        (
            {"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": "lots"}}},
            "generationConfig.thinkingConfig.thinkingBudget",
        ),
    ],
)
def test_validation_errors_name_the_field(body: dict, param: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_request(body)
    assert info.value.param == param


def test_orphan_tool_result() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "ok"}}}]}]
    }
    result = parse_request(body).messages[0].content[0]
    assert is_minted(result.tool_call_id) and result.content == [TextPart("ok")]
    assert build_request(parse_request(body)) == body


def test_repeated_function_names_match_by_position() -> None:
    body = {
        "contents": [
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "f", "args": {"n": 1}}},
                    {"functionCall": {"name": "f", "args": {"n": 2}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "f", "response": {"result": "1"}}},
                    {"functionResponse": {"name": "f", "response": {"result": "2"}}},
                ],
            },
        ]
    }
    req = parse_request(body)
    assert [c.id for c in req.messages[0].content] == [r.tool_call_id for r in req.messages[1].content]
    assert len({c.id for c in req.messages[0].content}) == 2


def test_function_response_shapes() -> None:
    def result(response: dict) -> ToolResultPart:
        body = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": response}}]}]}
        return parse_request(body).messages[0].content[0]

    assert result({"result": "x"}).content == [TextPart("x")]
    assert result({"output": "y"}).content == [TextPart("y")]
    assert result({"error": "bad"}).is_error is True
    assert result({"error": "bad"}).content == [TextPart("bad")]
    assert result({"error": {"code": 3}}).content == [TextPart('{"code":3}')]
    assert result({"a": 1, "b": "c"}).content == [TextPart('{"a":1,"b":"c"}')]
    assert result({"result": {"a": 1}}).content == [TextPart('{"result":{"a":1}}')]


def test_empty_tool_result() -> None:
    body = {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": ""}}}]}]}
    assert parse_request(body).messages[0].content[0].content == []


def test_mixed_content_is_split_and_glued_back() -> None:
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}, "id": "a"}}]},
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "f", "id": "a", "response": {"result": "r"}}},
                    {"text": "and now?"},
                ],
            },
        ]
    }
    req = parse_request(body)
    assert [m.role for m in req.messages] == ["assistant", "tool", "user"]
    assert build_request(req) == body


def test_inline_and_file_data_parts() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
                    {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a.jpg"}},
                    {"fileData": {"fileUri": "files/abc"}},
                ],
            }
        ]
    }
    req = parse_request(body)
    doc, img, file = req.messages[0].content
    assert doc == DocumentPart(data="JVBERi0x", media_type="application/pdf")
    assert img == ImagePart(url="https://example.com/a.jpg", media_type="image/jpeg")
    assert file == DocumentPart(url="files/abc")
    assert build_request(req) == body


def test_code_execution_parts_and_tools_are_native_only() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "compute"}]},
            {
                "role": "model",
                "parts": [
                    {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}},
                ],
            },
        ],
        "tools": [{"codeExecution": {}}, {"googleSearch": {}}],
    }
    req = parse_request(body)
    assert req.native_only == ["tools[0].codeExecution", "tools[1].googleSearch"]
    assert build_request(req) == body
    req.protocol = "openai_chat"
    with pytest.raises(TranslationError) as info:
        build_request(req)
    assert info.value.param == "tools[0].codeExecution"


@pytest.mark.parametrize(
    ("generation", "field"),
    [
        ({"candidateCount": 2}, "generationConfig.candidateCount"),
        ({"responseModalities": ["TEXT", "IMAGE"]}, "generationConfig.responseModalities"),
        ({"responseLogprobs": True}, "generationConfig.responseLogprobs"),
        (
            {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": ["a"]}},
            "generationConfig.responseMimeType",
        ),
    ],
)
def test_native_only_generation_settings(generation: dict, field: str) -> None:
    req = parse_request({"contents": [], "generationConfig": generation})
    assert req.native_only == [field]
    assert build_request(req) == {"contents": [], "generationConfig": generation}


def test_cached_content_is_native_only() -> None:
    req = parse_request(load("request_cached_content.json"))
    assert req.native_only == ["cachedContent"]


def test_allowed_function_names_subset_is_native_only() -> None:
    body = {
        "contents": [],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["a", "b"]}},
    }
    req = parse_request(body)
    assert req.tool_choice.mode == "required"
    assert req.native_only == ["toolConfig.functionCallingConfig.allowedFunctionNames"]


@pytest.mark.parametrize(
    ("mode", "mode_out"), [("AUTO", "auto"), ("NONE", "none"), ("ANY", "required"), ("VALIDATED", "auto")]
)
def test_tool_choice_modes(mode: str, mode_out: str) -> None:
    req = parse_request({"contents": [], "toolConfig": {"functionCallingConfig": {"mode": mode}}})
    assert req.tool_choice.mode == mode_out


def test_generation_extensions_round_trip() -> None:
    body = {
        "contents": [{"parts": [{"text": "x"}]}],
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "generationConfig": {
            "seed": 7,
            "presencePenalty": 0.5,
            "frequencyPenalty": 0.2,
            "stopSequences": ["END"],
            "responseMimeType": "application/json",
        },
        "labels": {"team": "a"},
    }
    req = parse_request(body)
    assert req.stop == ["END"] and req.response_format == {"type": "json_object"}
    assert build_request(req) == body


# --- builds from other protocols ------------------------------------------------------------


def foreign(**kwargs) -> Request:
    return Request(model="gemini-2.5-flash", protocol="openai_chat", **kwargs)


def test_system_and_developer_messages_are_hoisted_in_order() -> None:
    req = foreign(
        system=[TextPart("top")],
        messages=[
            Message("system", [TextPart("first")]),
            Message("user", [TextPart("hi")]),
            Message("developer", [TextPart("second")]),
            Message("user", [TextPart("again")]),
        ],
    )
    out = build_request(req)
    assert out["systemInstruction"] == {"parts": [{"text": "top"}, {"text": "first"}, {"text": "second"}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "hi"}, {"text": "again"}]}]


def test_tool_results_become_one_user_content_in_call_order() -> None:
    req = foreign(
        messages=[
            Message("user", [TextPart("go")]),
            Message("assistant", [ToolCallPart("call_1", "a", '{"x":1}'), ToolCallPart("call_2", "b", "{}")]),
            Message("tool", [ToolResultPart("call_2", [TextPart("B")])]),
            Message("tool", [ToolResultPart("call_1", [TextPart("A")], is_error=True)]),
            Message("user", [TextPart("thanks")]),
        ]
    )
    out = build_request(req)
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "go"}]},
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "a", "args": {"x": 1}, "id": "call_1"}},
                {"functionCall": {"name": "b", "args": {}, "id": "call_2"}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "a", "id": "call_1", "response": {"error": "A"}}},
                {"functionResponse": {"name": "b", "id": "call_2", "response": {"result": "B"}}},
                {"text": "thanks"},
            ],
        },
    ]


def test_tool_result_name_comes_from_the_part_when_given() -> None:
    req = foreign(messages=[Message("tool", [ToolResultPart("x", [TextPart("r")], name="named")])])
    assert build_request(req)["contents"][0]["parts"][0]["functionResponse"]["name"] == "named"


def test_tool_result_without_known_name_is_refused() -> None:
    req = foreign(messages=[Message("tool", [ToolResultPart("nope", [TextPart("r")])])])
    with pytest.raises(TranslationError) as info:
        build_request(req)
    assert info.value.param == "messages[0].content[0].name"


def test_minted_ids_are_left_out() -> None:
    req = parse_request(load("request_tool_result.json"))
    req.protocol = "anthropic"  # as if an Anthropic client echoed our minted ids back
    out = build_request(req)
    assert "id" not in out["contents"][1]["parts"][0]["functionCall"]
    assert "id" not in out["contents"][2]["parts"][0]["functionResponse"]


def test_signatures_are_forwarded_only_from_gemini() -> None:
    req = foreign(
        messages=[
            Message(
                "assistant",
                [
                    ReasoningPart("thinking", signature="anthropic-sig", signature_source="anthropic"),
                    ReasoningPart("", signature="gem-sig", signature_source="gemini"),
                    TextPart("answer"),
                    ToolCallPart("c1", "f", "{}", signature="gem-call", signature_source="gemini"),
                    ToolCallPart("c2", "f", "{}", signature="other", signature_source="anthropic"),
                ],
            )
        ]
    )
    assert build_request(req)["contents"][0]["parts"] == [
        {"thoughtSignature": "gem-sig"},
        {"text": "answer"},
        {"functionCall": {"name": "f", "args": {}, "id": "c1"}, "thoughtSignature": "gem-call"},
        {"functionCall": {"name": "f", "args": {}, "id": "c2"}},
    ]


def test_foreign_extensions_are_ignored() -> None:
    req = foreign(
        messages=[Message("user", [TextPart("hi", extensions={"cache_control": {"type": "ephemeral"}})])],
        extensions={"store": True},
    )
    assert build_request(req) == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_native_only_of_another_protocol_is_refused() -> None:
    req = foreign(messages=[Message("user", [TextPart("hi")])], native_only=["n"])
    with pytest.raises(TranslationError) as info:
        build_request(req)
    assert info.value.param == "n"


def test_consecutive_same_role_messages_are_merged_for_foreign_requests() -> None:
    req = foreign(
        messages=[
            Message("user", [TextPart("a")]),
            Message("user", [TextPart("b")]),
            Message("assistant", [ReasoningPart("x")]),
        ]
    )
    assert build_request(req)["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]


def test_tools_use_parameters_json_schema() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False}
    req = foreign(
        tools=[Tool("search", "find", schema, strict=True), Tool("ping"), Tool("patch", "apply", freeform=True)]
    )
    assert build_request(req)["tools"] == [
        {
            "functionDeclarations": [
                {"name": "search", "description": "find", "parametersJsonSchema": schema},
                {"name": "ping"},
                {
                    "name": "patch",
                    "description": "apply",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    },
                },
            ]
        }
    ]


def test_tool_with_no_parameters() -> None:
    req = parse_request({"contents": [], "tools": [{"functionDeclarations": [{"name": "now"}]}]})
    assert req.tools[0].parameters is None
    assert build_request(req)["tools"] == [{"functionDeclarations": [{"name": "now"}]}]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ToolChoice("auto"), {"mode": "AUTO"}),
        (ToolChoice("none"), {"mode": "NONE"}),
        (ToolChoice("required"), {"mode": "ANY"}),
        (ToolChoice("tool", "f"), {"mode": "ANY", "allowedFunctionNames": ["f"]}),
    ],
)
def test_tool_choice_is_built(choice: ToolChoice, expected: dict) -> None:
    req = foreign(tools=[Tool("f")], tool_choice=choice)
    assert build_request(req)["toolConfig"] == {"functionCallingConfig": expected}


@pytest.mark.parametrize(
    ("reasoning", "expected"),
    [
        (Reasoning(effort="low"), {"thinkingLevel": "low"}),
        (Reasoning(effort="xhigh"), {"thinkingLevel": "high"}),
        (Reasoning(budget_tokens=2048), {"thinkingBudget": 2048}),
        (Reasoning(adaptive=True), {"thinkingBudget": -1}),
        (Reasoning(enabled=False), {"thinkingBudget": 0}),
        (Reasoning(effort="none"), {"thinkingBudget": 0}),
        (Reasoning(adaptive=True, effort="high"), {"thinkingLevel": "high"}),
        (Reasoning(effort="medium", summary="auto"), {"includeThoughts": True, "thinkingLevel": "medium"}),
        (Reasoning(budget_tokens=1024, include_thoughts=True), {"includeThoughts": True, "thinkingBudget": 1024}),
    ],
)
def test_reasoning_is_built(reasoning: Reasoning, expected: dict) -> None:
    assert build_request(foreign(reasoning=reasoning))["generationConfig"] == {"thinkingConfig": expected}


def test_generation_settings_and_json_schema_format() -> None:
    req = foreign(
        max_tokens=100,
        temperature=0.3,
        top_p=0.9,
        stop=["x"],
        response_format={"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True},
    )
    assert build_request(req)["generationConfig"] == {
        "temperature": 0.3,
        "topP": 0.9,
        "maxOutputTokens": 100,
        "stopSequences": ["x"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
    }


def test_media_parts_for_gemini() -> None:
    req = foreign(
        messages=[
            Message(
                "user",
                [
                    ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
                    ImagePart(url="https://example.com/cat.jpg"),
                    ImagePart(data="/9j/4AAQ"),
                    DocumentPart(data="JVBERi0x", media_type="application/pdf", filename="a.pdf"),
                    DocumentPart(text="plain"),
                ],
            )
        ]
    )
    assert build_request(req)["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}},
        {"inlineData": {"mimeType": "text/plain", "data": "cGxhaW4="}},
    ]


def test_provider_file_ids_are_refused() -> None:
    req = foreign(messages=[Message("user", [DocumentPart(file_id="file-123")])])
    with pytest.raises(TranslationError) as info:
        build_request(req)
    assert info.value.param == "messages[0].content[0].file_id"


def test_invalid_tool_arguments_are_refused() -> None:
    req = foreign(messages=[Message("assistant", [ToolCallPart("c", "f", '{"a": ')])])
    with pytest.raises(TranslationError):
        build_request(req)


def test_image_in_tool_result_goes_to_function_response_parts() -> None:
    req = foreign(
        messages=[
            Message("assistant", [ToolCallPart("c", "shot", "{}")]),
            Message(
                "tool", [ToolResultPart("c", [TextPart("see"), ImagePart(data="iVBORw0KGgo=", media_type="image/png")])]
            ),
        ]
    )
    fr = build_request(req)["contents"][1]["parts"][0]["functionResponse"]
    assert fr == {
        "name": "shot",
        "id": "c",
        "response": {"result": "see"},
        "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}],
    }


def test_build_does_not_mutate_the_request() -> None:
    req = parse_request(load("request_parallel_function_responses_gemini3.json"))
    before = copy.deepcopy(req)
    build_request(req)
    req.protocol = "openai_chat"
    build_request(req)
    req.protocol = "gemini"
    assert req == before


def test_empty_text_parts_are_not_sent_to_gemini() -> None:
    req = foreign(
        system=[TextPart("")],
        messages=[
            Message("user", [TextPart("hi")]),
            Message("assistant", [TextPart(""), ToolCallPart("c", "f", "{}")]),
            Message("tool", [ToolResultPart("c", [])]),
        ],
    )
    out = build_request(req)
    assert "systemInstruction" not in out
    assert out["contents"][1] == {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}, "id": "c"}}]}
    assert out["contents"][2]["parts"][0]["functionResponse"]["response"] == {"result": ""}


@pytest.mark.parametrize(
    "body",
    [
        {"contents": [], "toolConfig": {}},
        {"contents": [], "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}},
        {
            "contents": [],
            "toolConfig": {"retrievalConfig": {"languageCode": "en"}, "functionCallingConfig": {"mode": "AUTO"}},
        },
        {"contents": [{"role": "user", "parts": [{"inlineData": {"data": "AAAA"}}]}]},
        {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f"}}]}]},
        {"contents": [{"parts": [{"text": "no role"}]}]},
    ],
)
def test_odd_but_valid_bodies_round_trip(body: dict) -> None:
    assert build_request(parse_request(body)) == body
