"""OpenAI-compatible servers that are not OpenAI's own API (llama.cpp, vLLM, Ollama ...), against
the mock Chat upstream: the token limit goes in ``max_tokens``, ``reasoning_effort`` is left out
unless declared, and a usage the upstream does not report is estimated and marked — never 0.

The same behaviour against a real llama.cpp server: ``tests/local/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml, usage_row
from mock_upstreams import Reply, fixture_bytes, fixture_reply

from tokenizer_support import tiktoken_count

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
NO_USAGE_STREAM = "openai_chat/stream_llamacpp_no_usage.sse"  # llama.cpp's server: no usage chunk
LENGTH_ANSWER = "openai_chat/response_llamacpp_length.json"  # stopped by max_tokens: 2 tokens


def local_yaml(up: dict[str, Any]) -> str:
    url = up["openai_chat"].url
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
routing:
  timeouts: {{first_byte: 5, stall: 5, request: 20}}
  heartbeat: 0
providers:
  local:                      # an OpenAI-compatible server: the defaults
    type: openai
    base_url: {url}/v1
  declared:                   # declared to read what OpenAI's own API reads
    type: openai
    base_url: {url}/v1
    max_tokens_field: max_completion_tokens
    unsupported_params: []
  strict:                     # declares what it does not take: same-protocol requests are rebuilt too
    type: openai
    base_url: {url}/v1
    unsupported_params: [reasoning, temperature]
models:
  "claude-*": local/tiny
"""


@pytest.fixture(scope="module")
def gw(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("local")
    gateway = Gateway(config_from_yaml(local_yaml(upstream_host), base_dir=base)).start()
    yield gateway
    gateway.stop()


def row(gw: Gateway, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    return usage_row(gw, "request_id = ?", (request_id,), timeout)


def messages(model: str = "local/tiny", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], **extra}


def sse_events(body: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: {")]


# ---------------------------------------------------------------------------- defect 1: max_tokens


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", messages()),
        ("/v1/responses", {"model": "local/tiny", "input": "hi", "max_output_tokens": 2, "store": False}),
        (
            "/v1beta/models/local/tiny:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 2}},
        ),
    ],
    ids=["anthropic", "responses", "gemini"],
)
def test_translated_limit_goes_in_max_tokens(gw, upstreams, path, body):
    upstreams["openai_chat"].queue(fixture_reply(LENGTH_ANSWER))
    resp = call(gw.url + path, "POST", body, AUTH)
    assert resp.status == 200, resp.body
    sent = upstreams["openai_chat"].last.json
    assert sent["max_tokens"] == 2 and "max_completion_tokens" not in sent


def test_the_upstreams_stop_reason_is_reported(gw, upstreams):
    upstreams["openai_chat"].queue(fixture_reply(LENGTH_ANSWER))
    answer = call(gw.url + "/v1/messages", "POST", messages(), AUTH).json
    assert answer["stop_reason"] == "max_tokens"
    assert answer["usage"]["output_tokens"] == 2 and answer["usage"]["input_tokens"] == 9  # the server's own


def test_declared_field_wins(gw, upstreams):
    call(gw.url + "/v1/messages", "POST", messages("declared/tiny"), AUTH)
    sent = upstreams["openai_chat"].last.json
    assert sent["max_completion_tokens"] == 2 and "max_tokens" not in sent


def test_fast_path_renames_max_completion_tokens(gw, upstreams):
    body = {"model": "local/tiny", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 3}
    assert call(gw.url + "/v1/chat/completions", "POST", body, AUTH).status == 200
    sent = upstreams["openai_chat"].last.json
    assert sent["max_tokens"] == 3 and "max_completion_tokens" not in sent
    body = {"model": "declared/tiny", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 3}
    assert call(gw.url + "/v1/chat/completions", "POST", body, AUTH).status == 200
    assert upstreams["openai_chat"].last.body == orjson.dumps({**body, "model": "tiny"})  # forwarded as it came


# ---------------------------------------------------------------------------- defect 3: unsupported params


def test_reasoning_effort_is_not_sent_to_a_compatible_server(gw, upstreams):
    thinking = messages(max_tokens=20000, thinking={"type": "enabled", "budget_tokens": 16000})
    call(gw.url + "/v1/messages", "POST", thinking, AUTH)
    assert "reasoning_effort" not in upstreams["openai_chat"].last.json
    call(gw.url + "/v1/messages", "POST", {**thinking, "model": "declared/tiny"}, AUTH)
    assert upstreams["openai_chat"].last.json["reasoning_effort"] == "medium"


def test_declared_unsupported_params_apply_to_same_protocol_requests(gw, upstreams):
    body = {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high", "temperature": 0.3}
    call(gw.url + "/v1/chat/completions", "POST", {**body, "model": "strict/tiny"}, AUTH)
    sent = upstreams["openai_chat"].last.json
    assert "reasoning_effort" not in sent and "temperature" not in sent
    call(gw.url + "/v1/chat/completions", "POST", {**body, "model": "local/tiny"}, AUTH)
    sent = upstreams["openai_chat"].last.json  # the defaults only shape requests the gateway builds
    assert sent["reasoning_effort"] == "high" and sent["temperature"] == 0.3


# ---------------------------------------------------------------------------- defect 2: missing usage


def _generated() -> int:
    """Content chunks in the no-usage transcript: llama.cpp streams one token per chunk."""
    events = sse_events(fixture_bytes(NO_USAGE_STREAM))
    return sum(1 for e in events if e["choices"] and e["choices"][0]["delta"].get("content"))


def test_anthropic_stream_without_upstream_usage_gets_an_estimate(gw, upstreams):
    upstreams["openai_chat"].queue(Reply(body=fixture_bytes(NO_USAGE_STREAM), content_type="text/event-stream"))
    resp = call(gw.url + "/v1/messages", "POST", messages(max_tokens=20, stream=True), AUTH)
    assert resp.status == 200
    deltas = [e for e in sse_events(resp.body) if e["type"] == "message_delta"]
    assert len(deltas) == 1
    usage = deltas[0]["usage"]
    assert usage["output_tokens"] == _generated() == 6
    assert usage["input_tokens"] > 0
    rec = row(gw, resp.headers["x-request-id"])
    assert rec["usage_estimated"] == 1
    assert (rec["input_tokens"], rec["output_tokens"]) == (usage["input_tokens"], usage["output_tokens"])


@pytest.mark.parametrize("client", ["responses", "gemini", "chat_translated"])
def test_other_clients_get_the_estimate_too(gw, upstreams, client):
    upstreams["openai_chat"].queue(Reply(body=fixture_bytes(NO_USAGE_STREAM), content_type="text/event-stream"))
    if client == "responses":
        body = {"model": "local/tiny", "input": "hi", "stream": True, "store": False}
        resp = call(gw.url + "/v1/responses", "POST", body, AUTH)
        done = next(e for e in sse_events(resp.body) if e["type"] == "response.completed")
        output = done["response"]["usage"]["output_tokens"]
    elif client == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        resp = call(gw.url + "/v1beta/models/local/tiny:streamGenerateContent?alt=sse", "POST", body, AUTH)
        output = sse_events(resp.body)[-1]["usageMetadata"]["candidatesTokenCount"]
    else:  # a Chat client of a provider with a rewriting declaration: translated, so the estimate is sent
        body = {"model": "strict/tiny", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        resp = call(gw.url + "/v1/chat/completions", "POST", {**body, "stream_options": {"include_usage": True}}, AUTH)
        output = next(e for e in sse_events(resp.body) if e.get("usage"))["usage"]["completion_tokens"]
    assert resp.status == 200
    assert output == _generated()
    assert row(gw, resp.headers["x-request-id"])["usage_estimated"] == 1


def test_relayed_stream_without_usage_is_estimated_in_the_log(gw, upstreams):
    upstreams["openai_chat"].queue(Reply(body=fixture_bytes(NO_USAGE_STREAM), content_type="text/event-stream"))
    body = {"model": "local/tiny", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    resp = call(gw.url + "/v1/chat/completions", "POST", body, AUTH)
    assert resp.body == fixture_bytes(NO_USAGE_STREAM)  # the fast path: relayed as it came
    rec = row(gw, resp.headers["x-request-id"])
    assert rec["usage_estimated"] == 1 and rec["output_tokens"] == _generated() and rec["input_tokens"] > 0


def test_non_stream_answer_without_usage_is_estimated(gw, upstreams):
    answer = orjson.loads(fixture_bytes(LENGTH_ANSWER))
    del answer["usage"]
    upstreams["openai_chat"].queue(Reply(body=orjson.dumps(answer)), Reply(body=orjson.dumps(answer)))
    resp = call(gw.url + "/v1/messages", "POST", messages(), AUTH)
    usage = resp.json["usage"]
    output = tiktoken_count("cl100k_base", "Hello from")  # the tokenizer of OpenAI-compatible models: 2
    assert usage["output_tokens"] == output and usage["input_tokens"] > 0
    assert row(gw, resp.headers["x-request-id"])["usage_estimated"] == 1
    body = {"model": "local/tiny", "messages": [{"role": "user", "content": "hi"}]}
    resp = call(gw.url + "/v1/chat/completions", "POST", body, AUTH)
    assert "usage" not in resp.json  # relayed as it came
    rec = row(gw, resp.headers["x-request-id"])
    assert rec["usage_estimated"] == 1 and rec["output_tokens"] == output


def test_reported_usage_is_not_marked(gw, upstreams):
    upstreams["openai_chat"].queue(fixture_reply("openai_chat/stream_include_usage.sse"))
    resp = call(gw.url + "/v1/messages", "POST", messages(max_tokens=100, stream=True), AUTH)
    rec = row(gw, resp.headers["x-request-id"])
    assert rec["usage_estimated"] == 0 and rec["output_tokens"] > 0
