"""Issue 13 item 12 — error shape and status slips.

- ``POST /v1/models/:generateContent`` (an empty model) is a 404 in Gemini's shape, as every
  path of Gemini's API family (``/v1/models/{model}:<method>``) is.
- An oversize body on a Gemini endpoint is a 413 (as on the OpenAI and Anthropic endpoints), not
  a 400 INVALID_ARGUMENT.
- On the same-protocol fast path the fields the gateway reads itself (``model``, ``stream``,
  ``stream_options``) are checked: a wrong type is a 400 in the client's shape, and nothing goes
  upstream (``"stream": "x"`` was read as false by the gateway and as true by the upstream, and
  the client got a 500 "upstream answered with a body that is not JSON").
"""

from __future__ import annotations

import orjson
import pytest
from gateway_harness import CLIENT_KEY, MAX_BODY_MB, call
from test_server_errors import error_message, post_without_waiting

GKEY = {"x-goog-api-key": CLIENT_KEY}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/:generateContent",
        "/v1/models/:streamGenerateContent?alt=sse",
        "/v1beta/models/:generateContent",
        "/v1/models/gm/x:noSuchMethod",
    ],
)
def test_empty_model_on_a_gemini_path_is_a_gemini_shaped_404(gateway, upstreams, path):
    resp = call(gateway.url + path, "POST", GEMINI_BODY, GKEY)
    assert resp.status == 404
    error = resp.json["error"]
    assert error["code"] == 404 and error["status"] == "NOT_FOUND" and error["message"], resp.json


@pytest.mark.parametrize(
    "path",
    [
        "/v1beta/models/mock-1:generateContent",
        "/v1beta/models/mock-1:streamGenerateContent?alt=sse",
        "/v1/models/mock-1:generateContent",
    ],
)
def test_oversize_body_on_a_gemini_endpoint_is_a_413(gateway, upstreams, path):
    big = orjson.dumps({**GEMINI_BODY, "padding": "x" * (MAX_BODY_MB * 1024 * 1024 + 10)})
    status, answer = post_without_waiting(gateway.url + path, big, GKEY)
    assert status == 413
    body = orjson.loads(answer)
    assert body["error"]["code"] == 413 and "larger than the limit" in error_message("gemini", 413, body)


FAST = {
    "openai_chat": ("/v1/chat/completions", "oc/fast", {"messages": [{"role": "user", "content": "hi"}]}),
    "openai_responses": ("/v1/responses", "or/fast", {"input": "hi", "store": False}),
    "anthropic": ("/v1/messages", "an/fast", {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}),
}
AUTH = {"authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY}
BAD = [
    ("stream", {"stream": "x"}),
    ("stream", {"stream": 1}),
    ("stream", {"stream": {"on": True}}),
    ("stream_options", {"stream": True, "stream_options": "x"}),
    ("stream_options", {"stream": True, "stream_options": ["include_usage"]}),
    ("stream_options.include_usage", {"stream": True, "stream_options": {"include_usage": "yes"}}),
    ("model", {"model": 42}),
    ("model", {"model": ["oc/fast"]}),
]


@pytest.mark.parametrize(("field", "change"), BAD, ids=[f"{f}={list(c.values())[-1]!r}" for f, c in BAD])
@pytest.mark.parametrize("protocol", list(FAST))
def test_fast_path_refuses_mistyped_framing_fields(gateway, upstreams, protocol, field, change):
    if field.startswith("stream_options") and protocol == "anthropic":
        pytest.skip("Anthropic Messages has no stream_options")
    path, model, body = FAST[protocol]
    resp = call(gateway.url + path, "POST", {"model": model, **body, **change}, AUTH)
    assert resp.status == 400, resp.body
    assert field.split(".")[0] in error_message(protocol, 400, resp.json)
    assert not upstreams[protocol].requests  # refused before anything went upstream


@pytest.mark.parametrize("protocol", list(FAST))
def test_fast_path_accepts_null_framing_fields(gateway, upstreams, protocol):
    path, model, body = FAST[protocol]
    extra = {"stream": None} | ({"stream_options": None} if protocol != "anthropic" else {})
    resp = call(gateway.url + path, "POST", {"model": model, **body, **extra}, AUTH)
    assert resp.status == 200, resp.body
