"""parse_error / format_error: the OpenAI error envelope, kinds, statuses, retry hints."""

from __future__ import annotations

import orjson
import pytest
from chat_helpers import load, names

from switchyard.core.errors import ErrorKind, GatewayError
from switchyard.protocols.openai_chat import format_error, parse_error

EXPECTED = {
    "error_400_invalid_function_parameters.json": (ErrorKind.INVALID_REQUEST, "invalid_function_parameters"),
    "error_401_invalid_api_key.json": (ErrorKind.AUTHENTICATION, "invalid_api_key"),
    "error_404_not_found.json": (ErrorKind.NOT_FOUND, None),
    "error_429_insufficient_quota.json": (ErrorKind.QUOTA, "insufficient_quota"),
    "error_429_rate_limit.json": (ErrorKind.RATE_LIMIT, "rate_limit_exceeded"),
}


@pytest.mark.parametrize("name", names("error_*.json"))
def test_fixture_errors(name: str) -> None:
    fixture = load(name)
    err = parse_error(fixture["status"], orjson.dumps(fixture["body"]))
    kind, code = EXPECTED[name]
    assert err.kind == kind and err.status == fixture["status"]
    assert err.message == fixture["body"]["error"]["message"]
    if code is not None:
        assert err.code == code
    status, body = format_error(err)
    assert status == fixture["status"]
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_retry_after_from_the_message() -> None:
    fixture = load("error_429_rate_limit.json")
    err = parse_error(429, orjson.dumps(fixture["body"]))
    assert err.retry_after is not None and 0 < err.retry_after < 60


@pytest.mark.parametrize("body", [b"", b"<html>Bad gateway</html>", b"[1,2]", b'{"error": "flat string"}', b"\xff\xfe"])
def test_non_json_bodies_do_not_crash(body: bytes) -> None:
    err = parse_error(502, body)
    assert isinstance(err, GatewayError) and err.status == 502


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (ErrorKind.INVALID_REQUEST, 400),
        (ErrorKind.AUTHENTICATION, 401),
        (ErrorKind.PERMISSION, 403),
        (ErrorKind.NOT_FOUND, 404),
        (ErrorKind.REQUEST_TOO_LARGE, 413),
        (ErrorKind.RATE_LIMIT, 429),
        (ErrorKind.QUOTA, 429),
        (ErrorKind.OVERLOADED, 503),
        (ErrorKind.SERVER, 500),
        (ErrorKind.TIMEOUT, 504),
    ],
)
def test_status_for_openai_clients(kind: str, status: int) -> None:
    got, body = format_error(GatewayError(kind, "msg"))
    assert got == status and body["error"]["message"] == "msg"


def test_anthropic_overloaded_becomes_503() -> None:
    from switchyard.protocols import anthropic

    err = anthropic.parse_error(529, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert format_error(err)[0] == 503
