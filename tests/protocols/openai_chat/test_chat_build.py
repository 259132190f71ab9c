"""build_request for a Chat upstream from requests of other protocols (and the named edge cases)."""

from __future__ import annotations

import copy

import orjson
import pytest
from chat_helpers import FIXTURES, load

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
from switchyard.protocols import anthropic
from switchyard.protocols.openai_chat import build_request, parse_request

ANTHROPIC = FIXTURES.parent.parent / "anthropic" / "fixtures"


def foreign(**kw) -> Request:
    return Request(model="gpt-test", protocol="anthropic", **kw)


def call(call_id: str = "call_1", name: str = "f", args: str = '{"a":1}') -> ToolCallPart:
    return ToolCallPart(call_id, name, args)


def turn(*results: ToolResultPart, calls: list[ToolCallPart] | None = None) -> list[Message]:
    return [
        Message("user", [TextPart("go")]),
        Message("assistant", list(calls if calls is not None else [call()])),
        Message("tool", list(results)),
    ]


def test_system_becomes_a_leading_system_message() -> None:
    req = foreign(system=[TextPart("a"), TextPart("b")], messages=[Message("user", [TextPart("hi")])])
    body = build_request(req)
    assert body["messages"] == [{"role": "system", "content": "a\n\nb"}, {"role": "user", "content": "hi"}]
    assert "max_tokens" not in body and "stream" not in body


def test_mid_conversation_system_message() -> None:
    req = foreign(
        system=[TextPart("top")],
        messages=[
            Message("user", [TextPart("q")]),
            Message("system", [TextPart("later instructions")]),
            Message("developer", [TextPart("dev")]),
            Message("assistant", [TextPart("a")]),
        ],
    )
    roles = [(m["role"], m["content"]) for m in build_request(req)["messages"]]
    assert roles == [
        ("system", "top"),
        ("user", "q"),
        ("system", "later instructions"),
        ("system", "dev"),
        ("assistant", "a"),
    ]


def test_mid_conversation_system_message_from_claude_code() -> None:
    body = orjson.loads((ANTHROPIC / "claude_code/tool_call/03_v1_messages.body.json").read_bytes())
    out = build_request(anthropic.parse_request(body))
    roles = [m["role"] for m in out["messages"]]
    assert roles[0] == "system" and roles.count("system") == 2
    assert roles.index("system", 1) > roles.index("user")
    assert out["messages"][-1]["role"] == "tool"


def test_tool_results_one_message_each_in_order() -> None:
    req = foreign(
        messages=turn(
            ToolResultPart("call_1", [TextPart("one")]),
            ToolResultPart("call_2", [TextPart("two")]),
            calls=[call("call_1"), call("call_2")],
        )
    )
    msgs = build_request(req)["messages"]
    assert msgs[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
            {"id": "call_2", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
        ],
    }
    assert msgs[2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "one"},
        {"role": "tool", "tool_call_id": "call_2", "content": "two"},
    ]


def test_anthropic_parallel_tool_results() -> None:
    body = orjson.loads((ANTHROPIC / "request_parallel_tool_results.json").read_bytes())
    msgs = build_request(anthropic.parse_request(body))["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in msgs[2:]] == [c["id"] for c in msgs[1]["tool_calls"]]


def test_orphan_tool_result() -> None:
    req = foreign(
        messages=[Message("user", [TextPart("q")]), Message("tool", [ToolResultPart("call_x", [TextPart("r")])])]
    )
    msgs = build_request(req)["messages"]
    assert msgs[1] == {"role": "user", "content": "[result of tool call call_x]\nr"}


def test_empty_tool_result() -> None:
    msgs = build_request(foreign(messages=turn(ToolResultPart("call_1", []))))["messages"]
    assert msgs[-1] == {"role": "tool", "tool_call_id": "call_1", "content": ""}


def test_error_tool_result_is_marked() -> None:
    msgs = build_request(foreign(messages=turn(ToolResultPart("call_1", [TextPart("boom")], is_error=True))))[
        "messages"
    ]
    assert msgs[-1]["content"] == "Error: boom"


def test_tool_result_image_follows_in_a_user_message() -> None:
    result = ToolResultPart("call_1", [TextPart("see"), ImagePart(data="AAAA", media_type="image/png")])
    msgs = build_request(foreign(messages=[*turn(result), Message("user", [TextPart("next")])]))["messages"]
    assert msgs[2] == {"role": "tool", "tool_call_id": "call_1", "content": "see"}
    assert msgs[3] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
    }
    assert msgs[4] == {"role": "user", "content": "next"}


def test_tool_result_document_cannot_be_carried() -> None:
    result = ToolResultPart("call_1", [DocumentPart(data="JVBE", media_type="application/pdf")])
    with pytest.raises(TranslationError):
        build_request(foreign(messages=turn(result)))


def test_tool_with_no_parameters() -> None:
    body = build_request(foreign(messages=[Message("user", [TextPart("q")])], tools=[Tool("ping")]))
    assert body["tools"] == [
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
    ]


def test_freeform_tool_becomes_a_function_with_input() -> None:
    body = build_request(foreign(messages=[Message("user", [TextPart("q")])], tools=[Tool("patch", freeform=True)]))
    params = body["tools"][0]["function"]["parameters"]
    assert params["required"] == ["input"] and params["properties"]["input"]["type"] == "string"


def test_tool_choice_forms() -> None:
    for choice, wire in [
        (ToolChoice("auto"), "auto"),
        (ToolChoice("none"), "none"),
        (ToolChoice("required"), "required"),
        (ToolChoice("tool", "f"), {"type": "function", "function": {"name": "f"}}),
    ]:
        body = build_request(
            foreign(messages=[Message("user", [TextPart("q")])], tools=[Tool("f")], tool_choice=choice)
        )
        assert body["tool_choice"] == wire


def test_gemini_tool_config_is_not_sent_as_tool_choice() -> None:
    # Gemini keeps its functionCallingConfig as the ToolChoice's "_raw"; a Chat body needs "auto"
    choice = ToolChoice("auto", extensions={"_raw": {"mode": "AUTO"}})
    req = Request("gpt-test", protocol="gemini", messages=[Message("user", [TextPart("q")])], tools=[Tool("f")])
    req.tool_choice = choice
    body = build_request(req)
    assert body["tool_choice"] == "auto"
    assert parse_request(body).tool_choice.mode == "auto"


def test_foreign_signature_dropped() -> None:
    req = foreign(
        messages=[
            Message("user", [TextPart("q")]),
            Message(
                "assistant",
                [ReasoningPart("thinking", signature="sig", signature_source="anthropic"), TextPart("a")],
            ),
            Message("user", [TextPart("more")]),
        ]
    )
    msgs = build_request(req)["messages"]
    assert msgs[1] == {"role": "assistant", "content": "a"}
    assert "sig" not in orjson.dumps(msgs).decode()


def test_redacted_thinking() -> None:
    req = foreign(
        messages=[
            Message("user", [TextPart("q")]),
            Message("assistant", [ReasoningPart(redacted="opaque", signature_source="anthropic"), call()]),
            Message("tool", [ToolResultPart("call_1", [TextPart("r")])]),
        ]
    )
    msgs = build_request(req)["messages"]
    assert "opaque" not in orjson.dumps(msgs).decode()
    assert msgs[1]["tool_calls"][0]["id"] == "call_1"


def test_anthropic_thinking_history_dropped() -> None:
    body = orjson.loads((ANTHROPIC / "request_thinking_tool_loop.json").read_bytes())
    msgs = build_request(anthropic.parse_request(body))["messages"]
    assert all("reasoning_content" not in m for m in msgs)
    assert "signature" not in orjson.dumps(msgs).decode()


@pytest.mark.parametrize(
    ("budget", "effort"), [(1024, "low"), (2048, "low"), (2049, "medium"), (16384, "medium"), (32000, "high")]
)
def test_thinking_budget_from_effort(budget: int, effort: str) -> None:
    req = foreign(messages=[Message("user", [TextPart("q")])], reasoning=Reasoning(budget_tokens=budget))
    assert build_request(req)["reasoning_effort"] == effort


def test_effort_passes_and_disabled_thinking_sends_nothing() -> None:
    base = {"messages": [Message("user", [TextPart("q")])]}
    assert build_request(foreign(**base, reasoning=Reasoning(effort="high")))["reasoning_effort"] == "high"
    assert "reasoning_effort" not in build_request(foreign(**base, reasoning=Reasoning(enabled=False)))


def test_max_tokens_become_max_completion_tokens_and_top_k_dropped() -> None:
    req = foreign(messages=[Message("user", [TextPart("q")])], max_tokens=99, top_k=5, stop=["x"])
    body = build_request(req)
    assert body["max_completion_tokens"] == 99 and "top_k" not in body and body["stop"] == ["x"]


def test_stream_options_always_requested_upstream() -> None:
    req = foreign(messages=[Message("user", [TextPart("q")])], stream=True)
    assert build_request(req)["stream_options"] == {"include_usage": True}
    # a native Chat client that did not ask for usage: the upstream is still asked
    native = parse_request({"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True})
    assert not native.include_usage
    assert build_request(native)["stream_options"] == {"include_usage": True}
    # and other stream options of the client are kept
    native = parse_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "q"}],
            "stream": True,
            "stream_options": {"include_obfuscation": False},
        }
    )
    assert build_request(native)["stream_options"] == {"include_obfuscation": False, "include_usage": True}


def test_foreign_extensions_and_native_only() -> None:
    req = foreign(messages=[Message("user", [TextPart("q")])])
    req.extensions["metadata_extra"] = 1
    assert "metadata_extra" not in build_request(req)
    req.native_only.append("thinking.display")
    with pytest.raises(TranslationError):
        build_request(req)


def test_documents_from_other_protocols() -> None:
    req = foreign(
        messages=[
            Message(
                "user",
                [
                    DocumentPart(data="JVBE", media_type="application/pdf"),
                    DocumentPart(text="plain", title="T"),
                    ImagePart(url="https://x/i.png"),
                ],
            )
        ]
    )
    content = build_request(req)["messages"][0]["content"]
    assert content[0] == {
        "type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "document.pdf"},
    }
    assert content[1] == {"type": "text", "text": "T\n\nplain"}
    assert content[2] == {"type": "image_url", "image_url": {"url": "https://x/i.png"}}
    with pytest.raises(TranslationError):
        build_request(foreign(messages=[Message("user", [DocumentPart(url="https://x/a.pdf")])]))


def test_system_cannot_hold_images() -> None:
    with pytest.raises(TranslationError):
        build_request(foreign(system=[ImagePart(url="https://x")], messages=[Message("user", [TextPart("q")])]))


def test_builds_from_every_anthropic_fixture_dont_crash_or_mutate() -> None:
    built = 0
    for path in sorted(ANTHROPIC.glob("request_*.json")):
        if path.name == "request_count_tokens.json":
            continue
        req = anthropic.parse_request(orjson.loads(path.read_bytes()))
        snapshot = copy.deepcopy(req)
        try:
            out = build_request(req)
        except TranslationError:
            continue
        assert req == snapshot
        assert out["model"] and out["messages"]
        built += 1
    assert built >= 10


def test_custom_call_from_a_chat_client_round_trips_parallel_flag() -> None:
    body = load("request_parallel_tools.json")
    body["parallel_tool_calls"] = False
    assert build_request(parse_request(body)) == body


def test_reasoning_only_assistant_message_is_not_sent() -> None:
    # a Responses reasoning item (encrypted, foreign) stands alone in an assistant message
    req = Request(
        model="m",
        protocol="openai_responses",
        messages=[
            Message("user", [TextPart("q")]),
            Message("assistant", [ReasoningPart("", signature="ENC", signature_source="openai_responses")]),
            Message("assistant", [TextPart("a")]),
            Message("user", [TextPart("again")]),
        ],
    )
    assert build_request(req)["messages"] == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "again"},
    ]


def test_tool_choice_without_tools_is_not_sent() -> None:
    # e.g. a Responses client whose only tool was a hosted one, left out for Chat
    req = foreign(messages=[Message("user", [TextPart("q")])], tool_choice=ToolChoice("required"))
    req.parallel_tool_calls = False
    body = build_request(req)
    assert "tool_choice" not in body and "parallel_tool_calls" not in body
    # a Chat client's own body is sent as written
    native = {"model": "m", "messages": [{"role": "user", "content": "q"}], "tool_choice": "none"}
    assert build_request(parse_request(native)) == native


def test_system_message_text_parts_become_one_string() -> None:
    """llama-cpp-python's server (among others) refuses an array as a system message's content."""
    req = foreign(messages=[Message("developer", [TextPart("a"), TextPart("b")]), Message("user", [TextPart("q")])])
    assert build_request(req)["messages"][0] == {"role": "system", "content": "a\n\nb"}


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_field_is_the_upstreams(field: str) -> None:
    req = foreign(messages=[Message("user", [TextPart("q")])], max_tokens=7)
    body = build_request(req, max_tokens_field=field)
    assert body[field] == 7 and len({"max_tokens", "max_completion_tokens"} & set(body)) == 1
    native = parse_request({"model": "m", "messages": [{"role": "user", "content": "q"}], "max_completion_tokens": 7})
    assert build_request(native, max_tokens_field=field)[field] == 7  # the upstream's declaration wins
    assert build_request(native)["max_completion_tokens"] == 7  # without one, the client's own field
    assert build_request(req)["max_completion_tokens"] == 7
