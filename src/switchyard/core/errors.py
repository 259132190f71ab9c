"""Protocol-neutral errors.

:class:`GatewayError` is what every failure becomes inside the gateway; each protocol codec can
parse its upstream error body into one (``parse_error``) and format one for its clients
(``format_error`` / the stream encoder's error event). ``kind`` is one of :class:`ErrorKind`;
``status`` the HTTP status to return.
"""

from __future__ import annotations

from typing import Any


class ErrorKind:
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"  # out of credit / daily quota: not worth retrying on the same key soon
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    SERVER = "server"
    UNAVAILABLE = "unavailable"  # connection failure, no upstream reachable


KIND_STATUS: dict[str, int] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.REQUEST_TOO_LARGE: 413,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.QUOTA: 429,
    ErrorKind.OVERLOADED: 529,
    ErrorKind.TIMEOUT: 504,
    ErrorKind.SERVER: 500,
    ErrorKind.UNAVAILABLE: 502,
}

STATUS_KIND: dict[int, str] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    402: ErrorKind.QUOTA,
    403: ErrorKind.PERMISSION,
    404: ErrorKind.NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    413: ErrorKind.REQUEST_TOO_LARGE,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
    500: ErrorKind.SERVER,
    502: ErrorKind.UNAVAILABLE,
    503: ErrorKind.OVERLOADED,
    504: ErrorKind.TIMEOUT,
    529: ErrorKind.OVERLOADED,
}


def kind_for_status(status: int) -> str:
    """The error kind an HTTP status stands for (by class when the status is not listed)."""
    kind = STATUS_KIND.get(status)
    if kind is not None:
        return kind
    return ErrorKind.SERVER if status >= 500 else ErrorKind.INVALID_REQUEST


class GatewayError(Exception):
    """A failure to report to the client in its protocol's shape.

    ``param`` names the offending field when known; ``retry_after`` is seconds to wait (from the
    upstream's hint); ``code`` is a protocol-specific code kept for same-protocol relays;
    ``upstream_type`` the upstream's own error type string; ``headers`` extra response headers
    (the gateway's own rate-limit headers).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        upstream_type: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status if status is not None else KIND_STATUS.get(kind, 500)
        self.param = param
        self.retry_after = retry_after
        self.code = code
        self.upstream_type = upstream_type
        self.details = details
        self.headers = headers

    def __repr__(self) -> str:
        return f"GatewayError({self.kind!r}, {self.message!r}, status={self.status})"


class RequestError(GatewayError):
    """The client's request is invalid (400) — raised by ``parse_request``."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(ErrorKind.INVALID_REQUEST, message, param=param)


class TranslationError(GatewayError):
    """The request or response uses a feature the target protocol cannot carry; translating
    it would change its meaning. ``param`` names the field."""

    def __init__(self, field_name: str, target: str, detail: str = "") -> None:
        message = f"'{field_name}' cannot be translated to the {target} protocol"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(ErrorKind.INVALID_REQUEST, message, param=field_name)
