"""Gemini errors: ``google.rpc.Status`` bodies <-> GatewayError.

Body: ``{"error": {"code": <http>, "message", "status": <canonical code>, "details": [...]}}``.
``details`` may hold ``ErrorInfo`` (``reason``, e.g. ``API_KEY_INVALID``), ``QuotaFailure``
(``violations[].quotaId``: ``...PerMinute`` vs ``...PerDay``), ``RetryInfo`` (``retryDelay``, a
protobuf duration such as ``"47s"`` or ``"45.837906927s"``; Gemini sends no Retry-After header),
``Help``, ``DebugInfo`` and ``BadRequest``.

Kinds: a 400 ``INVALID_ARGUMENT`` whose ErrorInfo reason is ``API_KEY_INVALID`` (or whose message
says "API key not valid") is an authentication failure; ``RESOURCE_EXHAUSTED`` is a rate limit,
or an exhausted quota when a violated quota id is per day.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ...core.errors import ErrorKind, GatewayError, kind_for_status

STATUS_KIND: dict[str, str] = {
    "INVALID_ARGUMENT": ErrorKind.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorKind.INVALID_REQUEST,
    "OUT_OF_RANGE": ErrorKind.INVALID_REQUEST,
    "ALREADY_EXISTS": ErrorKind.INVALID_REQUEST,
    "UNAUTHENTICATED": ErrorKind.AUTHENTICATION,
    "PERMISSION_DENIED": ErrorKind.PERMISSION,
    "NOT_FOUND": ErrorKind.NOT_FOUND,
    "UNIMPLEMENTED": ErrorKind.NOT_FOUND,
    "RESOURCE_EXHAUSTED": ErrorKind.RATE_LIMIT,
    "INTERNAL": ErrorKind.SERVER,
    "UNKNOWN": ErrorKind.SERVER,
    "DATA_LOSS": ErrorKind.SERVER,
    "ABORTED": ErrorKind.SERVER,
    "CANCELLED": ErrorKind.SERVER,
    "UNAVAILABLE": ErrorKind.OVERLOADED,
    "DEADLINE_EXCEEDED": ErrorKind.TIMEOUT,
}

KIND_STATUS: dict[str, tuple[int, str]] = {
    ErrorKind.INVALID_REQUEST: (400, "INVALID_ARGUMENT"),
    ErrorKind.AUTHENTICATION: (401, "UNAUTHENTICATED"),
    ErrorKind.PERMISSION: (403, "PERMISSION_DENIED"),
    ErrorKind.NOT_FOUND: (404, "NOT_FOUND"),
    ErrorKind.REQUEST_TOO_LARGE: (413, "INVALID_ARGUMENT"),  # HTTP 413 as for the other protocols
    ErrorKind.RATE_LIMIT: (429, "RESOURCE_EXHAUSTED"),
    ErrorKind.QUOTA: (429, "RESOURCE_EXHAUSTED"),
    ErrorKind.OVERLOADED: (503, "UNAVAILABLE"),
    ErrorKind.TIMEOUT: (504, "DEADLINE_EXCEEDED"),
    ErrorKind.SERVER: (500, "INTERNAL"),
    ErrorKind.UNAVAILABLE: (503, "UNAVAILABLE"),
}

_TYPE = "type.googleapis.com/google.rpc."
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?)s\s*\Z")


def parse_error(status: int, body: bytes) -> GatewayError:
    """An upstream Gemini error response -> GatewayError (never raises on odd bodies)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, list) and data:  # streamGenerateContent without alt=sse wraps it in an array
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        text = body.decode("utf-8", "replace").strip()[:500] if body else ""
        return GatewayError(kind_for_status(status), text or f"upstream returned HTTP {status}", status=status)
    return error_from_status(err, status)


def error_from_status(err: dict[str, Any], status: int | None = None) -> GatewayError:
    """A ``google.rpc.Status`` object (the value of ``"error"``) -> GatewayError."""
    code = err.get("code")
    http = status if status is not None else (code if isinstance(code, int) else 500)
    canonical = err.get("status") if isinstance(err.get("status"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else ""
    details = (
        [d for d in err.get("details") or [] if isinstance(d, dict)] if isinstance(err.get("details"), list) else []
    )
    reason = next((d.get("reason") for d in details if _is(d, "ErrorInfo") and isinstance(d.get("reason"), str)), None)
    kind = STATUS_KIND.get(canonical or "") or kind_for_status(http)
    if kind == ErrorKind.INVALID_REQUEST and (reason == "API_KEY_INVALID" or "API key not valid" in message):
        kind = ErrorKind.AUTHENTICATION
    if kind == ErrorKind.RATE_LIMIT and _per_day(details):
        kind = ErrorKind.QUOTA
    return GatewayError(
        kind,
        message or canonical or f"upstream returned HTTP {http}",
        status=http,
        retry_after=_retry_delay(details),
        code=reason,
        upstream_type=canonical,
        details=details or None,
    )


def _is(detail: dict[str, Any], name: str) -> bool:
    return detail.get("@type") == _TYPE + name


def _per_day(details: list[dict[str, Any]]) -> bool:
    for d in details:
        if _is(d, "QuotaFailure"):
            for violation in d.get("violations") or []:
                if isinstance(violation, dict) and "PerDay" in str(violation.get("quotaId", "")):
                    return True
    return False


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for d in details:
        if _is(d, "RetryInfo"):
            delay = d.get("retryDelay")
            if isinstance(delay, str):
                match = _DURATION.match(delay)
                if match:
                    return float(match.group(1))
            elif isinstance(delay, dict):  # {"seconds": n, "nanos": n}
                try:
                    return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
                except (TypeError, ValueError):
                    return None
    return None


def format_error(err: GatewayError) -> tuple[int, dict[str, Any]]:
    """A GatewayError -> (HTTP status, ``google.rpc.Status`` body) for Gemini clients.

    An error that came from a Gemini upstream keeps its status and canonical code (and details);
    otherwise the kind decides. A rate limit with ``retry_after`` gets a RetryInfo detail; a bad
    request naming a field gets a BadRequest detail.
    """
    if err.upstream_type in STATUS_KIND and STATUS_KIND[err.upstream_type] in _compatible(err.kind):
        status, canonical = err.status, err.upstream_type
    else:
        status, canonical = KIND_STATUS.get(err.kind, (err.status, "UNKNOWN"))
    details = [d for d in err.details if isinstance(d, dict) and "@type" in d] if isinstance(err.details, list) else []
    if err.retry_after is not None and not any(_is(d, "RetryInfo") for d in details):
        details.append({"@type": _TYPE + "RetryInfo", "retryDelay": duration(err.retry_after)})
    if err.param and err.kind == ErrorKind.INVALID_REQUEST and not any(_is(d, "BadRequest") for d in details):
        details.append(
            {"@type": _TYPE + "BadRequest", "fieldViolations": [{"field": err.param, "description": err.message}]}
        )
    body: dict[str, Any] = {"code": status, "message": err.message, "status": canonical}
    if details:
        body["details"] = details
    return status, {"error": body}


def _compatible(kind: str) -> tuple[str, ...]:
    """Kinds an upstream canonical code may have been refined into (and still be relayed as is)."""
    if kind == ErrorKind.AUTHENTICATION:
        return (ErrorKind.AUTHENTICATION, ErrorKind.INVALID_REQUEST)
    if kind == ErrorKind.QUOTA:
        return (ErrorKind.QUOTA, ErrorKind.RATE_LIMIT)
    return (kind,)


def duration(seconds: float) -> str:
    """Seconds -> protobuf duration text (``47s``, ``45.8s``)."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"
