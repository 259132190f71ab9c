"""Gemini errors: google.rpc.Status bodies -> GatewayError and back."""

from __future__ import annotations

import orjson
import pytest
from gemini_helpers import load

from switchyard.core.errors import ErrorKind, GatewayError, RequestError, TranslationError
from switchyard.protocols.gemini import format_error, parse_error


def parse_fixture(name: str) -> GatewayError:
    envelope = load(name)
    return parse_error(envelope["status"], orjson.dumps(envelope["body"]))


def test_rate_limit_with_retry_delay() -> None:
    err = parse_fixture("error_429_resource_exhausted.json")
    assert (err.kind, err.status, err.upstream_type, err.retry_after) == (
        ErrorKind.RATE_LIMIT,
        429,
        "RESOURCE_EXHAUSTED",
        47.0,
    )
    assert err.message.startswith("You exceeded your current quota")


def test_unauthenticated() -> None:
    err = parse_fixture("error_401_unauthenticated_vertex.json")
    assert (err.kind, err.status, err.code) == (ErrorKind.AUTHENTICATION, 401, "CREDENTIALS_MISSING")


def test_missing_thought_signature_is_a_bad_request() -> None:
    err = parse_fixture("error_400_missing_thought_signature.json")
    assert (err.kind, err.status, err.upstream_type) == (ErrorKind.INVALID_REQUEST, 400, "INVALID_ARGUMENT")
    assert "thought_signature" in err.message


def test_invalid_api_key_is_an_authentication_error() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        }
    }
    err = parse_error(400, orjson.dumps(body))
    assert (err.kind, err.status, err.code) == (ErrorKind.AUTHENTICATION, 400, "API_KEY_INVALID")
    assert format_error(err) == (400, body)  # relayed unchanged to Gemini clients


def test_per_day_quota_is_quota() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45.837906927s"},
            ],
        }
    }
    err = parse_error(429, orjson.dumps(body))
    assert err.kind == ErrorKind.QUOTA and err.retry_after == pytest.approx(45.837906927)
    assert format_error(err) == (429, body)


@pytest.mark.parametrize(
    ("status", "canonical", "kind"),
    [
        (403, "PERMISSION_DENIED", ErrorKind.PERMISSION),
        (404, "NOT_FOUND", ErrorKind.NOT_FOUND),
        (500, "INTERNAL", ErrorKind.SERVER),
        (503, "UNAVAILABLE", ErrorKind.OVERLOADED),
        (504, "DEADLINE_EXCEEDED", ErrorKind.TIMEOUT),
        (400, "FAILED_PRECONDITION", ErrorKind.INVALID_REQUEST),
    ],
)
def test_status_table(status: int, canonical: str, kind: str) -> None:
    err = parse_error(status, orjson.dumps({"error": {"code": status, "message": "m", "status": canonical}}))
    assert (err.kind, err.status, err.upstream_type) == (kind, status, canonical)


@pytest.mark.parametrize("body", [b"", b"<html>Bad Gateway</html>", b"[]", b'{"error": "string"}', b"null"])
def test_odd_bodies_do_not_crash(body: bytes) -> None:
    err = parse_error(502, body)
    assert err.kind == ErrorKind.UNAVAILABLE and err.status == 502 and err.message


def test_error_wrapped_in_an_array() -> None:
    err = parse_error(429, b'[{"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED"}}]')
    assert err.kind == ErrorKind.RATE_LIMIT


@pytest.mark.parametrize(
    ("err", "status", "canonical"),
    [
        (GatewayError(ErrorKind.INVALID_REQUEST, "bad"), 400, "INVALID_ARGUMENT"),
        (GatewayError(ErrorKind.AUTHENTICATION, "who"), 401, "UNAUTHENTICATED"),
        (GatewayError(ErrorKind.PERMISSION, "no"), 403, "PERMISSION_DENIED"),
        (GatewayError(ErrorKind.NOT_FOUND, "?"), 404, "NOT_FOUND"),
        (GatewayError(ErrorKind.REQUEST_TOO_LARGE, "big"), 413, "INVALID_ARGUMENT"),
        (GatewayError(ErrorKind.RATE_LIMIT, "slow"), 429, "RESOURCE_EXHAUSTED"),
        (GatewayError(ErrorKind.QUOTA, "broke"), 429, "RESOURCE_EXHAUSTED"),
        (GatewayError(ErrorKind.OVERLOADED, "busy", status=529, upstream_type="overloaded_error"), 503, "UNAVAILABLE"),
        (GatewayError(ErrorKind.TIMEOUT, "late"), 504, "DEADLINE_EXCEEDED"),
        (GatewayError(ErrorKind.SERVER, "oops"), 500, "INTERNAL"),
        (GatewayError(ErrorKind.UNAVAILABLE, "down"), 503, "UNAVAILABLE"),
    ],
)
def test_format_error_by_kind(err: GatewayError, status: int, canonical: str) -> None:
    got_status, body = format_error(err)
    assert got_status == status
    assert body == {"error": {"code": status, "message": err.message, "status": canonical}}


def test_rate_limit_gets_retry_info() -> None:
    _, body = format_error(
        GatewayError(ErrorKind.RATE_LIMIT, "slow", retry_after=45.8, upstream_type="rate_limit_error")
    )
    assert body["error"]["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45.8s"}]


def test_request_error_names_the_field() -> None:
    status, body = format_error(RequestError("missing required field 'contents'", param="contents"))
    assert status == 400
    assert body["error"]["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "contents", "description": "missing required field 'contents'"}],
        }
    ]
    assert format_error(TranslationError("tools[0].googleSearch", "openai_chat"))[0] == 400


def test_parse_then_format_keeps_the_fixture_body() -> None:
    for name in (
        "error_429_resource_exhausted.json",
        "error_401_unauthenticated_vertex.json",
        "error_400_missing_thought_signature.json",
    ):
        envelope = load(name)
        assert format_error(parse_fixture(name)) == (envelope["status"], envelope["body"])
