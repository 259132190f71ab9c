"""Messages errors <-> GatewayError.

Body: ``{"type": "error", "error": {"type", "message"}, "request_id"?}``; in a stream the same
object arrives as ``event: error``. Parsing maps ``error.type`` by :data:`TYPE_KIND` (the HTTP
status decides when the type is missing or unknown; a body that is not JSON, such as an edge
proxy's 413 page, becomes the message). ``billing_error`` (402) is an exhausted quota; 529
``overloaded_error`` an overloaded upstream. The upstream ``request_id`` is kept in
``GatewayError.details["request_id"]``.

Formatting for Messages clients (:data:`KIND_WIRE`): the upstream's own error type when it was an
Anthropic one, else the type of the error kind; the status is the error's own when it belongs to
that kind, else the kind's (so an overloaded upstream is always 529, which the Anthropic SDKs
retry). An exhausted quota of another provider (OpenAI ``insufficient_quota``, a Gemini daily
quota) stays a 429 ``rate_limit_error``: it is the gateway's key that ran out, not the client's
credit.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...core.errors import ErrorKind, GatewayError, kind_for_status

TYPE_KIND: dict[str, str] = {
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "billing_error": ErrorKind.QUOTA,
    "permission_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.REQUEST_TOO_LARGE,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "api_error": ErrorKind.SERVER,
    "overloaded_error": ErrorKind.OVERLOADED,
    "timeout_error": ErrorKind.TIMEOUT,
}
TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
KIND_WIRE: dict[str, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error"),
    ErrorKind.AUTHENTICATION: (401, "authentication_error"),
    ErrorKind.PERMISSION: (403, "permission_error"),
    ErrorKind.NOT_FOUND: (404, "not_found_error"),
    ErrorKind.REQUEST_TOO_LARGE: (413, "request_too_large"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error"),
    ErrorKind.QUOTA: (429, "rate_limit_error"),
    ErrorKind.SERVER: (500, "api_error"),
    ErrorKind.UNAVAILABLE: (502, "api_error"),
    ErrorKind.TIMEOUT: (504, "timeout_error"),
    ErrorKind.OVERLOADED: (529, "overloaded_error"),
}


def error_from_object(err: Any, status: int | None = None, request_id: Any = None) -> GatewayError:
    """An Anthropic error object (``{"type", "message"}``) -> GatewayError. ``status`` is None
    for an in-band stream error (the type decides it)."""
    err = err if isinstance(err, dict) else {}
    etype = err.get("type") if isinstance(err.get("type"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else ""
    kind = TYPE_KIND.get(etype or "")
    if kind is None:
        kind = kind_for_status(status) if status is not None else ErrorKind.SERVER
    if status is None:
        status = TYPE_STATUS.get(etype or "", KIND_WIRE[kind][0])
    details = {"request_id": request_id} if isinstance(request_id, str) else None
    return GatewayError(
        kind,
        message or etype or f"upstream returned HTTP {status}",
        status=status,
        upstream_type=etype,
        details=details,
    )


def parse_error(status: int, body: bytes) -> GatewayError:
    """An upstream error response -> GatewayError (never raises on odd bodies)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return error_from_object(data["error"], status, data.get("request_id"))
    text = body.decode("utf-8", "replace").strip()[:500] if body else ""
    return GatewayError(kind_for_status(status), text or f"upstream returned HTTP {status}", status=status)


def wire_error(err: GatewayError) -> dict[str, Any]:
    """The ``{"type": "error", "error": {...}}`` body (also the in-band stream event)."""
    etype = err.upstream_type if err.upstream_type in TYPE_KIND else KIND_WIRE.get(err.kind, (500, "api_error"))[1]
    body: dict[str, Any] = {"type": "error", "error": {"type": etype, "message": err.message}}
    request_id = err.details.get("request_id") if isinstance(err.details, dict) else None
    if isinstance(request_id, str):
        body["request_id"] = request_id
    return body


def format_error(err: GatewayError) -> tuple[int, dict[str, Any]]:
    """A GatewayError -> (HTTP status, Anthropic error body)."""
    status = err.status
    if not 400 <= status <= 599 or err.kind == ErrorKind.OVERLOADED or _kind_of(status) != err.kind:
        status = KIND_WIRE.get(err.kind, (500, ""))[0]
    return status, wire_error(err)


def _kind_of(status: int) -> str:
    return kind_for_status(status)
