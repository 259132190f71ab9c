"""The server-neutral HTTP interface the app is written against: a :class:`Conn` is one request
and its response — the request line's parts, the headers as lower-cased ``(name, value)`` byte
pairs, the body read once under a size limit, and the ways to answer (whole, or streamed).
A server adapter implements it once; the app, the pipeline and the dashboard never see the
server's own objects.

Invariant: a client that goes away cancels the handling of its request (the adapter's job: the
server cancels the handler's task), so a client gone mid-stream cancels the upstream read at
once, and the relay's ``finally`` releases the upstream connection. A write to a client that
has gone raises :class:`ClientGone`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import orjson

from ..core.errors import RequestError

Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


class ClientGone(Exception):
    """The client disconnected (its request's body or the response could not go through)."""


class Conn(ABC):
    """One request and its response, on whatever server runs the app."""

    __slots__ = ("headers", "method", "path", "query_string", "secure")

    def __init__(self, method: str, path: str, query_string: bytes, headers: Headers, secure: bool) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        """Lower-cased names, in the order they came."""
        self.secure = secure
        """The client reached the server over TLS."""

    def header(self, name: bytes) -> bytes | None:
        """One request header's value (``name`` in lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def too_large(self, limit: int) -> bool:
        """``content-length`` announces more than ``limit`` bytes."""
        length = self.header(b"content-length")
        return length is not None and length.isdigit() and int(length) > limit

    @abstractmethod
    async def body(self, limit: int) -> bytes:
        """The whole request body; raises BodyTooLarge as soon as it passes ``limit`` bytes
        (at once when ``content-length`` announces more), ClientGone when the client left."""

    @abstractmethod
    async def respond(self, status: int, headers: Headers, body: bytes, content_type: bytes = JSON) -> None:
        """A whole response (its ``content-type`` and ``content-length`` added; HEAD: no body)."""

    @abstractmethod
    async def start(self, status: int, headers: Headers) -> None:
        """Begin a streamed response (sent chunked)."""

    @abstractmethod
    async def write(self, chunk: bytes) -> None:
        """One piece of a streamed response, straight to the connection."""

    @abstractmethod
    async def end(self) -> None:
        """The end of a streamed response."""


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (RequestError otherwise)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body
