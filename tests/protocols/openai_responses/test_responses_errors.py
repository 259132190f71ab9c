"""parse_error / format_error and the in-stream error shapes."""

from __future__ import annotations

import orjson
import pytest
from responses_helpers import load

from switchyard.core.errors import ErrorKind, GatewayError, RequestError, TranslationError
from switchyard.protocols.openai_responses import format_error, parse_error
from switchyard.protocols.openai_responses.errors import error_from_event, error_from_response


def from_fixture(name: str) -> GatewayError:
    envelope = load(name)
    return parse_error(envelope["status"], orjson.dumps(envelope["body"]))


def test_rate_limit_with_retry_hint_in_the_message() -> None:
    err = from_fixture("error_429_rate_limit.json")
    assert (err.kind, err.status, err.code, err.upstream_type) == (
        ErrorKind.RATE_LIMIT,
        429,
        "rate_limit_exceeded",
        "requests",
    )
    assert err.retry_after == 2.0
    assert err.message.startswith("Rate limit reached for gpt-4o-mini")


@pytest.mark.parametrize("name", ["error_404_deleted_response.json", "error_404_store_false.json"])
def test_not_found(name: str) -> None:
    err = from_fixture(name)
    assert (err.kind, err.status, err.upstream_type, err.param) == (
        ErrorKind.NOT_FOUND,
        404,
        "invalid_request_error",
        None,
    )
    assert "not found" in err.message


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (429, {"type": "insufficient_quota", "code": "insufficient_quota", "message": "quota"}, ErrorKind.QUOTA),
        (
            401,
            {"type": "invalid_request_error", "code": "invalid_api_key", "message": "bad key"},
            ErrorKind.AUTHENTICATION,
        ),
        (
            400,
            {"type": "invalid_request_error", "code": "context_length_exceeded", "message": "long"},
            ErrorKind.INVALID_REQUEST,
        ),
        (500, {"type": "server_error", "message": "oops"}, ErrorKind.SERVER),
        (503, {"type": "server_error", "message": "busy"}, ErrorKind.OVERLOADED),
        (404, {"type": "invalid_request_error", "code": "model_not_found", "message": "no model"}, ErrorKind.NOT_FOUND),
    ],
)
def test_kinds(status: int, error: dict, kind: str) -> None:
    err = parse_error(status, orjson.dumps({"error": error}))
    assert (err.kind, err.status, err.message) == (kind, status, error["message"])


def test_param_is_kept() -> None:
    body = {
        "error": {
            "message": "bad",
            "type": "invalid_request_error",
            "param": "tools[0].parameters",
            "code": "invalid_function_parameters",
        }
    }
    err = parse_error(400, orjson.dumps(body))
    assert (err.param, err.code) == ("tools[0].parameters", "invalid_function_parameters")


@pytest.mark.parametrize(
    ("text", "seconds"), [("in 210ms.", 0.21), ("in 6m0s.", 360.0), ("in 1.5s", 1.5), ("later", None)]
)
def test_retry_hints(text: str, seconds: float | None) -> None:
    body = {
        "error": {
            "message": f"Rate limit reached. Please try again {text}",
            "type": "tokens",
            "code": "rate_limit_exceeded",
        }
    }
    assert parse_error(429, orjson.dumps(body)).retry_after == seconds


@pytest.mark.parametrize("body", [b"<html>Bad Gateway</html>", b"", b'{"error": "plain string"}', b"[1]"])
def test_odd_bodies_do_not_crash(body: bytes) -> None:
    err = parse_error(502, body)
    assert err.kind == ErrorKind.UNAVAILABLE and err.status == 502
    assert err.message


def test_stream_error_event_shapes() -> None:
    nested = error_from_event(
        {"type": "error", "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "q"}}
    )
    assert (nested.kind, nested.status) == (ErrorKind.QUOTA, 429)
    flat = error_from_event({"type": "error", "code": "rate_limit_exceeded", "message": "slow", "param": None})
    assert (flat.kind, flat.message) == (ErrorKind.RATE_LIMIT, "slow")
    failed = error_from_response({"status": "failed", "error": {"code": "server_error", "message": "boom"}})
    assert (failed.kind, failed.status) == (ErrorKind.SERVER, 500)
    assert error_from_response({"status": "failed"}).kind == ErrorKind.SERVER


@pytest.mark.parametrize(
    ("kind", "status", "etype", "code"),
    [
        (ErrorKind.INVALID_REQUEST, 400, "invalid_request_error", None),
        (ErrorKind.AUTHENTICATION, 401, "invalid_request_error", "invalid_api_key"),
        (ErrorKind.PERMISSION, 403, "permission_error", None),
        (ErrorKind.NOT_FOUND, 404, "invalid_request_error", None),
        (ErrorKind.REQUEST_TOO_LARGE, 413, "invalid_request_error", "request_too_large"),
        (ErrorKind.RATE_LIMIT, 429, "rate_limit_error", "rate_limit_exceeded"),
        (ErrorKind.QUOTA, 429, "insufficient_quota", "insufficient_quota"),
        (ErrorKind.OVERLOADED, 503, "server_error", "server_is_overloaded"),
        (ErrorKind.TIMEOUT, 504, "timeout_error", "timeout"),
        (ErrorKind.SERVER, 500, "server_error", "server_error"),
        (ErrorKind.UNAVAILABLE, 502, "server_error", "upstream_unavailable"),
    ],
)
def test_format_error_by_kind(kind: str, status: int, etype: str, code: str | None) -> None:
    assert format_error(GatewayError(kind, "m")) == (
        status,
        {"error": {"message": "m", "type": etype, "param": None, "code": code}},
    )


def test_anthropic_overloaded_529_is_503_for_openai_clients() -> None:
    err = GatewayError(ErrorKind.OVERLOADED, "Overloaded", status=529, upstream_type="overloaded_error")
    status, body = format_error(err)
    assert status == 503 and body["error"]["type"] == "server_error"


def test_billing_402_is_429_insufficient_quota() -> None:
    status, body = format_error(GatewayError(ErrorKind.QUOTA, "credit", status=402, upstream_type="billing_error"))
    assert status == 429 and body["error"]["type"] == "insufficient_quota"


def test_openai_upstream_error_is_relayed_as_is() -> None:
    err = parse_error(429, orjson.dumps(load("error_429_rate_limit.json")["body"]))
    status, body = format_error(err)
    assert status == 429
    assert body == load("error_429_rate_limit.json")["body"]


def test_request_and_translation_errors_name_the_field() -> None:
    assert format_error(RequestError("missing required field 'model'", param="model")) == (
        400,
        {
            "error": {
                "message": "missing required field 'model'",
                "type": "invalid_request_error",
                "param": "model",
                "code": None,
            }
        },
    )
    status, body = format_error(TranslationError("stop", "openai_responses", "no stop sequences"))
    assert status == 400 and body["error"]["param"] == "stop"
