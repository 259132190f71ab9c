"""The app on aiohttp's own HTTP server: its C parser, and responses written straight to the
connection (:class:`AioConn` is the :class:`~.http.Conn` of one request).

A client that goes away cancels its handler (``handler_cancellation``): the cancellation reaches
the upstream read in flight at once, with no watcher task per request. :class:`Serving` runs the
app on a socket until :meth:`Serving.stop` (or SIGTERM / SIGINT in the main thread), then drains:
the listening socket closes at once, idle keep-alive connections are closed, the requests in
flight have ``server.drain_timeout`` seconds (the app then ends them with their protocol's error
event) and the app shuts down (the usage log and the ledger are flushed).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from .app import App
from .http import JSON, BodyTooLarge, ClientGone, Conn, Headers

log = logging.getLogger("switchyard.server")

BACKLOG = 2048


def _str_headers(headers: Headers) -> CIMultiDict[str]:
    fields = CIMultiDict([(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers])
    fields["Server"] = "switchyard"  # not aiohttp's default, which names its version and Python's
    return fields


class _Streamed(web.StreamResponse):
    _send_headers_immediately = False  # the headers leave with the body's first bytes: one write, not two


class AioConn(Conn):
    __slots__ = ("request", "response", "writer")

    def __init__(self, request: web.BaseRequest) -> None:
        path, _, query = request.raw_path.partition("?")
        if "%" in path:
            path = unquote(path)
        headers = [(name.lower(), value) for name, value in request.raw_headers]
        super().__init__(request.method, path, query.encode("latin-1"), headers, request.secure)
        self.request = request
        self.response: web.StreamResponse | None = None
        self.writer = None

    async def body(self, limit: int) -> bytes:
        if self.too_large(limit):
            raise BodyTooLarge(limit)
        content = self.request.content
        chunks, size = [], 0
        try:
            while chunk := await content.readany():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
        except ConnectionError:
            raise ClientGone from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def respond(self, status: int, headers: Headers, body: bytes, content_type: bytes = JSON) -> None:
        fields = _str_headers(headers)
        fields["Content-Type"] = content_type.decode("latin-1")
        self.response = response = _Streamed(status=status, headers=fields)
        response.content_length = len(body)
        try:
            await response.prepare(self.request)
            await response.write_eof(b"" if self.method == "HEAD" else body)  # one write: headers and body
        except ConnectionError:
            raise ClientGone from None

    async def start(self, status: int, headers: Headers) -> None:
        self.response = response = _Streamed(status=status, headers=_str_headers(headers))
        try:
            self.writer = await response.prepare(self.request)
        except ConnectionError:
            raise ClientGone from None

    async def write(self, chunk: bytes) -> None:
        try:
            await self.writer.write(chunk)  # type: ignore[union-attr]
        except ConnectionError:
            raise ClientGone from None

    async def end(self) -> None:
        assert self.response is not None
        try:
            await self.response.write_eof()
        except ConnectionError:
            raise ClientGone from None


class Serving:
    """The app served by aiohttp on one listening socket (see the module docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        conn = AioConn(request)
        await self.app.handle(conn)
        return conn.response or web.Response(status=400)  # the client left before any answer

    async def run(self, sock: socket.socket) -> None:
        """Serve on ``sock`` (bound) until stopped, then drain and shut the app down."""
        loop = self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
        await self.app.startup()
        server = web.Server(self._handle, handler_cancellation=True, access_log=None)
        listener = await loop.create_server(server, sock=sock, backlog=BACKLOG)
        host, port = sock.getsockname()[:2]
        log.info("listening on http://%s:%d", host, port)
        self.started.set()
        try:
            await self._stop.wait()
        finally:
            listener.close()  # new connections are refused from now on
            server.pre_shutdown()  # idle keep-alive connections close; busy ones after their answer
            self.app.begin_drain()
            await server.shutdown(self.app.config.server.drain_timeout + 5)  # the app cuts at its deadline
            await self.app.shutdown()
            log.info("shutdown complete")

    def stop(self) -> None:
        """Begin the drain (from any thread)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


def listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening socket (IPv6 when ``host`` is an IPv6 address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG, reuse_port=reuse_port)
