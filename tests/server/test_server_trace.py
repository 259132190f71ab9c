"""The transform trace (opt-in, redacted) and the stream invariants, checked by a frame observer:
every chunk that reaches the client is observed exactly once, in order; on the same-protocol path the
client receives exactly the upstream's bytes (nothing synthesised); the usage row of a stream is
written once (see test_server_usage.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from gateway_harness import CLIENT_KEY, PROTOCOLS, PROVIDER, UPSTREAM_KEY, Gateway, call, config_from_yaml, gateway_yaml
from mock_upstreams import fixture_bytes, fixture_reply

STREAMS = {p: f"{p}/stream_plain_text.sse" for p in PROTOCOLS}
AUTH = {
    "openai_chat": {"authorization": f"Bearer {CLIENT_KEY}"},
    "openai_responses": {"authorization": f"Bearer {CLIENT_KEY}"},
    "anthropic": {"x-api-key": CLIENT_KEY},
    "gemini": {"x-goog-api-key": CLIENT_KEY},
}


def stream_request(protocol: str, model: str) -> tuple[str, dict]:
    if protocol == "openai_chat":
        return "/v1/chat/completions", {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    if protocol == "openai_responses":
        return "/v1/responses", {"model": model, "stream": True, "input": "hi", "store": False}
    if protocol == "anthropic":
        return "/v1/messages", {
            "model": model,
            "stream": True,
            "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}],
        }
    return f"/v1beta/models/{model}:streamGenerateContent?alt=sse", {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }


@pytest.fixture(scope="module")
def traced(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("trace")
    yaml = gateway_yaml(upstream_host) + "observability:\n  trace: true\n"
    gateway = Gateway(config_from_yaml(yaml, base_dir=base)).start()
    yield gateway
    gateway.stop()


def complete_entries(data: bytes) -> list[dict]:
    """The trace entries whose line is complete (the writer may be in the middle of the next)."""
    return [orjson.loads(line) for line in data.split(b"\n")[:-1] if line]


def read_trace(gw: Gateway, request_id: str) -> list[dict]:
    path = gw.app.tracer.path_for(request_id)
    deadline = time.monotonic() + 5
    entries: list[dict] = []
    while time.monotonic() < deadline:
        if path.exists():
            entries = complete_entries(path.read_bytes())
            if any(e["stage"] == "client_frame" or e["stage"] == "client_response" for e in entries):
                return entries
        time.sleep(0.05)
    raise AssertionError(f"no complete trace at {path}: {entries}")


@pytest.mark.parametrize("stream", [False, True])
def test_trace_records_each_pass_without_secrets(traced, upstreams, stream):
    upstreams["anthropic"].queue(
        fixture_reply("anthropic/stream_tool_use.sse" if stream else "anthropic/response_tool_call.json")
    )
    body = {"model": "an/claude-x", "stream": stream, "messages": [{"role": "user", "content": "weather?"}]}
    resp = call(traced.url + "/v1/chat/completions", "POST", body, AUTH["openai_chat"])
    assert resp.status == 200
    entries = read_trace(traced, resp.headers["x-request-id"])
    stages = [e["stage"] for e in entries]
    expected = ["client_request", "neutral_request", "upstream_request"]
    expected += ["upstream_frame", "client_frame"] if stream else ["upstream_response", "client_response"]
    assert all(s in stages for s in expected), stages
    text = traced.app.tracer.path_for(resp.headers["x-request-id"]).read_text()
    assert UPSTREAM_KEY["anthropic"] not in text and CLIENT_KEY not in text
    upstream = next(e for e in entries if e["stage"] == "upstream_request")
    assert "claude-x" in upstream["data"]["body"]


def test_trace_is_off_by_default(gateway, upstreams):
    assert gateway.app.tracer.enabled is False


@pytest.mark.parametrize("client", PROTOCOLS)
@pytest.mark.parametrize("upstream", PROTOCOLS)
def test_every_frame_is_observed_once_in_order(gateway, upstreams, client, upstream):
    seen: list[tuple[str, bytes]] = []

    def observer(ctx, chunk: bytes) -> None:
        seen.append((ctx.id, chunk))

    gateway.app.frame_observers.append(observer)
    try:
        upstreams[upstream].queue(fixture_reply(STREAMS[upstream]))
        path, body = stream_request(client, f"{PROVIDER[upstream]}/some-model")
        resp = call(gateway.url + path, "POST", body, AUTH[client])
    finally:
        gateway.app.frame_observers.remove(observer)
    assert resp.status == 200
    mine = [chunk for request_id, chunk in seen if request_id == resp.headers["x-request-id"]]
    assert b"".join(mine) == resp.body  # exactly once each, in order
    if client == upstream:  # the same-protocol path synthesises nothing: the upstream's bytes, as they were
        assert resp.body == fixture_bytes(STREAMS[upstream])
