"""Any failure -> an HTTP response in the client protocol's own error shape.

The client codec's ``format_error`` gives the status and body; a retry hint becomes the
``retry-after`` (whole seconds, rounded up) and ``retry-after-ms`` headers, which both the OpenAI
and Anthropic SDKs read. Unexpected exceptions are logged with their traceback and reported as a
500 with a short message naming the request id — never the traceback.
"""

from __future__ import annotations

import logging
import math

import orjson

from ..core.errors import ErrorKind, GatewayError
from ..protocols import codec
from .http import BodyTooLarge, Headers

log = logging.getLogger("switchyard.server")


def as_gateway_error(exc: BaseException, request_id: str) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, BodyTooLarge):
        mb = exc.limit / (1024 * 1024)
        return GatewayError(
            ErrorKind.REQUEST_TOO_LARGE,
            f"the request body is larger than the limit of {mb:g} MB (server.max_body_mb)",
        )
    log.error("request %s: unexpected error", request_id, exc_info=exc)
    return GatewayError(ErrorKind.SERVER, f"internal gateway error (request id {request_id})")


def error_response(protocol: str, err: GatewayError) -> tuple[int, bytes, Headers]:
    """(status, body, extra headers) for ``err`` in ``protocol``'s shape."""
    try:
        status, body = codec(protocol).format_error(err)
    except Exception:  # a codec that cannot format: still answer JSON, never a traceback
        log.exception("the %s codec could not format an error", protocol)
        status, body = err.status, {"error": {"message": err.message, "type": err.kind, "param": err.param}}
    headers: Headers = []
    if err.retry_after is not None and status >= 429:
        seconds = max(0.0, err.retry_after)
        headers.append((b"retry-after", str(math.ceil(seconds)).encode()))
        headers.append((b"retry-after-ms", str(math.ceil(seconds * 1000)).encode()))
    if err.headers:
        headers.extend((name.encode(), value.encode()) for name, value in err.headers.items())
    if err.kind == ErrorKind.REQUEST_TOO_LARGE:
        headers.append((b"connection", b"close"))  # the rest of the body was not read
    return status, orjson.dumps(body), headers


def error_protocol(path: str) -> str:
    """The error shape for a path no route matched (by the API family it looks like): Gemini's
    ``/v1beta/...`` and its ``/v1/models/{model}:<method>`` paths (an empty model included)."""
    if path.startswith("/v1beta") or (path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/responses"):
        return "openai_responses"
    return "openai_chat"
