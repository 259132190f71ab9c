"""ASGI plumbing: read a body under a size limit, send whole or streamed responses, and run
work until the client disconnects.

Invariant: once a request's body is read, its handling runs in one task while another waits for
the client's ``http.disconnect`` (:func:`until_disconnect`); whichever finishes first cancels the
other, so a client that goes away mid-stream cancels the upstream read at once, and the stream
generator's ``finally`` releases the upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import orjson

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
SSE = b"text/event-stream"


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


class ClientGone(Exception):
    """The client disconnected before the response started."""


def header(scope: Scope, name: bytes) -> bytes | None:
    """One request header's value (``name`` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; raises BodyTooLarge as soon as it passes ``limit`` bytes
    (at once when ``content-length`` announces more)."""
    length = header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyTooLarge(limit)
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_bytes(send: Send, status: int, body: bytes, headers: Headers, content_type: bytes = JSON) -> None:
    headers = [*headers, (b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any, headers: Headers) -> None:
    await send_bytes(send, status, orjson.dumps(payload), headers)


async def send_stream(send: Send, status: int, headers: Headers, body: AsyncGenerator[bytes, None]) -> None:
    """Stream ``body`` as server-sent events; the generator is closed however the stream ends."""
    headers = [*headers, (b"content-type", SSE), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
    try:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        async for chunk in body:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await body.aclose()


async def until_disconnect(work: Awaitable[None], receive: Receive) -> bool:
    """Run ``work`` unless the client disconnects first (then cancel it and return False)."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        watch.cancel()
    if task.done() and not task.cancelled():
        task.result()  # re-raise what the work raised
        return True
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
