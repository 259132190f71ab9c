"""The official google-genai SDK reads what our Gemini encoder and format_response produce.

The bytes are served by a real HTTP server on 127.0.0.1 (the ``replay`` fixture); the SDK parses
them with its own stream and response code.
"""

from __future__ import annotations

import base64

import orjson
import pytest
from gemini_helpers import decode, encode, load, raw
from google import genai
from google.genai import errors as genai_errors

from replay_server import Reply
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
    TextDelta,
    ToolArgsDelta,
)
from switchyard.core.model import (
    ReasoningPart,
    Request,
    Response,
    StopReason,
    TextPart,
    ToolCallPart,
    Usage,
)
from switchyard.protocols.gemini import build_request, format_error, format_response, parse_request, parse_response

SSE = "text/event-stream"


def sdk(replay) -> genai.Client:
    return genai.Client(api_key="k", http_options=genai.types.HttpOptions(base_url=replay.url))


def thoughts_request() -> Request:
    return parse_request({"contents": [], "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}, "m")


def stream(replay, body: bytes) -> list:
    replay.reply = Reply(body, SSE)
    client = sdk(replay)  # keep a reference: a collected Client closes its HTTP session
    return list(client.models.generate_content_stream(model="gemini-x", contents="hi"))


def test_generate_content_text_and_usage(replay) -> None:
    resp = Response(
        id="msg_1",
        model="claude-x",
        content=[TextPart("Hello "), TextPart("there")],
        usage=Usage(input_tokens=10, cache_read_tokens=4, output_tokens=9, reasoning_tokens=3),
        protocol="anthropic",
    )
    replay.reply = Reply(orjson.dumps(format_response(resp, parse_request({"contents": []}, "m"))))
    client = sdk(replay)
    out = client.models.generate_content(model="gemini-x", contents="hi")
    assert out.text == "Hello there"
    assert out.response_id == "msg_1" and out.model_version == "claude-x"
    assert out.candidates[0].finish_reason == genai.types.FinishReason.STOP
    um = out.usage_metadata
    assert (
        um.prompt_token_count,
        um.cached_content_token_count,
        um.candidates_token_count,
        um.thoughts_token_count,
        um.total_token_count,
    ) == (14, 4, 6, 3, 23)


def test_generate_content_parallel_function_calls_with_ids(replay) -> None:
    resp = Response(
        id="r",
        model="gpt-x",
        content=[ToolCallPart("call_a", "sum", '{"a":2,"b":3}'), ToolCallPart("call_b", "sum", '{"a":4,"b":5}')],
        stop_reason=StopReason.TOOL_USE,
        protocol="openai_chat",
    )
    replay.reply = Reply(orjson.dumps(format_response(resp, parse_request({"contents": []}, "m"))))
    client = sdk(replay)
    out = client.models.generate_content(model="gemini-x", contents="add")
    calls = out.function_calls
    assert [(c.id, c.name, c.args) for c in calls] == [
        ("call_a", "sum", {"a": 2, "b": 3}),
        ("call_b", "sum", {"a": 4, "b": 5}),
    ]


def test_generate_content_thoughts_and_signatures(replay) -> None:
    body = load("response_include_thoughts.json")
    signature = base64.b64encode(b"opaque-signature").decode()  # the fixture's constructed value is not base64
    body["candidates"][0]["content"]["parts"][1]["thoughtSignature"] = signature
    replay.reply = Reply(
        orjson.dumps(format_response(parse_response(body), parse_request(load("request_include_thoughts.json"))))
    )
    client = sdk(replay)
    out = client.models.generate_content(model="gemini-x", contents="primes")
    thought, answer = out.candidates[0].content.parts
    assert thought.thought is True and thought.text.startswith("**Summing")
    assert answer.text == "The sum of the first 50 prime numbers is 5117."
    assert answer.thought_signature == b"opaque-signature"
    assert out.usage_metadata.thoughts_token_count == 564


def test_stream_text_and_usage(replay) -> None:
    chunks = stream(
        replay,
        encode(
            parse_request(load("request_stream_system_instruction.json")), decode(raw("stream_system_instruction.sse"))
        ),
    )
    assert "".join(c.text or "" for c in chunks).startswith("I can help you with that! However, I don't have access")
    assert chunks[-1].candidates[0].finish_reason == genai.types.FinishReason.STOP
    assert chunks[-1].usage_metadata.total_token_count == 343
    assert {c.response_id for c in chunks} == {"wyawaZq1OqfNkdUPu_SioAU"}


def test_stream_parallel_function_calls(replay) -> None:
    chunks = stream(
        replay,
        encode(
            parse_request(load("request_stream_parallel_calls_gemini3.json")),
            decode(raw("stream_parallel_calls_gemini3.sse")),
        ),
    )
    calls = [call for c in chunks for call in (c.function_calls or [])]
    assert [(c.id, c.args) for c in calls] == [
        ("3ae8iwca", {"b": 3, "a": 2}),
        ("up3kf30e", {"a": 4, "b": 5}),
        ("ycroch25", {"b": 7, "a": 6}),
    ]
    first_part = chunks[0].candidates[0].content.parts[0]
    assert first_part.thought_signature is not None


def test_stream_foreign_thinking_tool_calls_and_heartbeats(replay) -> None:
    events = [
        Heartbeat(),
        MessageStart("msg_9", "claude-x", usage=Usage(input_tokens=20)),
        PartStart(0, ReasoningPart()),
        ReasoningDelta(0, "Let me think"),
        SignatureDelta(0, "anthropic-signature", "anthropic"),
        PartStop(0),
        Heartbeat(),
        PartStart(1, TextPart("")),
        TextDelta(1, "Checking both."),
        PartStop(1),
        PartStart(2, ToolCallPart("toolu_1", "weather", "")),
        ToolArgsDelta(2, ""),
        ToolArgsDelta(2, '{"city": "Paris"}'),
        PartStop(2),
        PartStart(3, ToolCallPart("toolu_2", "weather", "")),
        ToolArgsDelta(3, '{"city": "Rome"}'),
        PartStop(3),
        MessageDelta(StopReason.TOOL_USE, usage=Usage(input_tokens=20, output_tokens=40, reasoning_tokens=10)),
        MessageStop(),
    ]
    chunks = stream(replay, encode(thoughts_request(), events))
    parts = [p for c in chunks for p in (c.candidates[0].content.parts or [])]
    thoughts = [p.text for p in parts if p.thought]
    assert thoughts == ["Let me think"]
    assert "".join(p.text or "" for p in parts if not p.thought) == "Checking both."
    calls = [call for c in chunks for call in (c.function_calls or [])]
    assert [(c.id, c.name, c.args) for c in calls] == [
        ("toolu_1", "weather", {"city": "Paris"}),
        ("toolu_2", "weather", {"city": "Rome"}),
    ]
    um = chunks[-1].usage_metadata
    assert (um.prompt_token_count, um.candidates_token_count, um.thoughts_token_count, um.total_token_count) == (
        20,
        30,
        10,
        60,
    )


def test_stream_in_band_error_makes_the_sdk_raise(replay) -> None:
    body = encode(parse_request(load("request_stream_plain_text.json")), decode(raw("stream_error_midstream.sse")))
    replay.reply = Reply(body, SSE)
    received = []
    client = sdk(replay)
    with pytest.raises(genai_errors.ServerError) as info:
        for chunk in client.models.generate_content_stream(model="gemini-x", contents="hi"):
            received.append(chunk.text)
    assert received == ["Partial"]
    assert info.value.code == 503 and info.value.status == "UNAVAILABLE"


def test_http_error_body_makes_the_sdk_raise_with_status(replay) -> None:
    status, body = format_error(GatewayError(ErrorKind.RATE_LIMIT, "slow down", retry_after=2))
    replay.reply = Reply(orjson.dumps(body), status=status)
    client = genai.Client(
        api_key="k",
        http_options=genai.types.HttpOptions(
            base_url=replay.url, retry_options=genai.types.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-x", contents="hi")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"


def test_sse_comments_break_the_python_sdk(replay) -> None:
    """Why Heartbeat is an empty-text chunk and not ``: keepalive`` (pins google-genai behaviour)."""
    good = encode(
        Request(model=""),
        [MessageStart("r", "m"), PartStart(0, TextPart("")), TextDelta(0, "x"), PartStop(0), MessageStop()],
    )
    replay.reply = Reply(b": keepalive\r\n\r\n" + good, SSE)
    client = sdk(replay)
    with pytest.raises(genai_errors.UnknownApiResponseError):
        list(client.models.generate_content_stream(model="gemini-x", contents="hi"))


def test_sdk_request_bodies_round_trip(replay) -> None:
    """The Python SDK sends some keys in snake_case (thinkingConfig, parameters_json_schema)."""
    replay.reply = Reply(orjson.dumps(load("response_plain_text.json")))
    config = genai.types.GenerateContentConfig(
        system_instruction="Be brief.",
        temperature=0.2,
        max_output_tokens=64,
        stop_sequences=["END"],
        response_mime_type="application/json",
        response_json_schema={"type": "object"},
        thinking_config=genai.types.ThinkingConfig(thinking_budget=512, include_thoughts=True),
        tools=[
            genai.types.Tool(
                function_declarations=[
                    genai.types.FunctionDeclaration(
                        name="f",
                        description="d",
                        parameters_json_schema={"type": "object", "properties": {"dir_path": {"type": "string"}}},
                    )
                ]
            )
        ],
        tool_config=genai.types.ToolConfig(
            function_calling_config=genai.types.FunctionCallingConfig(mode="ANY", allowed_function_names=["f"])
        ),
    )
    contents = [
        genai.types.Content(role="user", parts=[genai.types.Part(text="hi")]),
        genai.types.Content(
            role="model",
            parts=[genai.types.Part(function_call=genai.types.FunctionCall(name="f", args={"dir_path": "."}, id="a"))],
        ),
        genai.types.Content(
            role="user",
            parts=[
                genai.types.Part(
                    function_response=genai.types.FunctionResponse(name="f", response={"result": "x"}, id="a")
                )
            ],
        ),
    ]
    client = sdk(replay)
    client.models.generate_content(model="gemini-x", contents=contents, config=config)
    sent = orjson.loads(replay.requests[-1].body)
    assert "include_thoughts" in sent["generationConfig"]["thinkingConfig"]  # what makes this test worth having
    req = parse_request(sent, "gemini-x")
    assert req.system == [TextPart("Be brief.")] and req.max_tokens == 64 and req.stop == ["END"]
    assert req.reasoning.budget_tokens == 512 and req.reasoning.include_thoughts is True
    assert req.tool_choice.mode == "tool" and req.tools[0].parameters["properties"] == {"dir_path": {"type": "string"}}
    assert req.response_format == {"type": "json_schema", "name": "response", "schema": {"type": "object"}}
    assert req.messages[2].content[0].tool_call_id == "a"
    assert build_request(req) == sent
