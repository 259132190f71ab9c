"""Automatic prompt caching through a real gateway: what the Anthropic mock upstream received,
the ``x-switchyard-cache-origin`` header and the usage log's ``cache_origin``.

Claude Code's own requests (they carry their own markers) go upstream untouched, byte for byte;
the four official SDKs' requests (no markers) get the gateway's where they pay off, and none when
the prompt is short; a cache read the upstream reports on a request nobody marked stays ``none``;
with prompt caching off, the same-protocol fast path forwards the client's bytes."""

from __future__ import annotations

import orjson
import pytest
from gateway_harness import CLIENT_KEY, PROTOCOLS, HTTPResult, call, usage_row
from mock_upstreams import Reply, fixture_bytes
from pc_helpers import CAPTURES, capture, markers, stripped, words
from sdk_clients import ToolSpec, client

AUTH = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
ORIGIN = "x-switchyard-cache-origin"
SEARCH = ToolSpec(
    "search_docs",
    words(1100, "search"),  # long enough that the tools alone are worth caching
    {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)
SYSTEM = words(300, "system")  # long enough after the tools
LONG_SYSTEM = words(1300, "system")  # long enough alone


def post(gateway, body: dict | bytes) -> HTTPResult:
    """A Messages request (a dict gets ``max_tokens: 64`` unless it has one)."""
    raw = body if isinstance(body, bytes) else orjson.dumps({"max_tokens": 64, **body})
    return call(gateway.url + "/v1/messages", "POST", raw, AUTH)


def logged(gateway, resp: HTTPResult) -> dict:
    """The usage-log row of the request answered with ``resp``."""
    return usage_row(gateway, "request_id = ?", (resp.headers["x-request-id"],))


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: "/".join(p.split("/")[-2:]))
def test_claude_code_requests_go_upstream_untouched(gateway, upstream, path):
    body = capture(path)
    model = body["model"]
    resp = post(gateway, orjson.dumps({**body, "model": f"an/{model}"}))
    assert resp.status == 200
    assert resp.headers[ORIGIN] == "client"
    assert upstream.last.body == orjson.dumps(body)  # byte for byte, the model as the client named it
    assert logged(gateway, resp)["cache_origin"] == "client"


def test_claude_code_request_without_markers_gets_the_gateways(gateway, upstream):
    body = stripped(capture(CAPTURES[-1]))  # the tool round trip: two user turns
    assert body["stream"] is True
    resp = post(gateway, {**body, "model": "an/claude-opus-4-8"})
    assert resp.status == 200 and b"message_stop" in resp.body
    assert resp.headers[ORIGIN] == "gateway"
    sent = upstream.last.json
    last = len(body["messages"]) - 1
    assert markers(sent) == [
        ("tools", len(body["tools"]) - 1, None),
        ("system", len(body["system"]) - 1, None),
        ("messages", 0, len(body["messages"][0]["content"]) - 1, None),
        ("messages", last, len(body["messages"][last]["content"]) - 1, None),
    ]
    assert stripped(sent) == {**body, "model": "claude-opus-4-8"}
    assert logged(gateway, resp)["cache_origin"] == "gateway"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_requests_get_breakpoints_where_they_pay_off(gateway, upstream, protocol, stream):
    model = f"claude-sonnet-4-5-{protocol}-{stream}"
    sdk = client(protocol, gateway.url)
    result = sdk.ask(f"an/{model}", "Find the refund policy.", stream=stream, system=SYSTEM, tools=[SEARCH])
    assert result.text
    sent = upstream.last.json
    last = sent["messages"][-1]
    assert last["role"] == "user"
    assert markers(sent) == [
        ("tools", len(sent["tools"]) - 1, None),
        ("system", len(sent["system"]) - 1, None),
        ("messages", len(sent["messages"]) - 1, len(last["content"]) - 1, None),
    ]
    assert usage_row(gateway, "model_served = ?", (model,))["cache_origin"] == "gateway"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_short_sdk_requests_get_none(gateway, upstream, protocol):
    model = f"claude-sonnet-4-5-short-{protocol}"
    result = client(protocol, gateway.url).ask(f"an/{model}", "Say hi.", system="Be brief.")
    assert result.text
    assert b"cache_control" not in upstream.last.body
    assert usage_row(gateway, "model_served = ?", (model,))["cache_origin"] == "none"


def _with_cache_read(name: str, old: bytes, new: bytes) -> bytes:
    raw = fixture_bytes(name)
    assert old in raw
    return raw.replace(old, new)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_cache_read_nobody_seeded_is_not_the_gateways(gateway, upstream, stream):
    """The over-claim negative: the upstream reports a cache read on a request without markers
    (caching neither side placed); the row has the read, and its origin stays none."""
    if stream:
        reply = Reply(
            body=_with_cache_read(
                "anthropic/stream_plain_text.sse",
                b'"usage":{"input_tokens":11,',
                b'"usage":{"input_tokens":11,"cache_read_input_tokens":2048,',
            ),
            content_type="text/event-stream",
        )
    else:
        reply = Reply(
            body=_with_cache_read(
                "anthropic/response_plain_text.json",
                b'"cache_read_input_tokens": 0',
                b'"cache_read_input_tokens": 2048',
            )
        )
    upstream.queue(reply)
    resp = post(gateway, {"model": "an/claude-sonnet-4-5", "messages": user("Hi"), "stream": stream})
    assert resp.status == 200
    assert resp.headers[ORIGIN] == "none"
    assert b"cache_control" not in upstream.last.body
    entry = logged(gateway, resp)
    assert entry["cache_read_tokens"] == 2048
    assert entry["cache_origin"] == "none"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fast_path_is_byte_identical_when_off(gateway, upstream, stream):
    flag = b"true" if stream else b"false"
    raw = (
        b'{ "model" : "plain/claude-sonnet-4-5",\n  "max_tokens":64,  "stream": ' + flag + b",\n"
        b'  "system": "' + LONG_SYSTEM.encode() + b'",\n'
        b'  "messages": [ {"role": "user",   "content": "Hi \\u00e9"} ] }'
    )
    resp = post(gateway, raw)
    assert resp.status == 200
    assert resp.headers[ORIGIN] == "none"
    assert upstream.last.body == raw.replace(b'"plain/claude', b'"claude')
    assert logged(gateway, resp)["cache_origin"] == "none"

    # the same bytes to a provider with prompt caching on: rebuilt, with the gateway's markers
    resp = post(gateway, raw.replace(b'"plain/', b'"an/'))
    assert resp.headers[ORIGIN] == "gateway"
    assert markers(upstream.last.json) == [("system", 0, None), ("messages", 0, 0, None)]


def test_an_alias_setting_wins_over_its_providers(gateway, upstream):
    long = {"system": LONG_SYSTEM, "messages": user("Hi")}
    resp = post(gateway, {**long, "model": "cached"})  # alias auto, provider plain (off)
    assert resp.headers[ORIGIN] == "gateway"
    assert markers(upstream.last.json) == [("system", 0, None), ("messages", 0, 0, None)]
    resp = post(gateway, {**long, "model": "uncached"})  # alias off, provider an (auto)
    assert resp.headers[ORIGIN] == "none"
    assert b"cache_control" not in upstream.last.body


def test_one_hour_ttl_for_the_stable_prefix(gateway, upstream):
    tool = {"name": SEARCH.name, "description": SEARCH.description, "input_schema": SEARCH.schema}
    body = {
        "model": "an1h/claude-sonnet-4-5",
        "tools": [tool],
        "system": SYSTEM,
        "messages": user("Hi"),
        "stream": True,
    }
    resp = post(gateway, body)
    assert resp.status == 200
    assert markers(upstream.last.json) == [("tools", 0, "1h"), ("system", 0, "1h"), ("messages", 0, 0, None)]
