"""Issue 13: a property-based fuzz of every POST endpoint, through real HTTP, against a running
gateway answering with the built-in mock provider.

Each example starts from a valid, feature-rich body of the endpoint's protocol (tools, tool calls
and results, reasoning, JSON output ...) and mutates it: a value anywhere in it replaced by a
hostile one (null, 1e308, integers beyond 64 bits, lone surrogates, deep nesting, items of
unknown type ...), a key added or removed, or the body replaced by arbitrary JSON. Properties:

- the gateway never answers 5xx and never hangs (every answer within a few seconds);
- an error is in the client protocol's own shape, with JSON content;
- a 200 stream ends as its protocol ends a stream (or with its in-band error event);
- the process keeps serving: ``/health`` answers and a valid request still succeeds.
"""

from __future__ import annotations

import copy
import http.client
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchyard.core.sse import SSEDecoder

FUZZ_YAML = f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
  max_body_mb: 1
routing:
  timeouts: {{first_byte: 5, stall: 5, request: 10}}
models:
  fuzz: mock/mock-1
"""

TOOL = {"name": "get_weather", "description": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}  # fmt: skip
CHAT = {
    "model": "fuzz",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "use a tool please"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "think, then use a tool"},
    ],
    "tools": [{"type": "function", "function": TOOL}],
    "tool_choice": "auto",
    "max_tokens": 50,
    "temperature": 0.5,
    "reasoning_effort": "low",
    "stream_options": {"include_usage": True},
    "response_format": {"type": "text"},
}  # fmt: skip
RESPONSES = {
    "model": "fuzz",
    "instructions": "be brief",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "use a tool please"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hm"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "message", "role": "user", "content": "think, then use a tool"},
    ],
    "tools": [{"type": "function", **TOOL}],
    "tool_choice": "auto",
    "max_output_tokens": 50,
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"format": {"type": "text"}},
    "metadata": {"k": "v"},
    "store": True,
}  # fmt: skip
MESSAGES = {
    "model": "fuzz",
    "max_tokens": 50,
    "system": [{"type": "text", "text": "be brief"}],
    "messages": [
        {"role": "user", "content": "use a tool please"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                                     {"type": "text", "text": "think, then use a tool"}]},
    ],
    "tools": [{"name": "get_weather", "description": "weather", "input_schema": TOOL["parameters"]}],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "metadata": {"user_id": "u1"},
}  # fmt: skip
GEMINI = {
    "systemInstruction": {"parts": [{"text": "be brief"}]},
    "contents": [
        {"role": "user", "parts": [{"text": "use a tool please"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                     "thoughtSignature": "c2ln"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}]},
        {"role": "user", "parts": [{"text": "think, then use a tool"}]},
    ],
    "tools": [{"functionDeclarations": [TOOL]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"maxOutputTokens": 50, "temperature": 0.5, "thinkingConfig": {"includeThoughts": True},
                         "responseMimeType": "text/plain"},
}  # fmt: skip

# (protocol, path, base body, streams?)
ENDPOINTS = [
    ("openai_chat", "/v1/chat/completions", CHAT, True),
    ("openai_responses", "/v1/responses", RESPONSES, True),
    ("anthropic", "/v1/messages", MESSAGES, True),
    ("anthropic", "/v1/messages/count_tokens", {k: v for k, v in MESSAGES.items() if k != "max_tokens"}, False),
    ("gemini", "/v1beta/models/fuzz:generateContent", GEMINI, False),
    ("gemini", "/v1beta/models/fuzz:streamGenerateContent?alt=sse", GEMINI, False),
    ("gemini", "/v1/models/fuzz:generateContent", GEMINI, False),
]
AUTH = {"authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY, "x-goog-api-key": CLIENT_KEY}

HOSTILE = st.sampled_from(
    [None, True, False, 0, -1, 1.5, 1e308, -1e308, 2**63, 2**64 - 1, 2**64, 2**70, -(2**65), 10**40,
     "", "x", "\ud800", "\x00", "tool", "think", "parallel tools", "\u202e" * 3,
     [], {}, [None], [1e308], {"type": None}, {"type": "bogus_item"}, {"type": {"nested": 1}},
     {"type": "object", "properties": {"a": {"type": {"weird": True}}}}]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8), HOSTILE,
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["type", "role", "content", "text", "name", "id", "parts", "x"]) | st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every location inside a JSON value (the root included)."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def put(body: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return body


@st.composite
def mutated(draw: st.DrawFn, base: dict) -> bytes:
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(list(paths(body))))
        action = draw(st.sampled_from(["replace", "replace", "hostile", "add", "delete", "stream"]))
        if action == "stream" and isinstance(body, dict):
            body["stream"] = draw(st.sampled_from([True, False, "x", None, 1, {"a": 1}]))
            body["stream_options"] = draw(st.sampled_from([{"include_usage": True}, "x", None, [], 1]))
        elif action == "delete" and where:
            parent = body
            for step in where[:-1]:
                parent = parent[step]
            parent.pop(where[-1])
        elif action == "add" and isinstance(body, dict):
            name = draw(st.sampled_from(["input", "messages", "contents", "tools", "model", "x"]))
            body[name] = copy.deepcopy(draw(JSON_VALUES))
        else:  # drawn values are copied: sampled ones are shared between examples
            body = put(body, where, copy.deepcopy(draw(HOSTILE if action == "hostile" else JSON_VALUES)))
    if draw(st.integers(min_value=0, max_value=20)) == 0:
        body = copy.deepcopy(draw(JSON_VALUES))
    # the stdlib writes integers of any size (orjson stops at 64 bits), and \ud800 as an escape
    return json.dumps(body, allow_nan=False).encode()


def post(url: str, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=15)  # a hang fails the example
    try:
        conn.request("POST", path, body=raw, headers={"content-type": "application/json", **AUTH})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def check_error_shape(protocol: str, status: int, body: bytes) -> None:
    data = orjson.loads(body)
    if protocol == "anthropic":
        assert data["type"] == "error" and isinstance(data["error"]["type"], str), data
        assert isinstance(data["error"]["message"], str)
    elif protocol == "gemini":
        assert data["error"]["code"] == status and isinstance(data["error"]["status"], str), data
        assert isinstance(data["error"]["message"], str)
    else:
        assert isinstance(data["error"]["type"], str) and isinstance(data["error"]["message"], str), data


def check_stream_end(protocol: str, body: bytes) -> None:
    dec = SSEDecoder()
    frames = [f for f in dec.feed(body) + dec.flush() if f.comment is None and f.data]
    assert frames, body
    last = frames[-1]
    if protocol == "openai_chat":
        assert last.data == "[DONE]" or "error" in orjson.loads(last.data), body[-300:]
    elif protocol == "openai_responses":
        assert orjson.loads(last.data)["type"] in ("response.completed", "response.incomplete", "response.failed")
    elif protocol == "anthropic":
        assert last.event in ("message_stop", "error"), body[-300:]
    else:
        data = orjson.loads(last.data)
        assert "error" in data or data["candidates"][0].get("finishReason"), body[-300:]


@pytest.fixture(scope="module")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = Gateway(config_from_yaml(FUZZ_YAML, base_dir=tmp_path_factory.mktemp("fuzz"))).start()
    yield gateway
    gateway.stop()


@pytest.mark.parametrize(("protocol", "path", "base", "_"), ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_fuzz_every_post_endpoint_never_5xx_never_hangs(fuzz_gateway, protocol, path, base, _):
    url = fuzz_gateway.url
    status, _h, body = post(url, path, orjson.dumps(base))
    assert status == 200, body  # the base body is valid

    @settings(
        max_examples=200, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(raw=mutated(base))
    def one(raw: bytes) -> None:
        status, headers, answer = post(url, path, raw)
        assert status < 500, (raw, answer)
        if status >= 400:
            assert headers["content-type"] == "application/json", (raw, answer)
            check_error_shape(protocol, status, answer)
        elif headers["content-type"] == "text/event-stream":
            check_stream_end(protocol if "Generate" not in path else "gemini", answer)
        else:
            orjson.loads(answer)

    one()
    # the process keeps serving
    assert post(url, path, orjson.dumps(base))[0] == 200
    conn = http.client.HTTPConnection(*url.removeprefix("http://").split(":"), timeout=5)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200


def test_fuzz_finding_anthropic_tool_choice_type_that_is_not_a_string(fuzz_gateway):
    """Found by the fuzz: ``tool_choice.type`` an object or a list was a 500 (unhashable type)."""
    for kind in ({"a": 1}, ["auto"]):
        body = {**MESSAGES, "tool_choice": {"type": kind}}
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            status, _h, answer = post(fuzz_gateway.url, path, orjson.dumps(body))
            assert status == 400, answer
            check_error_shape("anthropic", status, answer)


def test_fuzz_finding_mock_tool_schema_type_that_is_an_object(fuzz_gateway):
    """Found by the fuzz: a property ``type`` that is an object crashed the mock (see also item 11)."""
    tool = {**TOOL, "parameters": {"type": "object", "properties": {"a": {"type": {"x": 1}}}, "required": ["a"]}}
    status, _h, answer = post(
        fuzz_gateway.url,
        "/v1/chat/completions",
        orjson.dumps({**CHAT, "tools": [{"type": "function", "function": tool}]}),
    )
    assert status == 200, answer
