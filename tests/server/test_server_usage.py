"""Usage log rows, cost, /metrics and `switchyard usage` through a running gateway.

One gateway of its own (its data_dir in a temporary folder) against the shared mock upstreams.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml, gateway_yaml, usage_row
from mock_upstreams import Reply, fixture_bytes, fixture_reply
from prometheus_client.parser import text_string_to_metric_families

from switchyard.cli import usage_command

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
CHAT = {"model": "an/claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def gw(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("usage")
    gateway = Gateway(config_from_yaml(gateway_yaml(upstream_host), base_dir=base)).start()
    yield gateway
    gateway.stop()


def row(gw: Gateway, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """The usage row of one request."""
    return usage_row(gw, "request_id = ?", (request_id,), timeout)


def test_non_stream_row_is_priced_by_the_served_model(gw, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/response_prompt_caching_read.json"))
    resp = call(gw.url + "/v1/chat/completions", "POST", CHAT, AUTH)
    assert resp.status == 200
    rec = row(gw, resp.headers["x-request-id"])
    usage = orjson.loads(fixture_bytes("anthropic/response_prompt_caching_read.json"))["usage"]
    assert rec["client_protocol"] == "openai_chat" and rec["provider"] == "an"
    assert rec["model_requested"] == "an/claude-haiku-4-5" and rec["model_served"] == "claude-haiku-4-5"
    assert rec["input_tokens"] == usage["input_tokens"]
    assert rec["cache_read_tokens"] == usage["cache_read_input_tokens"]
    assert rec["output_tokens"] == usage["output_tokens"]
    assert rec["cost"] is not None and rec["cost"] > 0
    assert rec["status"] == 200 and rec["stream"] == 0 and rec["error"] is None
    assert rec["latency_ms"] >= rec["overhead_ms"] >= 0 and rec["key_id"].startswith("…")


def test_unknown_price_is_null_not_zero(gw, upstreams):
    upstreams["openai_chat"].queue(fixture_reply("openai_chat/response_plain_text.json"))
    body = {**CHAT, "model": "oc/some-model-nobody-prices"}
    resp = call(gw.url + "/v1/chat/completions", "POST", body, AUTH)
    assert resp.status == 200
    assert row(gw, resp.headers["x-request-id"])["cost"] is None


def test_stream_row_is_written_once_with_stream_usage(gw, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/stream_thinking.sse"))
    resp = call(gw.url + "/v1/chat/completions", "POST", {**CHAT, "stream": True}, AUTH)
    assert resp.status == 200 and b"[DONE]" in resp.body
    rec = row(gw, resp.headers["x-request-id"])
    assert rec["stream"] == 1 and rec["output_tokens"] > 0 and rec["input_tokens"] > 0
    assert rec["ttfb_ms"] is not None and rec["ttfb_ms"] <= rec["latency_ms"]


def test_failed_request_is_logged_with_its_status(gw, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/error_400_tool_result_without_tool_use.json"))
    resp = call(gw.url + "/v1/chat/completions", "POST", CHAT, AUTH)
    assert resp.status == 400
    rec = row(gw, resp.headers["x-request-id"])
    assert rec["status"] == 400 and rec["error"] == "invalid_request" and rec["output_tokens"] == 0


def read_stream_until(gw: Gateway, marker: bytes) -> str:
    """A streamed Chat request on a raw socket, closed as soon as ``marker`` arrives; its request id."""
    body = orjson.dumps({**CHAT, "model": "oc/gpt-4o-mini", "stream": True})
    host, port = gw.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {CLIENT_KEY}\r\n"
        head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body)
        data = b""
        while marker not in data:  # the headers come first
            data += sock.recv(4096)
    return data.split(b"x-request-id: ", 1)[1].split(b"\r\n", 1)[0].decode()


def test_client_disconnect_is_logged_once_as_incomplete(gw, upstreams):
    raw = fixture_bytes("openai_chat/stream_include_usage.sse")
    upstreams["openai_chat"].queue(Reply(body=raw, content_type="text/event-stream", chunk_size=64, delay=0.05))
    rec = row(gw, read_stream_until(gw, b"data:"))
    assert rec["error"] == "client_gone" and rec["stream"] == 1


def test_client_leaving_at_the_end_of_its_stream_is_not_gone(gw, upstreams):
    """SDKs close the connection at ``[DONE]``; the upstream here holds its own connection open
    after its last frame, so the gateway is still relaying when the client leaves."""
    raw = fixture_bytes("openai_chat/stream_include_usage.sse")
    upstreams["openai_chat"].queue(Reply(body=raw, content_type="text/event-stream", chunk_size=len(raw), hold_open=2))
    rec = row(gw, read_stream_until(gw, b"data: [DONE]"))
    assert rec["error"] is None and rec["stream"] == 1 and rec["output_tokens"] > 0


def test_metrics_count_requests_and_tokens(gw, upstreams):
    def families() -> dict[str, Any]:
        resp = call(gw.url + "/metrics", "GET", None, AUTH)
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/plain")
        return {f.name: f for f in text_string_to_metric_families(resp.body.decode())}

    def requests_ok(fams: dict[str, Any]) -> float:
        return sum(
            s.value
            for s in fams["switchyard_requests"].samples
            if s.name == "switchyard_requests_total" and s.labels["provider"] == "gm" and s.labels["status"] == "200"
        )

    before = requests_ok(families())
    for _ in range(3):
        upstreams["gemini"].queue(fixture_reply("gemini/response_plain_text.json"))
        assert (
            call(gw.url + "/v1/chat/completions", "POST", {**CHAT, "model": "gm/gemini-2.5-flash"}, AUTH).status == 200
        )
    deadline = time.monotonic() + 2
    while requests_ok(fams := families()) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert requests_ok(fams) == before + 3
    kinds = {s.labels["kind"] for s in fams["switchyard_tokens"].samples if s.labels.get("provider") == "gm"}
    assert {"input", "output"} <= kinds
    assert any(s.labels.get("provider") == "gm" for s in fams["switchyard_key_state"].samples)
    assert "switchyard_overhead_seconds" in fams and "switchyard_ttfb_seconds" in fams
    text = call(gw.url + "/metrics", "GET", None, AUTH).body.decode()
    assert "upstream-key" not in text  # masked ids only


def test_metrics_need_the_client_key(gw):
    assert call(gw.url + "/metrics", "GET").status == 401


def test_usage_cli_totals(gw, upstreams, capsys):
    upstreams["anthropic"].queue(fixture_reply("anthropic/response_plain_text.json"))
    resp = call(gw.url + "/v1/chat/completions", "POST", CHAT, AUTH)
    row(gw, resp.headers["x-request-id"])
    assert usage_command(gw.config, None, "model", True) == 0
    rows = orjson.loads(capsys.readouterr().out)
    haiku = next(r for r in rows if r["group"] == "claude-haiku-4-5")
    assert haiku["requests"] >= 1 and haiku["output_tokens"] > 0
    assert usage_command(gw.config, "1h", "provider", False) == 0
    table = capsys.readouterr().out
    assert "an" in table and "requests" in table.lower()
