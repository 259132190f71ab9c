"""Issue 13 item 14 — with tracing on, a failed upstream attempt writes an upstream-response
trace entry (redacted) as a successful one does: an error status with its body, a connection
that could not be made, an in-band error before any content. One entry per failed attempt."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gateway_harness import CLIENT_KEY, UPSTREAM_KEY, Gateway, call, config_from_yaml, gateway_yaml
from mock_upstreams import Reply, fixture_bytes, fixture_reply, sse_reply
from test_server_trace import complete_entries, read_trace

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
KEY = UPSTREAM_KEY["anthropic"]


@pytest.fixture(scope="module")
def traced(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    yaml = gateway_yaml(upstream_host) + "observability:\n  trace: true\n"
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("trace_failures"))).start()
    yield gateway
    gateway.stop()


@pytest.fixture(autouse=True)
def healthy_keys(traced) -> None:
    for pool in traced.app.pipeline.pools.values():
        for state in pool.keys:
            state.disabled, state.cool_until, state.transient_streak = None, 0.0, 0
            state.model_cool_until.clear()


def responses(entries: list[dict]) -> list[dict]:
    return [e["data"] for e in entries if e["stage"] == "upstream_response"]


def test_trace_records_a_failed_attempt_with_its_status_and_redacted_body(traced, upstreams):
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"busy for key ' + KEY.encode() + b'"}}'
    upstreams["anthropic"].queue(Reply(status=529, body=body), fixture_reply("anthropic/response_plain_text.json"))
    chat = {"model": "an/claude-x", "messages": [{"role": "user", "content": "hi"}]}
    resp = call(traced.url + "/v1/chat/completions", "POST", chat, AUTH)
    assert resp.status == 200  # the second attempt succeeded
    entries = read_trace(traced, resp.headers["x-request-id"])
    failed, ok = responses(entries)
    assert failed["status"] == 529 and failed["error"] == "overloaded"
    assert "busy for key" in failed["body"] and isinstance(failed["headers"], dict)
    assert isinstance(ok, str) and "content" in ok  # the successful one, as before
    text = traced.app.tracer.path_for(resp.headers["x-request-id"]).read_text()
    assert KEY not in text


def test_trace_records_an_upstream_that_cannot_be_reached(traced, upstreams):
    chat = {"model": "group-dead-first", "messages": [{"role": "user", "content": "hi"}]}
    resp = call(traced.url + "/v1/chat/completions", "POST", chat, AUTH)
    assert resp.status == 200 and resp.headers["x-switchyard-upstream"] == "backup/gpt-backup"
    failed = responses(read_trace(traced, resp.headers["x-request-id"]))[0]
    assert failed["status"] is None and failed["error"] == "unavailable" and "cannot reach" in failed["message"]


def test_trace_records_an_in_band_error_before_any_content(traced, upstreams):
    raw = fixture_bytes("anthropic/stream_error_overloaded.sse")
    start = raw.split(b"\n\n")[0] + b"\n\n"
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    upstreams["anthropic"].queue(sse_reply([start, error]))
    body = {"model": "group-inband", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    resp = call(traced.url + "/v1/chat/completions", "POST", body, AUTH)
    assert resp.status == 200
    failed = responses(read_trace(traced, resp.headers["x-request-id"]))[0]
    assert failed["status"] == 200 and failed["error"] == "overloaded"
    assert "message_start" in failed["body"] and "Overloaded" in failed["body"]


def test_every_failed_attempt_has_its_entry(traced, upstreams):
    busy = Reply(status=503, body=b'{"error":{"message":"upstream busy","type":"server_error"}}')
    upstreams["faulty"].queue(busy, busy, busy)
    chat = {"model": "faulty/gpt-down", "messages": [{"role": "user", "content": "hi"}]}
    resp = call(traced.url + "/v1/chat/completions", "POST", chat, AUTH)
    assert resp.status == 503
    path = traced.app.tracer.path_for(resp.headers["x-request-id"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        entries = complete_entries(path.read_bytes()) if path.exists() else []
        if len(responses(entries)) >= 3:
            break
        time.sleep(0.05)
    assert [e["status"] for e in responses(entries)] == [503, 503, 503]
    assert "sk-faulty-key" not in path.read_text()
