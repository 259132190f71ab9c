"""Issue 13 item 10 — an upstream that echoes the key leaks it.

Upstreams repeat the key in their error texts ("Incorrect API key provided: sk-…", "Rate limit
reached for key …"). A key-echoing mock upstream answers every error status, in every upstream
protocol, to every client protocol, streamed or not (and in-band, mid-stream, on the fast path and
translated); every byte the client receives — status line, headers, body — is scanned for the
configured credentials and for a foreign key-shaped token. The log lines of the gateway are
scanned too.
"""

from __future__ import annotations

import http.client
import logging

import orjson
import pytest
from gateway_harness import CLIENT_KEY, PROTOCOLS, PROVIDER, UPSTREAM_KEY, reset_keys
from mock_upstreams import Reply, fixture_bytes, sse_reply

from switchyard.observability.redact import REDACTED, SecretMask

FOREIGN = "sk-proj-ForeignKeyLooking0123456789abcdef"  # not configured: masked by its shape
STATUSES = (400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529)
GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}  # fmt: skip
AUTH = {
    "openai_chat": {"authorization": f"Bearer {CLIENT_KEY}"},
    "openai_responses": {"authorization": f"Bearer {CLIENT_KEY}"},
    "anthropic": {"x-api-key": CLIENT_KEY},
    "gemini": {"x-goog-api-key": CLIENT_KEY},
}
SECRETS = [*UPSTREAM_KEY.values(), FOREIGN]


def echo_text(key: str) -> str:
    return (
        f"Incorrect API key provided: {key}. Rate limit reached for key {key}; "
        f"sent Authorization: Bearer {key} and x-api-key: {key}; also saw {FOREIGN}"
    )


def error_body(protocol: str, status: int, key: str) -> bytes:
    text = echo_text(key)
    if protocol == "anthropic":
        return orjson.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": text}})
    if protocol == "gemini":
        detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": key, "metadata": {"key": key}}
        return orjson.dumps(
            {"error": {"code": status, "message": text, "status": GEMINI_STATUS.get(status, "UNKNOWN"),
                       "details": [detail, {"@type": "type.googleapis.com/google.rpc.Help", "description": text}]}}
        )  # fmt: skip
    return orjson.dumps({"error": {"message": text, "type": "invalid_request_error", "param": key, "code": key}})


def midstream(protocol: str, key: str) -> bytes:
    """A stream that sends content, then an in-band error echoing the key."""
    text = echo_text(key)
    if protocol == "openai_chat":
        raw = fixture_bytes("openai_chat/stream_error_midstream.sse")
        return raw.replace(b"The server had an error while processing your request. Sorry about that!", text.encode())
    if protocol == "gemini":
        raw = fixture_bytes("gemini/stream_error_midstream.sse")
        return raw.replace(b"The model is overloaded. Please try again later.", text.encode())
    if protocol == "anthropic":
        raw = fixture_bytes("anthropic/stream_error_overloaded.sse")
        return raw.replace(b'"message":"Overloaded"', b'"message":' + orjson.dumps(text))
    frames = fixture_bytes("openai_responses/stream_plain_text.sse").split(b"\n\n")
    first_delta = next(i for i, f in enumerate(frames) if b"response.output_text.delta" in f)
    error = {"type": "error", "sequence_number": 90, "error": {"type": "server_error", "code": key, "message": text}}
    failed = {"type": "response.failed", "sequence_number": 91,
              "response": {"id": "resp_echo", "object": "response", "status": "failed", "output": [],
                           "error": {"code": "server_error", "message": text}}}  # fmt: skip
    tail = [b"event: error\ndata: " + orjson.dumps(error), b"event: response.failed\ndata: " + orjson.dumps(failed)]
    return b"\n\n".join([*frames[: first_delta + 1], *tail]) + b"\n\n"


def request(client: str, model: str, stream: bool) -> tuple[str, dict]:
    if client == "openai_chat":
        return "/v1/chat/completions", {
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        }
    if client == "openai_responses":
        return "/v1/responses", {"model": model, "stream": stream, "input": "hi", "store": False}
    if client == "anthropic":
        body = {"model": model, "stream": stream, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
        return "/v1/messages", body
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{verb}", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def raw_exchange(url: str, path: str, body: dict, headers: dict[str, str]) -> tuple[int, bytes]:
    """Every byte of the answer: status line, headers and body."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.request("POST", path, body=orjson.dumps(body), headers={"content-type": "application/json", **headers})
        resp = conn.getresponse()
        head = f"HTTP/1.1 {resp.status} {resp.reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in resp.getheaders())
        return resp.status, head.encode() + b"\r\n" + resp.read()
    finally:
        conn.close()


def assert_no_secret(raw: bytes, what: str) -> None:
    for secret in SECRETS:
        assert secret.encode() not in raw, f"{what}: {secret} leaked:\n{raw.decode('utf-8', 'replace')}"


@pytest.mark.parametrize("upstream", PROTOCOLS)
@pytest.mark.parametrize("client", PROTOCOLS)
def test_upstream_echoing_the_key_in_errors_never_leaks_it(gateway, upstreams, client, upstream, caplog):
    caplog.set_level(logging.DEBUG, logger="switchyard")
    key = UPSTREAM_KEY[upstream]
    mock = upstreams[upstream]
    for stream in (False, True):
        for status in STATUSES:
            reply = Reply(status=status, body=error_body(upstream, status, key), headers={"retry-after": "0"})
            mock.queue(*[reply] * 3)  # every attempt (routing.retries = 2) gets the echo
            path, body = request(client, f"{PROVIDER[upstream]}/echo-{status}", stream)
            got, raw = raw_exchange(gateway.url, path, body, AUTH[client])
            what = f"{client} <- {upstream} {status} stream={stream}"
            assert got >= 400, what
            assert_no_secret(raw, what)
            assert REDACTED.encode() in raw, what  # the message is kept, only the key is masked
            mock.replies.clear()
            reset_keys(gateway)
        # a 200 whose body is an error object (some OpenAI-compatible servers do that)
        if not stream and upstream != "gemini":
            mock.queue(*[Reply(body=error_body(upstream, 500, key))] * 3)
            path, body = request(client, f"{PROVIDER[upstream]}/echo-200", stream)
            got, raw = raw_exchange(gateway.url, path, body, AUTH[client])
            assert_no_secret(raw, f"{client} <- {upstream} in-band 200")
            mock.replies.clear()
            reset_keys(gateway)
    # in-band, after the stream started: relayed as is (fast path) or translated
    mock.queue(sse_reply([midstream(upstream, key)]))
    path, body = request(client, f"{PROVIDER[upstream]}/echo-midstream", True)
    got, raw = raw_exchange(gateway.url, path, body, AUTH[client])
    assert got == 200
    assert_no_secret(raw, f"{client} <- {upstream} mid-stream")
    assert REDACTED.encode() in raw
    assert_no_secret(caplog.text.encode(), "the gateway's log")


@pytest.mark.parametrize("upstream", PROTOCOLS)
def test_upstream_echoing_the_key_mid_stream_cut_across_chunks(gateway, upstreams, upstream):
    """The fast path relays bytes as they come: a key cut across two upstream writes is still masked."""
    key = UPSTREAM_KEY[upstream]
    raw = midstream(upstream, key)
    upstreams[upstream].queue(Reply(body=raw, content_type="text/event-stream", chunk_size=7, delay=0.001))
    path, body = request(upstream, f"{PROVIDER[upstream]}/echo-chunks", True)
    got, answer = raw_exchange(gateway.url, path, body, AUTH[upstream])
    assert got == 200
    assert_no_secret(answer, f"{upstream} fast path, 7-byte chunks")


def test_secret_mask_holds_back_only_a_possible_key_start():
    mask = SecretMask(["sk-oc-upstream-key-0001"])
    chunks = mask.stream()
    assert chunks.feed(b"data: hello\n\n") == b"data: hello\n\n"  # nothing held at a frame end
    out = chunks.feed(b"data: key sk-oc-up")
    assert out == b"data: key "
    out += chunks.feed(b"stream-key-0001 end\n\n") + chunks.flush()
    assert out == b"data: key [REDACTED] end\n\n"
    chunks = mask.stream()
    out = chunks.feed(b"data: sk-oc-") + chunks.feed(b"other\n\n") + chunks.flush()
    assert out == b"data: sk-oc-other\n\n"  # not the key: given back unchanged
