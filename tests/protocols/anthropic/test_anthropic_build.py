"""build_request for requests of other protocols: message grouping, system placement, tools,
thinking and max_tokens, what cannot be carried."""

from __future__ import annotations

import base64
import copy

import pytest

from switchyard.core.errors import TranslationError
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
from switchyard.protocols import codec
from switchyard.protocols.anthropic import DEFAULT_MAX_TOKENS, EFFORT_BUDGET, MIN_BUDGET, build_request

chat = codec("openai_chat")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def core(messages: list[Message], **fields) -> Request:
    return Request(model="claude-x", messages=messages, protocol="openai_chat", **fields)


def call(call_id: str, args: str = '{"city":"Paris"}') -> ToolCallPart:
    return ToolCallPart(call_id, "get_weather", args)


def result(call_id: str, text: str = "sunny", **kw) -> Message:
    return Message("tool", [ToolResultPart(call_id, [TextPart(text)] if text else [], **kw)])


def user(text: str) -> Message:
    return Message("user", [TextPart(text)])


def test_plain_chat_request() -> None:
    req = chat.parse_request(
        {
            "model": "claude-x",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "temperature": 0.3,
            "stop": "END",
            "user": "u-7",
            "seed": 4,
        }
    )
    assert build_request(req) == {
        "model": "claude-x",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": DEFAULT_MAX_TOKENS,
        "temperature": 0.3,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-7"},
    }


def test_tool_results_merged_into_one_user_message() -> None:
    """Chat sends one tool message per call and may add user text: Anthropic wants ONE user
    message right after the assistant turn, tool_result blocks first."""
    req = chat.parse_request(
        {
            "model": "claude-x",
            "tools": [WEATHER],
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                        },
                    ],
                },
                {"role": "user", "content": "Also: be quick."},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
            ],
        }
    )
    body = build_request(req)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "rain"},
            {"type": "text", "text": "Also: be quick."},
        ],
    }
    assert len(body["messages"]) == 3
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the weather",
            "input_schema": WEATHER["function"]["parameters"],
        }
    ]


def test_orphan_tool_result() -> None:
    """A result whose call is not in the previous assistant turn would be a 400: it becomes text."""
    req = core([user("hi"), Message("assistant", [TextPart("hello")]), result("call_gone", "42", is_error=True)])
    body = build_request(req)
    assert body["messages"][2] == {"role": "user", "content": "[result of tool call call_gone (error)]\n42"}
    # a second result for an answered call is an orphan too
    req = core([user("q"), Message("assistant", [call("c1")]), result("c1", "a"), result("c1", "b")])
    content = build_request(req)["messages"][2]["content"]
    assert content == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "a"},
        {"type": "text", "text": "[result of tool call c1]\nb"},
    ]


def test_empty_tool_result() -> None:
    req = core([user("q"), Message("assistant", [call("c1"), call("c2")]), result("c1", ""), result("c2", "")])
    req.messages[3].content[0].content = [TextPart("")]
    content = build_request(req)["messages"][2]["content"]
    assert content == [{"type": "tool_result", "tool_use_id": "c1"}, {"type": "tool_result", "tool_use_id": "c2"}]


def test_tool_result_with_image() -> None:
    image = ImagePart(data="iVBOR", media_type="image/png")
    req = core(
        [
            user("q"),
            Message("assistant", [call("c1")]),
            Message("tool", [ToolResultPart("c1", [TextPart("see"), image])]),
        ]
    )
    assert build_request(req)["messages"][2]["content"][0]["content"] == [
        {"type": "text", "text": "see"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
    ]


def test_tool_with_no_parameters() -> None:
    req = core([user("q")], tools=[Tool("ping"), Tool("pong", "d", {}), Tool("typed", parameters={"properties": {}})])
    assert build_request(req)["tools"] == [
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
        {"name": "pong", "description": "d", "input_schema": {"type": "object", "properties": {}}},
        {"name": "typed", "input_schema": {"type": "object", "properties": {}}},
    ]


def test_freeform_tool_and_strict() -> None:
    req = core(
        [user("q")],
        tools=[
            Tool("apply_patch", "patch", freeform=True),
            Tool("s", parameters={"type": "object"}, strict=True),
            Tool("n", parameters={"type": "object"}, strict=False),
        ],
    )
    tools = build_request(req)["tools"]
    assert tools[0]["input_schema"]["required"] == ["input"]
    assert tools[1]["strict"] is True and "strict" not in tools[2]


def test_consecutive_same_role_merged_and_empty_text_dropped() -> None:
    req = core(
        [user("a"), user("b"), Message("assistant", [TextPart("")]), Message("assistant", [TextPart("c")]), user("")]
    )
    assert build_request(req)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"},
    ]


def test_merged_assistant_turn_starts_with_its_thinking() -> None:
    """Text and a tool call sent back as separate assistant messages (the signed thinking at the
    start of the one holding the call, as the field cache puts it): the merged turn starts with
    the thinking, a thinking block sent twice appears once, and thinking stays on."""
    thinking = ReasoningPart("plan", signature="sig-1", signature_source="anthropic")
    req = core(
        [
            user("weather?"),
            Message("assistant", [thinking]),
            Message("assistant", [TextPart("Let me look.")]),
            Message("assistant", [thinking, ToolCallPart("toolu_1", "get_weather", '{"city":"Oslo"}')]),
            Message("tool", [ToolResultPart("toolu_1", [TextPart("sunny")])]),
        ],
        reasoning=Reasoning(effort="low"),
    )
    body = build_request(req)
    assert [b["type"] for b in body["messages"][1]["content"]] == ["thinking", "text", "tool_use"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": EFFORT_BUDGET["low"]}


def test_system_hoisting_and_mid_conversation_system() -> None:
    req = core(
        [
            Message("developer", [TextPart("dev rules")]),
            Message("system", [TextPart("sys rules")]),
            user("hi"),
            Message("assistant", [TextPart("hello")]),
            Message("developer", [TextPart("now be formal")]),
            user("bye"),
            Message("system", [TextPart("!")]),
            user("x"),
        ],
        system=[TextPart("top")],
    )
    body = build_request(req)
    assert body["system"] == "top\n\ndev rules\n\nsys rules"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "system", "user", "system", "user"]
    assert body["messages"][2] == {"role": "system", "content": "now be formal"}
    with pytest.raises(TranslationError) as exc:
        build_request(core([user("q")], system=[ImagePart(url="https://x/i.png")]))
    assert exc.value.param == "system[0]"


def test_native_leading_system_message_stays_in_place() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
    }
    assert build_request(codec("anthropic").parse_request(body)) == body


def test_reasoning_of_other_providers_is_dropped() -> None:
    thinking = ReasoningPart("mine", "SIG", "anthropic")
    req = core(
        [
            user("q"),
            Message(
                "assistant",
                [
                    thinking,
                    ReasoningPart("theirs", "GEMINI", "gemini"),
                    ReasoningPart("visible only"),
                    ReasoningPart(redacted="REDACTED", signature_source="anthropic"),
                    TextPart("answer"),
                ],
            ),
            user("more"),
        ]
    )
    assert build_request(req)["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "mine", "signature": "SIG"},
        {"type": "redacted_thinking", "data": "REDACTED"},
        {"type": "text", "text": "answer"},
    ]


def test_tool_ids_made_safe_for_anthropic() -> None:
    req = core([user("q"), Message("assistant", [call("functions.get_weather:0")]), result("functions.get_weather:0")])
    messages = build_request(req)["messages"]
    assert messages[1]["content"][0]["id"] == messages[2]["content"][0]["tool_use_id"] == "functions_get_weather_0"


def test_invalid_arguments_stay_visible() -> None:
    req = core([user("q"), Message("assistant", [call("c1", '{"city": "Par')]), result("c1")])
    assert build_request(req)["messages"][1]["content"][0]["input"] == {"raw_arguments": '{"city": "Par'}


def test_parallel_tool_calls_and_tool_choice() -> None:
    tools = [Tool("a", parameters={"type": "object"})]
    cases = [
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, True, None),
        (ToolChoice("required"), None, {"type": "any"}),
        (ToolChoice("tool", "a"), False, {"type": "tool", "name": "a", "disable_parallel_tool_use": True}),
        (ToolChoice("none"), False, {"type": "none"}),
        (ToolChoice("auto"), None, {"type": "auto"}),
    ]
    for choice, parallel, expected in cases:
        body = build_request(core([user("q")], tools=tools, tool_choice=choice, parallel_tool_calls=parallel))
        assert body.get("tool_choice") == expected
    assert "tool_choice" not in build_request(core([user("q")], tool_choice=ToolChoice("auto")))


@pytest.mark.parametrize("effort", sorted(EFFORT_BUDGET))
def test_effort_becomes_a_budget_that_fits(effort: str) -> None:
    body = build_request(core([user("q")], reasoning=Reasoning(effort=effort)))
    budget = EFFORT_BUDGET[effort]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + DEFAULT_MAX_TOKENS


def test_effort_round_trips_through_the_openai_codecs() -> None:
    for effort in ("low", "medium", "high"):
        req = chat.parse_request(
            {"model": "m", "messages": [{"role": "user", "content": "q"}], "reasoning_effort": effort}
        )
        budget = build_request(req)["thinking"]["budget_tokens"]
        back = codec("anthropic").parse_request(
            {
                "model": "m",
                "max_tokens": 99999,
                "messages": [],
                "thinking": {"type": "enabled", "budget_tokens": budget},
            }
        )
        assert chat.build_request(back)["reasoning_effort"] == effort


def test_budget_fits_a_client_max_tokens() -> None:
    def thinking(max_tokens, **reasoning):
        body = build_request(core([user("q")], max_tokens=max_tokens, reasoning=Reasoning(**reasoning)))
        return body["max_tokens"], body.get("thinking")

    assert thinking(60000, effort="high") == (60000, {"type": "enabled", "budget_tokens": 24576})
    assert thinking(30000, effort="high") == (30000, {"type": "enabled", "budget_tokens": 15000})
    assert thinking(2148, effort="low") == (2148, {"type": "enabled", "budget_tokens": 1074})
    assert thinking(2100, budget_tokens=5000) == (2100, {"type": "enabled", "budget_tokens": 1050})
    assert thinking(2047, effort="low") == (2047, None)
    assert thinking(None, budget_tokens=100) == (
        MIN_BUDGET + DEFAULT_MAX_TOKENS,
        {"type": "enabled", "budget_tokens": MIN_BUDGET},
    )
    assert thinking(None, adaptive=True)[1] == {"type": "enabled", "budget_tokens": 8192}
    assert thinking(None, enabled=False) == (DEFAULT_MAX_TOKENS, None)
    assert thinking(None, effort="none", enabled=False) == (DEFAULT_MAX_TOKENS, None)


def test_sampling_settings_with_thinking() -> None:
    req = core([user("q")], reasoning=Reasoning(effort="low"), temperature=0.2, top_p=0.97, top_k=4)
    body = build_request(req)
    assert "temperature" not in body and "top_k" not in body and body["top_p"] == 0.97
    req.reasoning = None
    body = build_request(req)
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.97, 4)


def test_forced_tool_choice_turns_thinking_off() -> None:
    tools = [Tool("a", parameters={"type": "object"})]
    req = core([user("q")], tools=tools, tool_choice=ToolChoice("required"), reasoning=Reasoning(effort="high"))
    body = build_request(req)
    assert "thinking" not in body and body["tool_choice"] == {"type": "any"}


def test_unsigned_tool_loop_turns_thinking_off() -> None:
    history = [user("q"), Message("assistant", [TextPart("let me look"), call("c1")]), result("c1")]
    body = build_request(core(history, reasoning=Reasoning(effort="low")))
    assert "thinking" not in body
    signed = [user("q"), Message("assistant", [ReasoningPart("t", "SIG", "anthropic"), call("c1")]), result("c1")]
    assert build_request(core(signed, reasoning=Reasoning(effort="low")))["thinking"]["type"] == "enabled"
    finished = [*history, Message("assistant", [TextPart("done")]), user("next")]
    assert build_request(core(finished, reasoning=Reasoning(effort="low")))["thinking"]["type"] == "enabled"


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = build_request(core([user("q")], response_format={"type": "json_schema", "name": "x", "schema": schema}))
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "output_config" not in build_request(core([user("q")], response_format={"type": "text"}))
    with pytest.raises(TranslationError) as exc:
        build_request(core([user("q")], response_format={"type": "json_object"}))
    assert exc.value.param == "response_format"


def test_media_from_other_protocols() -> None:
    text_file = base64.b64encode("héllo".encode()).decode()
    parts = [
        ImagePart(url="https://x/i.png", detail="high"),
        ImagePart(data="iVBOR", media_type="image/jpeg"),
        DocumentPart(data="JVBER", media_type="application/pdf", filename="a.pdf"),
        DocumentPart(data=text_file, media_type="text/plain", filename="n.txt"),
        DocumentPart(url="https://x/d.pdf"),
        DocumentPart(data="iVBOR", media_type="image/png"),
    ]
    assert build_request(core([Message("user", parts)]))["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "url", "url": "https://x/i.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "iVBOR"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
            "title": "a.pdf",
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "héllo"}, "title": "n.txt"},
        {"type": "document", "source": {"type": "url", "url": "https://x/d.pdf"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
    ]


@pytest.mark.parametrize(
    ("part", "detail"),
    [
        (DocumentPart(file_id="file-abc"), "file id"),
        (DocumentPart(data="AAAA", media_type="audio/wav"), "audio/wav"),
        (DocumentPart(data="AAAA", media_type="application/msword"), "application/msword"),
        (DocumentPart(data="////", media_type="text/plain"), "UTF-8"),
    ],
)
def test_what_anthropic_cannot_carry(part, detail) -> None:
    with pytest.raises(TranslationError) as exc:
        build_request(core([Message("user", [TextPart("see"), part])]))
    assert exc.value.param == "messages[0].content[1]" and detail in exc.value.message


def test_assistant_cannot_hold_images() -> None:
    with pytest.raises(TranslationError) as exc:
        build_request(core([user("q"), Message("assistant", [ImagePart(url="https://x")])]))
    assert exc.value.param == "messages[1].content[0]"


def test_native_only_of_another_protocol() -> None:
    req = chat.parse_request({"model": "m", "messages": [{"role": "user", "content": "q"}], "n": 2})
    with pytest.raises(TranslationError) as exc:
        build_request(req)
    assert exc.value.param == "n"


def test_foreign_extensions_are_ignored_and_input_untouched() -> None:
    req = core([Message("user", [TextPart("q", {"cache_control": "nope", "_raw_part": {"x": 1}})])])
    req.extensions = {"seed": 1, "service_tier": "flex", "_system_string": True}
    snapshot = copy.deepcopy(req)
    body = build_request(req)
    assert body == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "q"}],
        "max_tokens": DEFAULT_MAX_TOKENS,
    }
    assert req == snapshot
