"""Upstream faults and client disconnects: fallback before the first byte, key rotation,
first-byte and stall timeouts, in-band errors after the stream started, and closing the
upstream within a second when the client goes away."""

from __future__ import annotations

import socket
import time

import orjson
import pytest
from gateway_harness import CLIENT_KEY, call
from mock_upstreams import Reply, fixture_bytes, fixture_reply, sse_reply
from upstream_views import view

from switchyard.core import SSEDecoder

GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
GKEY = {"x-goog-api-key": CLIENT_KEY}
OKEY = {"authorization": f"Bearer {CLIENT_KEY}"}
CHAT_BODY = {"model": "", "messages": [{"role": "user", "content": "hello"}]}


def frames(raw: bytes) -> list:
    dec = SSEDecoder()
    out = []
    for f in dec.feed(raw) + dec.flush():
        if f.comment is None and f.data and f.data != "[DONE]":
            out.append((f.event, orjson.loads(f.data)))
    return out


def gemini_frames(n: int, text: str = "word ") -> list[bytes]:
    """A long Gemini stream: n text chunks, then a finishing chunk."""
    chunk = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}], "responseId": "r1"}
    out = [b"data: " + orjson.dumps(chunk) + b"\r\n\r\n" for _ in range(n)]
    last = {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}]}
    return [*out, b"data: " + orjson.dumps(last) + b"\r\n\r\n"]


def chat(model: str, stream: bool = False) -> dict:
    return {**CHAT_BODY, "model": model, "stream": stream}


# ---------------------------------------------------------------------------- fallback and keys


def test_connection_refused_falls_back_to_the_next_target(gateway, upstreams):
    resp = call(gateway.url + "/v1/chat/completions", "POST", chat("group-dead-first"), OKEY)
    assert resp.status == 200, resp.body
    assert resp.headers["x-switchyard-upstream"] == "backup/gpt-backup"
    assert resp.body == fixture_bytes("openai_chat/response_plain_text.json")  # same protocol: relayed as is
    assert view("openai_chat", upstreams["backup"].last).model == "gpt-backup"


def test_5xx_on_every_key_falls_back_to_the_next_target(gateway, upstreams):
    overloaded = Reply(status=503, body=b'{"error":{"message":"busy","type":"server_error"}}')
    upstreams["faulty"].queue(overloaded, overloaded)
    resp = call(gateway.url + "/v1/chat/completions", "POST", chat("group-faulty-first"), OKEY)
    assert resp.status == 200
    assert resp.headers["x-switchyard-upstream"] == "backup/gpt-backup"
    keys = [r.headers["authorization"] for r in upstreams["faulty"].requests]
    assert sorted(keys) == ["Bearer sk-faulty-key-0001", "Bearer sk-faulty-key-0002"]


def test_rate_limited_key_moves_to_the_next_key(gateway, upstreams):
    upstreams["faulty"].queue(fixture_reply("openai_chat/error_429_rate_limit.json"))
    resp = call(gateway.url + "/v1/chat/completions", "POST", chat("faulty/rotating-model"), OKEY)
    assert resp.status == 200
    first, second = (r.headers["authorization"] for r in upstreams["faulty"].requests)
    assert first != second


def test_an_in_band_error_before_any_content_falls_back(gateway, upstreams):
    raw = fixture_bytes("anthropic/stream_error_overloaded.sse")
    start = raw.split(b"\n\n")[0] + b"\n\n"
    error = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    upstreams["anthropic"].queue(sse_reply([start, error]))
    body = {"model": "group-inband", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    resp = call(gateway.url + "/v1/messages", "POST", body, {"x-api-key": CLIENT_KEY})
    assert resp.status == 200
    assert resp.headers["x-switchyard-upstream"] == "backup/gpt-backup"
    names = [event for event, _ in frames(resp.body)]
    assert names[0] == "message_start" and names[-1] == "message_stop" and "error" not in names


def test_all_targets_failing_returns_the_last_error_in_the_client_shape(gateway, upstreams):
    busy = Reply(status=503, body=b'{"error":{"message":"upstream busy","type":"server_error"}}')
    upstreams["faulty"].queue(*[busy] * 6)
    resp = call(gateway.url + "/v1beta/models/faulty/gpt-down:generateContent", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 503
    assert resp.json["error"]["status"] == "UNAVAILABLE" and "upstream busy" in resp.json["error"]["message"]
    assert len(upstreams["faulty"].requests) == 3  # routing.retries = 2


# ---------------------------------------------------------------------------- timeouts


def test_first_byte_timeout_retries(gateway, upstreams):
    upstreams["gemini"].queue(Reply(wait_before_headers=4, body=fixture_bytes("gemini/response_plain_text.json")))
    started = time.monotonic()
    resp = call(gateway.url + "/v1beta/models/gm/slow-headers:streamGenerateContent?alt=sse", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 200
    assert 1.4 < time.monotonic() - started < 4
    assert len(upstreams["gemini"].requests) == 2


def test_a_stream_that_stays_silent_after_its_headers_times_out(gateway, upstreams):
    silent = Reply(body=b"", content_type="text/event-stream", chunk_size=1, hold_open=4)
    upstreams["gemini"].queue(silent, silent, silent)
    started = time.monotonic()
    resp = call(gateway.url + "/v1beta/models/gm/silent:streamGenerateContent?alt=sse", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 504
    assert resp.json["error"]["status"] == "DEADLINE_EXCEEDED"
    assert time.monotonic() - started < 8


def test_a_stall_after_the_first_byte_becomes_an_in_band_error(gateway, upstreams):
    upstreams["gemini"].queue(sse_reply(gemini_frames(2)[:2], chunk_size=10_000, hold_open=5))
    resp = call(gateway.url + "/v1beta/models/gm/stalls:streamGenerateContent?alt=sse", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 200
    got = frames(resp.body)
    assert [f[1]["candidates"][0]["content"]["parts"][0]["text"] for f in got[:2]] == ["word ", "word "]
    assert got[-1][1]["error"]["status"] == "DEADLINE_EXCEEDED"


def test_overhead_header_excludes_upstream_wait(gateway, upstreams):
    upstreams["gemini"].queue(Reply(wait_before_headers=0.6, body=fixture_bytes("gemini/response_plain_text.json")))
    resp = call(gateway.url + "/v1beta/models/gm/slowish:generateContent", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 200
    assert float(resp.headers["x-switchyard-overhead-ms"]) < 300


# ---------------------------------------------------------------------------- mid-stream errors


def test_upstream_in_band_error_is_relayed_on_the_fast_path(gateway, upstreams):
    upstreams["gemini"].queue(fixture_reply("gemini/stream_error_midstream.sse"))
    resp = call(gateway.url + "/v1beta/models/gm/breaks:streamGenerateContent?alt=sse", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 200
    assert resp.body == fixture_bytes("gemini/stream_error_midstream.sse")


def test_upstream_in_band_error_is_translated(gateway, upstreams):
    upstreams["openai_chat"].queue(fixture_reply("openai_chat/stream_error_midstream.sse"))
    resp = call(gateway.url + "/v1beta/models/oc/breaks:streamGenerateContent?alt=sse", "POST", GEMINI_BODY, GKEY)
    assert resp.status == 200
    got = frames(resp.body)
    assert got[0][1]["candidates"][0]["content"]["parts"][0]["text"] == "Partial"
    assert "error" in got[-1][1] and "server had an error" in got[-1][1]["error"]["message"]


def test_a_stream_cut_short_gets_an_in_band_error(gateway, upstreams):
    upstreams["gemini"].queue(sse_reply(gemini_frames(3)[:3]))  # no finishReason: truncated
    resp = call(gateway.url + "/v1beta/models/gm/cut:streamGenerateContent?alt=sse", "POST", GEMINI_BODY, GKEY)
    got = frames(resp.body)
    assert len(got) == 4 and "error" in got[-1][1]


def test_translated_streams_get_keep_alives_while_the_upstream_is_silent(gateway, upstreams):
    chunks = gemini_frames(2)
    upstreams["gemini"].queue(sse_reply(chunks, chunk_size=len(chunks[0]), delay=1.0))  # 1 s gaps
    body = {"model": "gm/quiet", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    resp = call(gateway.url + "/v1/messages", "POST", body, {"x-api-key": CLIENT_KEY})
    names = [event for event, _ in frames(resp.body)]
    assert names.count("ping") >= 2  # routing.heartbeat is 0.4 s in the test config
    assert names[-1] == "message_stop"


# ---------------------------------------------------------------------------- client disconnects


def open_stream(url: str, path: str, body: dict, headers: dict[str, str]) -> socket.socket:
    """Send a streaming request on a raw socket and return once the first body bytes arrived."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    raw = orjson.dumps(body)
    head = [f"POST {path} HTTP/1.1", f"host: {host}", "content-type: application/json", f"content-length: {len(raw)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + raw)
    received = b""
    while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < 20:
        chunk = sock.recv(4096)
        assert chunk, "the gateway closed the stream early"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    return sock


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1beta/models/gm/slow:streamGenerateContent?alt=sse", GEMINI_BODY, GKEY),  # fast path
        ("/v1/chat/completions", {**chat("gm/slow", True)}, OKEY),  # translated
        (
            "/v1/messages",
            {"model": "gm/slow", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            {"x-api-key": CLIENT_KEY},
        ),
    ],
    ids=["gemini-fast-path", "chat-translated", "anthropic-translated"],
)
def test_client_disconnect_closes_the_upstream_within_a_second(gateway, upstreams, path, body, headers):
    upstreams["gemini"].queue(sse_reply(gemini_frames(100), chunk_size=200, delay=0.1))
    sock = open_stream(gateway.url, path, body, headers)
    sock.close()
    closed = time.monotonic()
    deadline = closed + 3
    while not upstreams["gemini"].disconnects and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstreams["gemini"].disconnects, "the upstream connection was never closed"
    assert upstreams["gemini"].disconnects[0] - closed < 1.0
    assert not upstreams["gemini"].completed
