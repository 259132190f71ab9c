"""Responses errors <-> GatewayError (the OpenAI envelope, shared with Chat Completions).

Body: ``{"error": {"message", "type", "param", "code"}}``. Kinds come from the status, refined by
type / code: ``insufficient_quota`` (429, not worth retrying soon) is QUOTA, ``invalid_api_key``
AUTHENTICATION, ``rate_limit_exceeded`` RATE_LIMIT. A wait hint in the message ("Please try
again in 2s", "in 210ms", "in 6m0s") becomes ``retry_after``.

In a stream the same object arrives as ``event: error`` (``{"type": "error", "error": {...}}``
from the live API; the spec also allows ``code`` / ``message`` / ``param`` at the top level), and
``response.failed`` carries ``response.error`` (``{"code", "message"}``); see
:func:`error_from_event` and :func:`error_from_response`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ...core.errors import ErrorKind, GatewayError, kind_for_status

CODE_KIND: dict[str, str] = {
    "insufficient_quota": ErrorKind.QUOTA,
    "billing_hard_limit_reached": ErrorKind.QUOTA,
    "invalid_api_key": ErrorKind.AUTHENTICATION,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "model_not_found": ErrorKind.NOT_FOUND,
    "context_length_exceeded": ErrorKind.INVALID_REQUEST,
    "server_error": ErrorKind.SERVER,
    "server_is_overloaded": ErrorKind.OVERLOADED,
    "overloaded": ErrorKind.OVERLOADED,
    "vector_store_timeout": ErrorKind.TIMEOUT,
    "invalid_prompt": ErrorKind.INVALID_REQUEST,
}

KIND_WIRE: dict[str, tuple[int, str, str | None]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error", None),
    ErrorKind.AUTHENTICATION: (401, "invalid_request_error", "invalid_api_key"),
    ErrorKind.PERMISSION: (403, "permission_error", None),
    ErrorKind.NOT_FOUND: (404, "invalid_request_error", None),
    ErrorKind.REQUEST_TOO_LARGE: (413, "invalid_request_error", "request_too_large"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error", "rate_limit_exceeded"),
    ErrorKind.QUOTA: (429, "insufficient_quota", "insufficient_quota"),
    ErrorKind.OVERLOADED: (503, "server_error", "server_is_overloaded"),
    ErrorKind.TIMEOUT: (504, "timeout_error", "timeout"),
    ErrorKind.SERVER: (500, "server_error", "server_error"),
    ErrorKind.UNAVAILABLE: (502, "server_error", "upstream_unavailable"),
}

_OPENAI_TYPES = frozenset(
    {"invalid_request_error", "insufficient_quota", "server_error", "requests", "tokens", "rate_limit_error"}
)
_RETRY = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_error(status: int, body: bytes) -> GatewayError:
    """An upstream error response -> GatewayError (never raises on odd bodies)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        text = body.decode("utf-8", "replace").strip()[:500] if body else ""
        message = err if isinstance(err, str) else text
        return GatewayError(kind_for_status(status), message or f"upstream returned HTTP {status}", status=status)
    return error_from_object(err, status)


def error_from_object(err: dict[str, Any], status: int | None = None) -> GatewayError:
    """An OpenAI error object (``{"message", "type", "param", "code"}``) -> GatewayError."""
    message = err.get("message") if isinstance(err.get("message"), str) else ""
    etype = err.get("type") if isinstance(err.get("type"), str) else None
    code = err.get("code") if isinstance(err.get("code"), str) else None
    param = err.get("param") if isinstance(err.get("param"), str) else None
    kind = CODE_KIND.get(code or "")
    if kind is None and etype == "insufficient_quota":
        kind = ErrorKind.QUOTA
    if kind is None:  # the status says more than a generic type such as server_error
        kind = kind_for_status(status) if status is not None else CODE_KIND.get(etype or "", ErrorKind.SERVER)
    if status is None:
        status = KIND_WIRE[kind][0]
    return GatewayError(
        kind,
        message or etype or code or f"upstream returned HTTP {status}",
        status=status,
        param=param,
        retry_after=_retry_after(message),
        code=code,
        upstream_type=etype,
    )


def error_from_event(data: dict[str, Any]) -> GatewayError:
    """An in-stream ``error`` event -> GatewayError."""
    err = data.get("error")
    return error_from_object(err if isinstance(err, dict) else data)


def error_from_response(response: Any) -> GatewayError:
    """``response.failed``'s Response -> GatewayError (from its ``error``)."""
    err = response.get("error") if isinstance(response, dict) else None
    if not isinstance(err, dict):
        return GatewayError(ErrorKind.SERVER, "the upstream response failed")
    return error_from_object(err)


def _retry_after(message: str) -> float | None:
    match = _RETRY.search(message)
    if not match:
        return None
    return round(sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(match.group(1))), 3)


def wire_error(err: GatewayError) -> dict[str, Any]:
    """The error object (``{"message", "type", "param", "code"}``) for a Responses client."""
    _, etype, code = KIND_WIRE.get(err.kind, (err.status, "server_error", None))
    if err.upstream_type in _OPENAI_TYPES:
        etype = err.upstream_type
    return {"message": err.message, "type": etype, "param": err.param, "code": err.code or code}


def format_error(err: GatewayError) -> tuple[int, dict[str, Any]]:
    """A GatewayError -> (HTTP status, OpenAI error body). The status is kept when it agrees with
    the kind; otherwise the kind's OpenAI status is used (an overloaded upstream is 503, an
    exhausted quota 429 even when Anthropic said 402)."""
    status = err.status
    if kind_for_status(status) != err.kind or status in (402, 529) or not 400 <= status <= 599:
        status = KIND_WIRE.get(err.kind, (500,))[0]
    return status, {"error": wire_error(err)}
