"""Serve one aiohttp low-level handler on 127.0.0.1 under uvloop (the mock and the floor)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import uvloop
from aiohttp import web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler, port: int) -> None:
    sock = socket.create_server(("127.0.0.1", port), backlog=4096, reuse_port=True)
    await asyncio.get_running_loop().create_server(web.Server(handler, access_log=None), sock=sock)
    await asyncio.Event().wait()


def serve(handler: Handler, port: int) -> None:
    """Run until killed."""
    uvloop.run(_serve(handler, port))
