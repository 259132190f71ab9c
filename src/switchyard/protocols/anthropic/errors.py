"""Messages errors <-> GatewayError.

Body: ``{"type": "error", "error": {"type", "message"}, "request_id"?}``; in a stream the same
object arrives as ``event: error``. ``billing_error`` (402) is an exhausted quota; 529
``overloaded_error`` is an overloaded upstream.
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
KIND_WIRE: dict[str, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "invalid_request_error"),
    ErrorKind.AUTHENTICATION: (401, "authentication_error"),
    ErrorKind.QUOTA: (429, "rate_limit_error"),
    ErrorKind.PERMISSION: (403, "permission_error"),
    ErrorKind.NOT_FOUND: (404, "not_found_error"),
    ErrorKind.REQUEST_TOO_LARGE: (413, "request_too_large"),
    ErrorKind.RATE_LIMIT: (429, "rate_limit_error"),
    ErrorKind.SERVER: (500, "api_error"),
    ErrorKind.UNAVAILABLE: (502, "api_error"),
    ErrorKind.OVERLOADED: (529, "overloaded_error"),
    ErrorKind.TIMEOUT: (504, "timeout_error"),
}


def error_from_object(err: dict[str, Any], status: int | None = None) -> GatewayError:
    """An Anthropic error object (``{"type", "message"}``) -> GatewayError."""
    etype = err.get("type") if isinstance(err.get("type"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else ""
    kind = TYPE_KIND.get(etype or "") or (kind_for_status(status) if status else ErrorKind.SERVER)
    if etype == "billing_error" and status is None:
        status = 402
    return GatewayError(
        kind,
        message or etype or f"upstream returned HTTP {status}",
        status=status if status is not None else KIND_WIRE[kind][0],
        upstream_type=etype,
    )


def parse_error(status: int, body: bytes) -> GatewayError:
    """An upstream error response -> GatewayError (never raises on odd bodies)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return error_from_object(err, status)
    text = body.decode("utf-8", "replace").strip()[:500] if body else ""
    return GatewayError(kind_for_status(status), text or f"upstream returned HTTP {status}", status=status)


def wire_error(err: GatewayError) -> dict[str, Any]:
    etype = err.upstream_type if err.upstream_type in TYPE_KIND else KIND_WIRE.get(err.kind, (500, "api_error"))[1]
    return {"type": "error", "error": {"type": etype, "message": err.message}}


def format_error(err: GatewayError) -> tuple[int, dict[str, Any]]:
    """A GatewayError -> (HTTP status, Anthropic error body). An overloaded upstream is 529."""
    status = err.status
    if kind_for_status(status) != err.kind or err.kind == ErrorKind.OVERLOADED or not 400 <= status <= 599:
        status = KIND_WIRE.get(err.kind, (500, ""))[0]
    return status, wire_error(err)
