"""Issue 13 item 11 — crashes on hostile input, through the real gateway.

- A Responses ``input`` holding ``null``, a number such as ``1e308``, an item of unknown type or
  an integer beyond 64 bits is refused at parse time with a 400 in the Responses shape — on the
  fast path too, where the gateway does not parse the body but stores its input with the answer
  (the upstream used to answer 200, then saving raised a TypeError: a 500, or a stream cut short).
- Integers up to and beyond 64 bits where JSON allows anything (metadata, an item's extra field)
  are stored and read back.
- A failure to save never breaks an answer already given, streamed or not.
- The mock provider answers a tool whose schema has a property whose ``type`` is an object.
- A tool-call-only answer translated into a Chat stream carries no ``content`` field before
  there is content (the AI SDK made an empty text part of ``content: ""``).
"""

from __future__ import annotations

import orjson
import pytest
from gateway_harness import CLIENT_KEY, call
from mock_upstreams import fixture_reply

from switchyard.core.sse import SSEDecoder

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
# raw JSON text: the stdlib and orjson cannot both write every one of these
HOSTILE_INPUTS = {
    "null": b"[null, null]",
    "null_item": b"[null]",
    "number_input": b"1e308",
    "number_item": b"[1e308]",
    "unknown_item_type": b'[{"type": "bogus_item", "foo": 1}]',
    "non_string_type": b'[{"type": {"a": 1}, "role": "user", "content": "hi"}]',
    "integer_beyond_64_bits_item": b"[123456789012345678901234567890]",
    "null_content_part": b'[{"role": "user", "content": [null]}]',
    "number_content": b'[{"role": "user", "content": 1e308}]',
}


def responses_body(model: str, stream: bool, raw_input: bytes) -> bytes:
    head = orjson.dumps({"model": model, "stream": stream})[:-1]
    return head + b',"input":' + raw_input + b"}"


def events(raw: bytes) -> list[dict]:
    dec = SSEDecoder()
    return [orjson.loads(f.data) for f in dec.feed(raw) + dec.flush() if f.data and f.data != "[DONE]"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", ["mock-1", "or/fast-path", "an/translated"])
@pytest.mark.parametrize("case", list(HOSTILE_INPUTS))
def test_responses_hostile_input_is_a_400_at_parse_time(gateway, upstreams, case, model, stream):
    resp = call(gateway.url + "/v1/responses", "POST", responses_body(model, stream, HOSTILE_INPUTS[case]), AUTH)
    assert resp.status == 400, resp.body
    assert resp.headers["content-type"] == "application/json"
    error = resp.json["error"]
    assert error["type"] == "invalid_request_error" and error["param"].startswith("input"), error
    assert not upstreams["openai_responses"].requests and not upstreams["anthropic"].requests


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", ["mock-1", "or/fast-path"])
def test_responses_integers_beyond_64_bits_are_stored_and_read_back(gateway, upstreams, model, stream):
    if model.startswith("or/"):
        upstreams["openai_responses"].queue(
            fixture_reply(
                "openai_responses/stream_plain_text.sse" if stream else "openai_responses/response_plain_text.json"
            )
        )
    raw = (
        orjson.dumps({"model": model, "stream": stream})[:-1]
        + b',"metadata": {"u64": "x"}, "input": [{"role": "user", "content": "hi", "n": 18446744073709551615,'
        + b' "m": 123456789012345678901234567890, "f": 1e308, "neg": -99999999999999999999999}]}'
    )
    resp = call(gateway.url + "/v1/responses", "POST", raw, AUTH)
    assert resp.status == 200, resp.body
    if stream:
        last = events(resp.body)[-1]
        assert last["type"] == "response.completed", last
        response_id = last["response"]["id"]
    else:
        response_id = resp.json["id"]
    items = call(gateway.url + f"/v1/responses/{response_id}/input_items", "GET", None, AUTH)
    assert items.status == 200, items.body
    item = items.json["data"][0]
    assert item["n"] == 18446744073709551615 and item["f"] == 1e308
    assert item["m"] == pytest.approx(1.2345678901234568e29)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("model", ["mock-1", "or/fast-path", "an/translated"])
def test_a_failure_to_save_the_response_never_breaks_the_answer(gateway, upstreams, model, stream, monkeypatch):
    store = gateway.app.pipeline.responses.store

    async def broken_put(record):
        raise TypeError("Integer exceeds 64-bit range")

    monkeypatch.setattr(store, "put", broken_put)
    if model.startswith("or/"):
        upstreams["openai_responses"].queue(
            fixture_reply(
                "openai_responses/stream_plain_text.sse" if stream else "openai_responses/response_plain_text.json"
            )
        )
    if model.startswith("an/"):
        upstreams["anthropic"].queue(
            fixture_reply("anthropic/stream_plain_text.sse" if stream else "anthropic/response_plain_text.json")
        )
    body = {"model": model, "stream": stream, "input": "hello"}
    resp = call(gateway.url + "/v1/responses", "POST", body, AUTH)
    assert resp.status == 200, resp.body
    if stream:
        assert events(resp.body)[-1]["type"] == "response.completed"
    else:
        assert resp.json["status"] == "completed" and resp.json["output"]


@pytest.mark.parametrize("client", ["openai_chat", "anthropic", "gemini", "openai_responses"])
def test_mock_tool_schema_whose_property_type_is_an_object(gateway, upstreams, client):
    schema = {
        "type": "object",
        "properties": {"weird": {"type": {"not": "a type"}}, "also": {"type": ["string", 5]}, "n": {"type": 7}},
        "required": ["weird", "also", "n"],
    }
    if client == "openai_chat":
        path = "/v1/chat/completions"
        body = {"model": "mock-1", "messages": [{"role": "user", "content": "use a tool"}],
                "tools": [{"type": "function", "function": {"name": "odd", "parameters": schema}}]}  # fmt: skip
    elif client == "anthropic":
        path = "/v1/messages"
        body = {"model": "mock-1", "max_tokens": 50, "messages": [{"role": "user", "content": "use a tool"}],
                "tools": [{"name": "odd", "input_schema": schema}]}  # fmt: skip
    elif client == "gemini":
        path = "/v1beta/models/mock-1:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "use a tool"}]}],
                "tools": [{"functionDeclarations": [{"name": "odd", "parametersJsonSchema": schema}]}]}  # fmt: skip
    else:
        path = "/v1/responses"
        body = {"model": "mock-1", "input": "use a tool", "store": False,
                "tools": [{"type": "function", "name": "odd", "parameters": schema}]}  # fmt: skip
    resp = call(gateway.url + path, "POST", body, {**AUTH, "x-api-key": CLIENT_KEY, "x-goog-api-key": CLIENT_KEY})
    assert resp.status == 200, resp.body
    assert b"odd" in resp.body


@pytest.mark.parametrize("upstream", ["mock-1", "an/tools", "gm/tools", "or/tools"])
def test_tool_call_only_answer_in_a_chat_stream_has_no_empty_content(gateway, upstreams, upstream):
    fixtures = {"an/tools": ("anthropic", "anthropic/stream_tool_use.sse"),
                "gm/tools": ("gemini", "gemini/stream_parallel_calls_gemini3.sse"),
                "or/tools": ("openai_responses", "openai_responses/stream_tool_call.sse")}  # fmt: skip
    if upstream in fixtures:
        protocol, name = fixtures[upstream]
        upstreams[protocol].queue(fixture_reply(name))
    body = {
        "model": upstream,
        "stream": True,
        "messages": [{"role": "user", "content": "use a tool"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    }
    resp = call(gateway.url + "/v1/chat/completions", "POST", body, AUTH)
    assert resp.status == 200
    chunks = [c for c in events(resp.body) if c.get("choices")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant"}
    assert any("tool_calls" in d for d in deltas)
    assert not any("content" in d for d in deltas), deltas  # tool calls only: never a content field
