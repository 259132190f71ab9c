"""ASGI plumbing: read a body under a size limit, send whole or streamed responses, and run
work until the client disconnects.

Invariant: once a request's body is read, its handling runs while a watcher task waits for the
client's ``http.disconnect`` (:func:`until_disconnect`); a disconnect cancels the handling, so a
client that goes away mid-stream cancels the upstream read at once, and the stream generator's
``finally`` releases the upstream connection. The handling's end cancels the watcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import orjson

from ..core.errors import RequestError

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


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be a JSON object (RequestError otherwise)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    return body


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
    """Run ``work`` unless the client disconnects first (then cancel it and return False).

    ``work`` runs in the calling task; one watcher task waits for ``http.disconnect`` and cancels
    the caller when it comes. Whatever ``work`` raised is raised here.
    """
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
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
