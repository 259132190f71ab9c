"""``POST /v1/messages/count_tokens`` (the Anthropic SDK's ``messages.count_tokens``) and Gemini
``:countTokens`` (google-genai's ``models.count_tokens``) against an upstream of every protocol:
its own counting endpoint where the protocol has one, the local count where not (tiktoken for an
OpenAI Chat target), and the ``x-switchyard-token-count`` header saying which."""

from __future__ import annotations

import anthropic
import orjson
import pytest
from gateway_harness import CLIENT_KEY, UPSTREAM_KEY, call
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from mock_upstreams import Reply, fixture_reply

from tokenizer_support import tiktoken_count

MESSAGES = [{"role": "user", "content": "How many tokens is this sentence?"}]
SYSTEM = "You count."
TOOLS = [{"name": "lookup", "description": "look up", "input_schema": {"type": "object", "properties": {}}}]


HEADER = "x-switchyard-token-count"
GEMINI_COUNT = {"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 31}]}
# upstream protocol: (model, its count endpoint's answer, the count, the path it is asked on)
OWN_ENDPOINT = {
    "anthropic": ("an/claude-count", "anthropic/response_count_tokens.json", 14, "/v1/messages/count_tokens"),
    "gemini": ("gm/gemini-count", None, 31, "/v1beta/models/gemini-count:countTokens"),
    "openai_responses": (
        "or/gpt-count",
        "openai_responses/response_input_tokens.json",
        12,
        "/v1/responses/input_tokens",
    ),
}


@pytest.fixture
def sdk(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0)


@pytest.fixture
def gsdk(gateway) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=gateway.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=CLIENT_KEY, http_options=options)


def queue_count(upstreams, protocol: str) -> None:
    fixture = OWN_ENDPOINT[protocol][1]
    upstreams[protocol].queue(fixture_reply(fixture) if fixture else Reply(body=orjson.dumps(GEMINI_COUNT)))


def no_upstream_called(upstreams) -> bool:
    return all(not upstream.requests for upstream in upstreams.values())


@pytest.mark.parametrize("protocol", sorted(OWN_ENDPOINT))
def test_anthropic_sdk_counts_with_the_upstreams_own_endpoint(sdk, upstreams, protocol):
    model, _, expected, path = OWN_ENDPOINT[protocol]
    queue_count(upstreams, protocol)
    raw = sdk.messages.with_raw_response.count_tokens(model=model, messages=MESSAGES, system=SYSTEM)
    assert raw.parse().input_tokens == expected
    assert raw.headers[HEADER] == "upstream"
    assert upstreams[protocol].last.path == path


@pytest.mark.parametrize("protocol", sorted(OWN_ENDPOINT))
def test_gemini_sdk_counts_with_the_upstreams_own_endpoint(gsdk, upstreams, protocol):
    model, _, expected, path = OWN_ENDPOINT[protocol]
    queue_count(upstreams, protocol)
    result = gsdk.models.count_tokens(model=model, contents=MESSAGES[0]["content"])
    assert result.total_tokens == expected
    assert result.sdk_http_response.headers[HEADER] == "upstream"
    rec = upstreams[protocol].last
    assert rec.path == path
    assert MESSAGES[0]["content"] in rec.body.decode()
    if protocol == "anthropic":
        assert rec.json == {"model": "claude-count", "messages": MESSAGES}  # built, without max_tokens


def test_gemini_answer_is_relayed_to_a_gemini_client(gateway, upstreams):
    """``generateContentRequest`` in the body; a Gemini upstream's whole answer comes back."""
    upstreams["gemini"].queue(Reply(body=orjson.dumps(GEMINI_COUNT)))
    body = {
        "generateContentRequest": {
            "model": "models/gm/gemini-count",
            "contents": [{"role": "user", "parts": [{"text": MESSAGES[0]["content"]}]}],
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
        }
    }
    headers = {"x-goog-api-key": CLIENT_KEY}
    resp = call(gateway.url + "/v1beta/models/gm/gemini-count:countTokens", "POST", body, headers)
    assert resp.status == 200 and resp.json == GEMINI_COUNT
    sent = upstreams["gemini"].last.json["generateContentRequest"]
    assert sent["model"] == "models/gemini-count"
    assert sent["systemInstruction"]["parts"][0]["text"] == SYSTEM


def test_chat_upstream_is_counted_with_tiktoken(sdk, gsdk, upstreams):
    """No counting endpoint in the Chat protocol: the gateway counts, with the model family's
    encoding (o200k_base for gpt-4o), without calling the upstream."""
    text = MESSAGES[0]["content"]
    raw = sdk.messages.with_raw_response.count_tokens(model="oc/gpt-4o-count", messages=MESSAGES, system=SYSTEM)
    framing = 3 * 2 + 3  # two messages (the system prompt and the user's), and the reply's priming
    assert (
        raw.parse().input_tokens == tiktoken_count("o200k_base", SYSTEM) + tiktoken_count("o200k_base", text) + framing
    )
    assert raw.headers[HEADER] == "tokenizer"
    result = gsdk.models.count_tokens(model="oc/gpt-3.5-count", contents=text)
    assert result.total_tokens == tiktoken_count("cl100k_base", text) + 3 + 3
    assert result.sdk_http_response.headers[HEADER] == "tokenizer"
    assert no_upstream_called(upstreams)


def test_mock_counts_itself(sdk, gsdk, upstreams):
    raw = sdk.messages.with_raw_response.count_tokens(model="mock-1", messages=MESSAGES, system=SYSTEM)
    assert raw.parse().input_tokens == 8  # the mock counts words
    assert raw.headers[HEADER] == "upstream"
    result = gsdk.models.count_tokens(model="mock-1", contents=MESSAGES[0]["content"])
    assert result.total_tokens == 6 and result.sdk_http_response.headers[HEADER] == "upstream"
    assert no_upstream_called(upstreams)


def test_gemini_client_errors_in_its_shape(gsdk, upstreams):
    with pytest.raises(genai_errors.ClientError) as unknown:
        gsdk.models.count_tokens(model="nowhere-model", contents="hi")
    assert unknown.value.code == 404 and "nowhere-model" in str(unknown.value)
    upstreams["anthropic"].queue(fixture_reply("anthropic/error_429_with_retry_after.json"))
    with pytest.raises(genai_errors.ClientError) as limited:
        gsdk.models.count_tokens(model="an/claude-count-limited-gemini", contents="hi")
    assert limited.value.code == 429


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


def test_unknown_model_is_an_anthropic_404(sdk, upstreams):
    with pytest.raises(anthropic.NotFoundError) as info:
        sdk.messages.count_tokens(model="nowhere-model", messages=MESSAGES)
    assert "nowhere-model" in str(info.value)


def test_upstream_error_keeps_its_class(sdk, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/error_429_with_retry_after.json"))
    with pytest.raises(anthropic.RateLimitError) as info:
        sdk.messages.count_tokens(model="an/claude-count-limited", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "20"
