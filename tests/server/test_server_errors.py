"""Bad input per client protocol: invalid JSON, missing and mistyped fields, unknown and
ambiguous models, oversize bodies, missing or wrong keys — each answered with the right status
in the client protocol's own error shape, with a message that names the problem."""

from __future__ import annotations

import contextlib
import http.client
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from gateway_harness import CLIENT_KEY, MAX_BODY_MB, PROTOCOLS, call


@dataclass(frozen=True)
class Endpoint:
    protocol: str
    path: str  # {model} is filled in
    valid: dict[str, Any]
    missing: tuple[str, dict[str, Any]]  # (field name, body without it)
    mistyped: tuple[str, dict[str, Any]]  # (field name, body with a wrong JSON type)
    model_in_path: bool = False

    def url(self, base: str, model: str = "mock-1") -> str:
        return base + self.path.format(model=model)

    def body(self, model: str = "mock-1", **changes: Any) -> dict[str, Any]:
        body = dict(self.valid)
        if not self.model_in_path:
            body["model"] = model
        body.update(changes)
        return body


ENDPOINTS = {
    "openai_chat": Endpoint(
        "openai_chat",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}]},
        ("messages", {}),
        ("messages", {"messages": "hi"}),
    ),
    "openai_responses": Endpoint(
        "openai_responses",
        "/v1/responses",
        {"input": "hi"},
        ("input", {}),
        ("input", {"input": 5}),
    ),
    "anthropic": Endpoint(
        "anthropic",
        "/v1/messages",
        {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        ("max_tokens", {"messages": [{"role": "user", "content": "hi"}]}),
        ("max_tokens", {"max_tokens": "fifty", "messages": [{"role": "user", "content": "hi"}]}),
    ),
    "gemini": Endpoint(
        "gemini",
        "/v1beta/models/{model}:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        ("contents", {}),
        ("contents", {"contents": "hi"}),
        model_in_path=True,
    ),
}
AUTH = {
    "openai_chat": {"authorization": f"Bearer {CLIENT_KEY}"},
    "openai_responses": {"authorization": f"Bearer {CLIENT_KEY}"},
    "anthropic": {"x-api-key": CLIENT_KEY},
    "gemini": {"x-goog-api-key": CLIENT_KEY},
}


def error_message(protocol: str, status: int, body: Any) -> str:
    """Check ``body`` is the protocol's error shape; return its message."""
    if protocol == "anthropic":
        assert body["type"] == "error" and isinstance(body["error"]["type"], str)
        return body["error"]["message"]
    if protocol == "gemini":
        assert body["error"]["code"] == status and isinstance(body["error"]["status"], str)
        return body["error"]["message"]
    assert isinstance(body["error"]["type"], str) and "param" in body["error"]
    return body["error"]["message"]


def send(ep: Endpoint, base: str, body: bytes | dict, headers: dict | None = None, model: str = "mock-1"):
    resp = call(ep.url(base, model), "POST", body, AUTH[ep.protocol] if headers is None else headers)
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-request-id"]
    return resp, error_message(ep.protocol, resp.status, resp.json) if resp.status >= 400 else ""


protocols = pytest.mark.parametrize("protocol", PROTOCOLS)


def post_without_waiting(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST over a raw socket, reading the answer even when the server answers (and closes) before
    the whole body was sent — as it does when content-length announces too much."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = f"POST {target} HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"content-length: {len(body)}\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        with contextlib.suppress(OSError):  # broken pipe / reset: the answer is already waiting
            sock.sendall(head.encode() + body)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head_part, rest = data.split(b"\r\n\r\n", 1)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head_part.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(rest) >= length:
                    break
    head_part, _, rest = data.partition(b"\r\n\r\n")
    return int(head_part.split(b" ")[1]), rest


@protocols
def test_the_valid_request_works(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    resp, _ = send(ep, gateway.url, ep.body())
    assert resp.status == 200, resp.body


@protocols
def test_invalid_json(gateway, upstreams, protocol):
    resp, message = send(ENDPOINTS[protocol], gateway.url, b'{"model": "mock-1", "messages": [')
    assert resp.status == 400 and "not valid JSON" in message


@protocols
def test_a_body_that_is_not_an_object(gateway, upstreams, protocol):
    resp, message = send(ENDPOINTS[protocol], gateway.url, b"[1, 2, 3]")
    assert resp.status == 400 and "JSON object" in message


def assert_rejects_field(gateway, ep, case: tuple[str, dict]) -> None:
    """The body of ``case`` (with a model unless the path names it) is a 400 naming its field."""
    field, body = case
    resp, message = send(ep, gateway.url, {**body, **({} if ep.model_in_path else {"model": "mock-1"})})
    assert resp.status == 400 and field in message


@protocols
def test_missing_required_field(gateway, upstreams, protocol):
    assert_rejects_field(gateway, ENDPOINTS[protocol], ENDPOINTS[protocol].missing)


@protocols
def test_wrongly_typed_field(gateway, upstreams, protocol):
    assert_rejects_field(gateway, ENDPOINTS[protocol], ENDPOINTS[protocol].mistyped)


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if p != "gemini"])
def test_missing_or_mistyped_model(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    resp, message = send(ep, gateway.url, dict(ep.valid))
    assert resp.status == 400 and "model" in message
    resp, message = send(ep, gateway.url, {**ep.valid, "model": 42})
    assert resp.status == 400 and "model" in message


@protocols
def test_unknown_model(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    resp, message = send(ep, gateway.url, ep.body("no-such-model"), model="no-such-model")
    assert resp.status == 404 and "no-such-model" in message


@protocols
def test_ambiguous_model(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    resp, message = send(ep, gateway.url, ep.body("shared-model"), model="shared-model")
    assert resp.status == 400 and "ambiguous" in message and "backup/shared-model" in message


@protocols
def test_oversize_body_announced_by_content_length(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    big = orjson.dumps(ep.body(padding="x" * (MAX_BODY_MB * 1024 * 1024 + 10)))
    status, answer = post_without_waiting(ep.url(gateway.url, "mock-1"), big, AUTH[protocol])
    message = error_message(protocol, status, orjson.loads(answer))
    assert status == 413 and "larger than the limit" in message


@protocols
def test_oversize_chunked_body_is_stopped_early(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    host, port = gateway.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    piece = b"x" * 65536
    sent = 0

    def body():
        nonlocal sent
        yield b'{"padding": "'
        for _ in range(MAX_BODY_MB * 1024 * 1024 // len(piece) * 4):  # 4x the limit, if it were all read
            sent += len(piece)
            yield piece
        yield b'"}'

    try:
        headers = {"content-type": "application/json", **AUTH[protocol]}
        # the gateway may answer and close before the whole body is sent
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.request("POST", ep.url("", "mock-1"), body=body(), headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        assert resp.status == 413
        assert "larger than the limit" in error_message(protocol, resp.status, orjson.loads(resp.read()))
    finally:
        conn.close()


@protocols
def test_missing_key(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    resp, message = send(ep, gateway.url, ep.body(), headers={})
    assert resp.status == 401 and "API key" in message


@protocols
def test_wrong_key(gateway, upstreams, protocol):
    ep = ENDPOINTS[protocol]
    wrong = {name: value.replace(CLIENT_KEY, "not-the-key") for name, value in AUTH[protocol].items()}
    resp, message = send(ep, gateway.url, ep.body(), headers=wrong)
    assert resp.status == 401 and "invalid API key" in message


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {CLIENT_KEY}"},
        {"x-api-key": CLIENT_KEY},
        {"x-goog-api-key": CLIENT_KEY},
    ],
    ids=["bearer", "x-api-key", "x-goog-api-key"],
)
def test_every_key_style_is_accepted(gateway, upstreams, headers):
    ep = ENDPOINTS["openai_chat"]
    resp, _ = send(ep, gateway.url, ep.body(), headers=headers)
    assert resp.status == 200


def test_key_in_the_query_is_accepted(gateway, upstreams):
    ep = ENDPOINTS["gemini"]
    resp = call(ep.url(gateway.url) + f"?key={CLIENT_KEY}", "POST", ep.body(), {})
    assert resp.status == 200


def test_health_needs_no_key(gateway, upstreams):
    assert call(gateway.url + "/health", "GET", headers={}).status == 200


def test_errors_never_leak_a_traceback(gateway, upstreams):
    ep = ENDPOINTS["openai_chat"]
    resp, message = send(ep, gateway.url, ep.body(messages=[{"role": "wizard", "content": 3}]))
    assert 400 <= resp.status < 600
    assert "Traceback" not in message and 'File "' not in message
