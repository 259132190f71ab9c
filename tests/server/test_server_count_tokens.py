"""``POST /v1/messages/count_tokens`` (the Anthropic SDK's ``messages.count_tokens``) against each
kind of target: its own counting endpoint where the protocol has one, an estimate where not."""

from __future__ import annotations

import anthropic
import orjson
import pytest
from gateway_harness import CLIENT_KEY, UPSTREAM_KEY
from mock_upstreams import Reply, fixture_reply

MESSAGES = [{"role": "user", "content": "How many tokens is this sentence?"}]
SYSTEM = "You count."
TOOLS = [{"name": "lookup", "description": "look up", "input_schema": {"type": "object", "properties": {}}}]


@pytest.fixture
def sdk(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0)


def test_anthropic_target_forwards_the_body(sdk, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/response_count_tokens.json"))
    result = sdk.messages.count_tokens(model="an/claude-count", messages=MESSAGES, system=SYSTEM, tools=TOOLS)
    assert result.input_tokens == 14
    rec = upstreams["anthropic"].last
    assert rec.path == "/v1/messages/count_tokens"
    assert rec.headers["x-api-key"] == UPSTREAM_KEY["anthropic"]
    assert rec.json == {"model": "claude-count", "messages": MESSAGES, "system": SYSTEM, "tools": TOOLS}


def test_gemini_target_uses_count_tokens(sdk, upstreams):
    upstreams["gemini"].queue(Reply(body=orjson.dumps({"totalTokens": 31})))
    result = sdk.messages.count_tokens(model="gm/gemini-count", messages=MESSAGES, system=SYSTEM)
    assert result.input_tokens == 31
    rec = upstreams["gemini"].last
    assert rec.path == "/v1beta/models/gemini-count:countTokens"
    request = rec.json["generateContentRequest"]
    assert request["model"] == "models/gemini-count"
    assert request["contents"][0]["parts"][0]["text"] == MESSAGES[0]["content"]
    assert request["systemInstruction"]["parts"][0]["text"] == SYSTEM


def test_responses_target_uses_input_tokens(sdk, upstreams):
    upstreams["openai_responses"].queue(fixture_reply("openai_responses/response_input_tokens.json"))
    result = sdk.messages.count_tokens(model="or/gpt-count", messages=MESSAGES, system=SYSTEM)
    assert result.input_tokens == 12
    rec = upstreams["openai_responses"].last
    assert rec.path == "/v1/responses/input_tokens"
    assert rec.json["model"] == "gpt-count"
    assert "stream" not in rec.json and "max_output_tokens" not in rec.json


def test_chat_target_is_estimated_without_a_call(sdk, upstreams):
    result = sdk.messages.count_tokens(model="oc/gpt-count", messages=MESSAGES)
    assert result.input_tokens > 0
    assert upstreams["openai_chat"].requests == []


def test_mock_counts_words(sdk, upstreams):
    assert sdk.messages.count_tokens(model="mock-1", messages=MESSAGES, system=SYSTEM).input_tokens == 8


def test_unknown_model_is_an_anthropic_404(sdk, upstreams):
    with pytest.raises(anthropic.NotFoundError) as info:
        sdk.messages.count_tokens(model="nowhere-model", messages=MESSAGES)
    assert "nowhere-model" in str(info.value)


def test_upstream_error_keeps_its_class(sdk, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/error_429_with_retry_after.json"))
    with pytest.raises(anthropic.RateLimitError) as info:
        sdk.messages.count_tokens(model="an/claude-count-limited", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "20"
