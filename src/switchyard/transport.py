"""The one pooled HTTP client every upstream request goes through.

A :class:`Transport` owns a single :class:`aiohttp.ClientSession` (created at server start-up,
closed at shutdown) whose connection pool is shared by all providers. It sends bytes and hands
back the raw :class:`aiohttp.ClientResponse`; it never retries (the attempt loop decides) and
never parses bodies (the codecs do).

Timeouts come from ``routing.timeouts`` (global, overridable per provider):

- ``first_byte``: connecting, and for streams everything up to the response headers. The caller
  also bounds the wait for the first stream frame with it (:meth:`Transport.first_byte_deadline`).
- ``stall``: for streams, the longest silence between two reads once the stream runs.
- ``request``: the whole request; non-streaming answers (whose headers only come when the
  answer is complete) are bounded by it alone, through the caller's deadline.

Connection failures become ``GatewayError(unavailable)`` and timeouts ``GatewayError(timeout)``,
with messages that name the upstream host but never a credential.

Some upstreams live in the gateway itself: a URL under one of the transport's in-process origins
(the built-in mock, :mod:`switchyard.mock_upstream`) is answered by that origin's function, with
no socket, as a :class:`LocalResponse` that reads like the network's response.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import aiohttp

from . import mock_upstream
from .config import Timeouts
from .core.errors import ErrorKind, GatewayError

USER_AGENT = "switchyard"
MAX_ERROR_BODY = 1024 * 1024  # bytes of an upstream error body worth reading


LocalRoute = Callable[[str, bytes], tuple[int, str, list[bytes]]]
"""An in-process upstream: (path, body) -> (status, content type, body chunks)."""
IN_PROCESS: dict[str, LocalRoute] = {mock_upstream.ORIGIN: mock_upstream.answer}


class Transport:
    """The shared upstream HTTP client. :meth:`start` it inside the server's event loop."""

    def __init__(
        self, *, limit: int = 1024, keepalive: float = 60.0, in_process: Mapping[str, LocalRoute] = IN_PROCESS
    ) -> None:
        self._limit = limit
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None
        self._in_process = tuple(in_process.items())

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit, limit_per_host=0, keepalive_timeout=self._keepalive, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                headers={"user-agent": USER_AGENT},
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def started(self) -> bool:
        return self._session is not None and not self._session.closed

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, stream: bool, timeouts: Timeouts
    ) -> UpstreamResponse:
        """Send a POST and return once the response headers arrived (the body is not read).

        The caller owns the response: it must ``release()`` or ``close()`` it.
        """
        for origin, route in self._in_process:
            if url.startswith(origin):
                return LocalResponse(*route(url[len(origin) :], body))
        if self._session is None:
            await self.start()
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeouts.first_byte,
            sock_read=timeouts.stall if stream else None,
        )
        try:
            if stream:
                async with asyncio.timeout(timeouts.first_byte):
                    return await self._session.post(url, data=body, headers=headers, timeout=timeout)
            return await self._session.post(url, data=body, headers=headers, timeout=timeout)
        except BaseException as exc:
            raise upstream_failure(exc, url) from None


class LocalResponse:
    """An in-process upstream's answer, read like :class:`aiohttp.ClientResponse` (``status``,
    ``headers``, ``content.readany()`` / ``content.iter_any()``, ``read()``, ``release()``,
    ``close()``): a stream's chunks come one per read."""

    __slots__ = ("_chunks", "headers", "status")

    def __init__(self, status: int, content_type: str, chunks: Iterable[bytes]) -> None:
        self.status = status
        self.headers = {"content-type": content_type}
        self._chunks = deque(chunks)

    @property
    def content(self) -> LocalResponse:
        return self

    async def readany(self) -> bytes:
        return self._chunks.popleft() if self._chunks else b""

    async def iter_any(self) -> AsyncIterator[bytes]:
        while self._chunks:
            yield self._chunks.popleft()

    async def read(self) -> bytes:
        body = b"".join(self._chunks)
        self._chunks.clear()
        return body

    def release(self) -> None:
        self._chunks.clear()

    close = release


UpstreamResponse = aiohttp.ClientResponse | LocalResponse
"""What :meth:`Transport.post` answers."""


def upstream_failure(exc: BaseException, url: str) -> BaseException:
    """A transport exception as the GatewayError the attempt loop understands (others unchanged)."""
    host = urlsplit(url).netloc or url
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return GatewayError(ErrorKind.TIMEOUT, f"upstream {host} did not answer in time")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return GatewayError(ErrorKind.UNAVAILABLE, f"upstream {host} sent a broken response body", status=502)
    if isinstance(exc, aiohttp.ClientError | ConnectionError | OSError):
        reason = type(exc).__name__
        return GatewayError(ErrorKind.UNAVAILABLE, f"cannot reach upstream {host} ({reason})", status=502)
    return exc


async def read_limited(resp: UpstreamResponse, limit: int = MAX_ERROR_BODY) -> bytes:
    """Read a response body, keeping at most ``limit`` bytes (used for upstream error bodies)."""
    out = bytearray()
    async for chunk in resp.content.iter_any():
        out += chunk[: limit - len(out)]
        if len(out) >= limit:
            break
    return bytes(out)
