"""parse_error / format_error: the real error fixtures, type and status tables, odd bodies."""

from __future__ import annotations

import orjson
import pytest
from anthropic_helpers import load, names

from switchyard.core.errors import ErrorKind, GatewayError, RequestError, TranslationError
from switchyard.protocols.anthropic import format_error, parse_error


@pytest.mark.parametrize("name", names("error_*.json"))
def test_fixture_round_trip(name: str) -> None:
    fixture = load(name)
    err = parse_error(fixture["status"], orjson.dumps(fixture["body"]))
    assert err.status == fixture["status"]
    assert err.upstream_type == fixture["body"]["error"]["type"]
    assert format_error(err) == (fixture["status"], fixture["body"])


@pytest.mark.parametrize(
    ("status", "etype", "kind"),
    [
        (400, "invalid_request_error", ErrorKind.INVALID_REQUEST),
        (401, "authentication_error", ErrorKind.AUTHENTICATION),
        (402, "billing_error", ErrorKind.QUOTA),
        (403, "permission_error", ErrorKind.PERMISSION),
        (404, "not_found_error", ErrorKind.NOT_FOUND),
        (413, "request_too_large", ErrorKind.REQUEST_TOO_LARGE),
        (429, "rate_limit_error", ErrorKind.RATE_LIMIT),
        (500, "api_error", ErrorKind.SERVER),
        (504, "timeout_error", ErrorKind.TIMEOUT),
        (529, "overloaded_error", ErrorKind.OVERLOADED),
    ],
)
def test_type_table(status: int, etype: str, kind: str) -> None:
    body = {"type": "error", "error": {"type": etype, "message": "m"}}
    err = parse_error(status, orjson.dumps(body))
    assert (err.kind, err.status, err.message) == (kind, status, "m")
    assert format_error(err) == (status, body)


def test_retry_hint_and_request_id() -> None:
    fixture = load("error_429_rate_limit.json")
    err = parse_error(429, orjson.dumps(fixture["body"]))
    assert err.retry_after is None  # Anthropic carries retry-after in a header, not the body
    assert err.details == {"request_id": "req_011CYK5mje9HkutJtmfPzzNC"}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (413, b"<html>Request Entity Too Large</html>", ErrorKind.REQUEST_TOO_LARGE),
        (502, b"", ErrorKind.UNAVAILABLE),
        (503, b"upstream connect error", ErrorKind.OVERLOADED),
        (500, b'{"type":"error","error":"nope"}', ErrorKind.SERVER),
        (418, b'{"type":"error","error":{"type":"teapot_error","message":"short"}}', ErrorKind.INVALID_REQUEST),
        (500, b"[1, 2]", ErrorKind.SERVER),
    ],
)
def test_odd_bodies_do_not_crash(status: int, body: bytes, kind: str) -> None:
    err = parse_error(status, body)
    assert err.kind == kind and err.status == status and err.message
    wire_status, wire = format_error(err)
    assert 400 <= wire_status <= 599
    assert wire["type"] == "error" and set(wire["error"]) == {"type", "message"}


@pytest.mark.parametrize(
    ("err", "status", "etype"),
    [
        (GatewayError(ErrorKind.OVERLOADED, "busy", status=503, upstream_type="server_error"), 529, "overloaded_error"),
        (
            GatewayError(ErrorKind.QUOTA, "quota", status=429, upstream_type="insufficient_quota"),
            429,
            "rate_limit_error",
        ),
        (
            GatewayError(ErrorKind.RATE_LIMIT, "slow", status=429, upstream_type="RESOURCE_EXHAUSTED"),
            429,
            "rate_limit_error",
        ),
        (GatewayError(ErrorKind.UNAVAILABLE, "no route"), 502, "api_error"),
        (GatewayError(ErrorKind.TIMEOUT, "slow", status=504), 504, "timeout_error"),
        (GatewayError(ErrorKind.SERVER, "odd", status=200), 500, "api_error"),
        (RequestError("missing 'model'", param="model"), 400, "invalid_request_error"),
        (TranslationError("tools[0]", "anthropic"), 400, "invalid_request_error"),
    ],
)
def test_errors_of_other_protocols(err: GatewayError, status: int, etype: str) -> None:
    assert format_error(err) == (status, {"type": "error", "error": {"type": etype, "message": err.message}})
