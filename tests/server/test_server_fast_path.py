"""The same-protocol fast path for all four protocols: the body goes upstream with only the model
rewritten, the answer comes back byte for byte, and the usage is observed on the side and kept on
the request's Exchange (handed to ``App.observers`` when the request is over)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from gateway_harness import CLIENT_KEY, PROVIDER, call
from mock_upstreams import fixture_bytes, fixture_reply

from switchyard.server.context import Exchange

STREAMS = {
    "openai_chat": ("openai_chat/request_stream_include_usage.json", "openai_chat/stream_include_usage.sse", (22, 712)),
    "openai_responses": (
        "openai_responses/request_stream_reasoning_summary.json",
        "openai_responses/stream_reasoning_summary.sse",
        (45, 3506),
    ),
    "anthropic": ("anthropic/request_thinking.json", "anthropic/stream_thinking.sse", (44, 46)),
    "gemini": ("gemini/request_stream_plain_text.json", "gemini/stream_plain_text.sse", (11, 34)),
}
JSON = {
    "openai_chat": ("openai_chat/request_tool_call.json", "openai_chat/response_tool_call.json"),
    "openai_responses": ("openai_responses/request_tool_call.json", "openai_responses/response_tool_call.json"),
    "anthropic": ("anthropic/request_tool_call.json", "anthropic/response_tool_call.json"),
    "gemini": ("gemini/request_tool_call.json", "gemini/response_tool_call.json"),
}
AUTH = {
    "openai_chat": {"authorization": f"Bearer {CLIENT_KEY}"},
    "openai_responses": {"authorization": f"Bearer {CLIENT_KEY}"},
    "anthropic": {"x-api-key": CLIENT_KEY},
    "gemini": {"x-goog-api-key": CLIENT_KEY},
}


@pytest.fixture
def exchanges(gateway) -> Iterator[list[Exchange]]:
    seen: list[Exchange] = []
    gateway.app.observers.append(seen.append)
    yield seen
    gateway.app.observers.remove(seen.append)


def finished(exchanges: list[Exchange]) -> Exchange:
    deadline = time.monotonic() + 2
    while not exchanges and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(exchanges) == 1
    return exchanges[0]


def url_and_body(gateway, protocol: str, request_fixture: str, stream: bool) -> tuple[str, dict]:
    body = orjson.loads(fixture_bytes(request_fixture))
    model = f"{PROVIDER[protocol]}/renamed-model"
    if protocol == "gemini":
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{gateway.url}/v1beta/models/{model}:{verb}", body
    path = {"openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses", "anthropic": "/v1/messages"}
    return gateway.url + path[protocol], {**body, "model": model, "stream": stream}


@pytest.mark.parametrize("protocol", list(STREAMS))
def test_stream_bytes_are_identical_and_usage_is_observed(gateway, upstreams, exchanges, protocol):
    request_fixture, stream_fixture, usage = STREAMS[protocol]
    upstreams[protocol].queue(fixture_reply(stream_fixture, chunk_size=777))
    url, body = url_and_body(gateway, protocol, request_fixture, True)
    resp = call(url, "POST", body, AUTH[protocol])
    assert resp.status == 200
    assert resp.body == fixture_bytes(stream_fixture)

    sent = upstreams[protocol].last
    if protocol == "gemini":
        assert sent.body == orjson.dumps(body) and "renamed-model:streamGenerateContent" in sent.path
    else:
        assert sent.json == {**body, "model": "renamed-model"}

    ctx = finished(exchanges)
    assert ctx.status == 200 and ctx.error is None and not ctx.client_gone
    assert str(ctx.target) == f"{PROVIDER[protocol]}/renamed-model"
    assert ctx.usage is not None
    assert (ctx.usage.prompt_tokens, ctx.usage.output_tokens) == usage
    assert ctx._request is None, "the fast path never parses the request into core"


@pytest.mark.parametrize("protocol", list(JSON))
def test_json_bytes_are_relayed_and_usage_is_read_on_demand(gateway, upstreams, exchanges, protocol):
    request_fixture, response_fixture = JSON[protocol]
    upstreams[protocol].queue(fixture_reply(response_fixture))
    url, body = url_and_body(gateway, protocol, request_fixture, False)
    resp = call(url, "POST", body, AUTH[protocol])
    assert resp.status == 200
    assert resp.body == fixture_bytes(response_fixture)
    ctx = finished(exchanges)
    assert ctx.relayed == resp.body  # relayed as is; usage is parsed from it after the response
    usage = ctx.final_usage()
    assert usage is not None and usage.output_tokens > 0


def test_translated_stream_usage_is_observed(gateway, upstreams, exchanges):
    upstreams["anthropic"].queue(fixture_reply("anthropic/stream_thinking.sse"))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    resp = call(gateway.url + "/v1beta/models/an/claude-x:streamGenerateContent?alt=sse", "POST", body, AUTH["gemini"])
    assert resp.status == 200
    ctx = finished(exchanges)
    assert (ctx.usage.prompt_tokens, ctx.usage.output_tokens) == (44, 46)
    assert ctx.stop_reason == "end_turn"


def test_an_error_answer_is_observed_too(gateway, upstreams, exchanges):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    resp = call(gateway.url + "/v1beta/models/unknown-model:generateContent", "POST", body, AUTH["gemini"])
    assert resp.status == 404
    ctx = finished(exchanges)
    assert ctx.status == 404 and ctx.error is not None and ctx.error.kind == "not_found"
