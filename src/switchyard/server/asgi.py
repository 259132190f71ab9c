"""The app on an ASGI server (uvicorn): :class:`AsgiApp` adapts the ASGI calls to :class:`Conn`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from ..config import Config, load_config
from .app import App
from .http import JSON, BodyTooLarge, ClientGone, Conn, Headers

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiConn(Conn):
    __slots__ = ("receive", "send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(
            scope["method"],
            scope["path"],
            scope.get("query_string") or b"",
            scope["headers"],
            scope["scheme"] == "https",
        )
        self.receive = receive
        self.send = send

    async def body(self, limit: int) -> bytes:
        if self.too_large(limit):
            raise BodyTooLarge(limit)
        chunks, size = [], 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def respond(self, status: int, headers: Headers, body: bytes, content_type: bytes = JSON) -> None:
        headers = [*headers, (b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": b"" if self.method == "HEAD" else body})

    async def start(self, status: int, headers: Headers) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def write(self, chunk: bytes) -> None:
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})

    async def until_gone(self, work: Awaitable[None]) -> bool:
        """One watcher task waits for ``http.disconnect`` and cancels the caller when it comes."""
        task = asyncio.current_task()
        assert task is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await self.receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await work
        except asyncio.CancelledError:
            if not gone:
                raise
        finally:
            watcher.cancel()
        if gone:  # the work ended by the watcher's cancellation (or swallowed it)
            task.uncancel()
            return False
        return True


class AsgiApp:
    """The ASGI callable: lifespan events start and stop the app."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.app.handle(AsgiConn(scope, receive, send))
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.app.drain_on_signals()
                    await self.app.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.app.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


def run_uvicorn(config: Config, host: str, port: int, workers: int) -> None:
    """The app on uvicorn with uvloop and httptools, no access log (``--workers N``: uvicorn's own
    supervisor; the app hears SIGTERM itself: :meth:`App.drain_on_signals`)."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "log_level": "info",
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": config.server.drain_timeout + 5,
    }
    with contextlib.suppress(KeyboardInterrupt):
        if workers > 1:
            if config.source:
                os.environ["SWITCHYARD_CONFIG"] = os.path.abspath(config.source)
            uvicorn.run("switchyard.server.asgi:worker_app", factory=True, workers=workers, **options)
        else:
            uvicorn.run(AsgiApp(App(config)), **options)


def worker_app() -> AsgiApp:
    from . import LOG_FORMAT

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return AsgiApp(App(load_config()))
