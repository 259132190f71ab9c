"""The built-in mock provider, through the real gateway, for every client protocol (official
SDKs, streaming and not), plus its pure behaviour (triggers, arguments from schemas, usage)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from gateway_harness import CLIENT_KEY, PROTOCOLS, call
from sdk_clients import CLOCK, WEATHER, ToolTurn, client

from switchyard import mock
from switchyard.core.events import MessageDelta, MessageStart, PartStart, TextDelta, ToolArgsDelta
from switchyard.core.model import (
    Message,
    Reasoning,
    ReasoningPart,
    Request,
    StopReason,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)

CLI_FIXTURES = Path(__file__).parents[1] / "protocols" / "gemini" / "fixtures" / "gemini_cli"

cells = pytest.mark.parametrize(
    ("client_protocol", "stream"),
    [(c, s) for c in PROTOCOLS for s in (False, True)],
    ids=[f"{c}-{'stream' if s else 'json'}" for c in PROTOCOLS for s in (False, True)],
)
TURN = ToolTurn("What is the weather in Paris?", "call_weather_0001", "get_weather", {"city": "Paris"}, "sunny, 21 C")


@cells
def test_mock_greets_and_echoes(gateway, upstreams, client_protocol, stream):
    result = client(client_protocol, gateway.url).ask(
        "mock/mock-1", "hello over there", system="Be nice.", stream=stream
    )
    assert result.text == "Hello from Switchyard mock. You said: hello over there"
    assert result.calls == [] and result.reasoning == ""
    # words: input "Be nice." + "hello over there" = 5; output 9 words
    assert result.usage == (5, 9)


@cells
def test_mock_calls_the_first_tool(gateway, upstreams, client_protocol, stream):
    result = client(client_protocol, gateway.url).ask(
        "mock-1", "please use a tool", tools=[WEATHER, CLOCK], stream=stream
    )
    assert result.calls == [("get_weather", {"city": "mock"})]
    assert result.text == ""


@cells
def test_mock_parallel_tools(gateway, upstreams, client_protocol, stream):
    result = client(client_protocol, gateway.url).ask(
        "mock-1", "use parallel tools now", tools=[WEATHER, CLOCK], stream=stream
    )
    assert result.calls == [("get_weather", {"city": "mock"}), ("get_time", {"zone": "mock"})]
    assert len(set(result.call_ids)) == 2


@cells
def test_mock_answers_a_tool_result(gateway, upstreams, client_protocol, stream):
    result = client(client_protocol, gateway.url).ask("mock-1", None, history=TURN, tools=[WEATHER], stream=stream)
    assert result.text.startswith("Tool result received: ") and "sunny, 21 C" in result.text
    assert result.calls == []


@cells
def test_mock_thinks_when_asked(gateway, upstreams, client_protocol, stream):
    result = client(client_protocol, gateway.url).ask("mock-1", "think about it", thinking=True, stream=stream)
    assert result.text == "Hello from Switchyard mock. You said: think about it"
    if client_protocol != "openai_chat":
        assert result.reasoning == "Thinking about: think about it"


def test_mock_answers_the_gemini_cli_router_classifier_in_json(gateway, upstreams):
    # The Gemini CLI's router asks for JSON (responseJsonSchema with upper-case types) and retries
    # for about 90 seconds when the answer does not parse; the mock answers an instance of the schema.
    body = orjson.loads((CLI_FIXTURES / "hello" / "01_generateContent_gemini-3.5-flash-lite.body.json").read_bytes())
    res = call(f"{gateway.url}/v1beta/models/mock-1:generateContent", body=body, headers={"x-goog-api-key": CLIENT_KEY})
    assert res.status == 200, res.body
    parts = res.json["candidates"][0]["content"]["parts"]
    answer = orjson.loads("".join(p["text"] for p in parts if not p.get("thought")))
    assert answer == {"complexity_reasoning": "mock", "complexity_score": 1}


# ---------------------------------------------------------------------------- pure behaviour


def user(text: str) -> Message:
    return Message("user", [TextPart(text)])


def test_mock_tool_result_last_message():
    req = Request(
        "mock-1",
        messages=[
            user("weather?"),
            Message("assistant", [ToolCallPart("c1", "get_weather", '{"city":"Paris"}')]),
            Message("tool", [ToolResultPart("c1", [TextPart("x" * 100)])]),
        ],
    )
    resp = mock.respond(req)
    assert resp.content == [TextPart("Tool result received: " + "x" * 80)]
    assert resp.stop_reason == StopReason.END_TURN


def test_mock_arguments_follow_the_schema():
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "e": {"type": "string", "enum": ["b", "a"]},
            "i": {"type": "integer"},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "a": {"type": "array", "items": {"type": "string"}},
            "o": {"type": "object", "properties": {"x": {"type": "INTEGER"}}, "required": ["x"]},
            "opt": {"type": "string"},
            "u": {"type": ["null", "integer"]},
        },
        "required": ["s", "e", "i", "n", "b", "a", "o", "u"],
    }
    args = mock.example_arguments(Tool("t", parameters=schema))
    assert args == {"s": "mock", "e": "b", "i": 1, "n": 1.5, "b": True, "a": [], "o": {"x": 1}, "u": 1}


def test_mock_freeform_tool_gets_input():
    req = Request("m", messages=[user("call the tool")], tools=[Tool("exec", freeform=True)])
    (call,) = mock.respond(req).content
    assert isinstance(call, ToolCallPart) and orjson.loads(call.arguments) == {"input": "mock"}


def test_mock_parallel_with_one_tool_calls_it_twice():
    req = Request("m", messages=[user("parallel tools please")], tools=[Tool("only")])
    calls = mock.respond(req).content
    assert [c.name for c in calls] == ["only", "only"] and calls[0].id != calls[1].id


def test_mock_without_tools_ignores_the_tool_trigger():
    resp = mock.respond(Request("m", messages=[user("use a tool")]))
    assert resp.content == [TextPart("Hello from Switchyard mock. You said: use a tool")]


def test_mock_reasoning_from_settings_and_from_text():
    by_setting = mock.respond(Request("m", messages=[user("hi")], reasoning=Reasoning(effort="low")))
    assert isinstance(by_setting.content[0], ReasoningPart)
    off = mock.respond(Request("m", messages=[user("hi")], reasoning=Reasoning(enabled=False)))
    assert not isinstance(off.content[0], ReasoningPart)
    by_text = mock.respond(Request("m", messages=[user("Think hard")]))
    assert by_text.content[0] == ReasoningPart(text="Thinking about: Think hard")
    assert by_text.usage.reasoning_tokens == 4


def test_mock_max_tokens_cuts_the_answer():
    resp = mock.respond(Request("m", messages=[user("one two three")], max_tokens=3))
    assert resp.content == [TextPart("Hello from Switchyard")] and resp.stop_reason == StopReason.MAX_TOKENS


def test_mock_answers_json_when_asked():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}, "required": ["n"]}
    fmt = {"type": "json_schema", "name": "out", "schema": schema}
    resp = mock.respond(Request("m", messages=[user("hi")], response_format=fmt))
    assert resp.content == [TextPart('{"n":1}')]
    resp = mock.respond(Request("m", messages=[user("hi")], response_format={"type": "json_object"}))
    assert orjson.loads(resp.content[0].text) == {"answer": "Hello from Switchyard mock. You said: hi"}
    # tool calls still come first; a plain text format changes nothing
    tools = [Tool("f", parameters={"required": ["q"]})]
    assert isinstance(
        mock.respond(Request("m", [user("a tool")], tools=tools, response_format=fmt)).content[0], ToolCallPart
    )
    text = mock.respond(Request("m", messages=[user("hi")], response_format={"type": "text"})).content
    assert text == [TextPart("Hello from Switchyard mock. You said: hi")]


def test_mock_is_deterministic_and_streams_the_same_answer():
    req = Request("mock-1", messages=[user("say something long enough to need several deltas")])
    assert mock.respond(req) == mock.respond(req)
    events = mock.events(req)
    assert isinstance(events[0], MessageStart) and events[0].id == mock.respond(req).id
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3
    assert "".join(deltas) == mock.respond(req).content[0].text
    assert isinstance(events[-2], MessageDelta) and events[-2].usage == mock.respond(req).usage


def test_mock_streams_tool_arguments_in_fragments():
    req = Request("m", messages=[user("tool time")], tools=[Tool("f", parameters={"required": ["q"]})])
    events = mock.events(req)
    start = next(e for e in events if isinstance(e, PartStart))
    assert isinstance(start.part, ToolCallPart) and start.part.arguments == ""
    fragments = [e.json for e in events if isinstance(e, ToolArgsDelta)]
    assert len(fragments) == 2 and orjson.loads("".join(fragments)) == {"q": "mock"}
