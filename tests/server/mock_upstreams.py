"""Mock upstream servers for the gateway tests: real aiohttp servers on 127.0.0.1.

Each :class:`MockUpstream` speaks one protocol. It records every request (method, path, query,
headers, body), answers with scripted replies (FIFO; when none is queued, a default answer from
the real transcripts in ``fixtures/``), and can misbehave: error statuses with bodies and
``retry-after``, slow streams (a delay between chunks), a connection that stays open without
sending anything. When a client goes away mid-answer the time is recorded in ``disconnects``.

All upstreams share one event loop running in a background thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

FIXTURES = Path(__file__).parent / "fixtures"

# what each protocol answers by default: (non-stream JSON, stream SSE)
DEFAULTS = {
    "openai_chat": ("openai_chat/response_plain_text.json", "openai_chat/stream_include_usage.sse"),
    "openai_responses": ("openai_responses/response_plain_text.json", "openai_responses/stream_plain_text.sse"),
    "anthropic": ("anthropic/response_plain_text.json", "anthropic/stream_plain_text.sse"),
    "gemini": ("gemini/response_plain_text.json", "gemini/stream_plain_text.sse"),
}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunk_size: int | None = None
    """Send the body in chunks of this many bytes (None: one write)."""
    delay: float = 0.0
    """Seconds to wait before each chunk after the first."""
    wait_before_headers: float = 0.0
    hold_open: float = 0.0
    """Seconds to keep the connection open, silent, after the body (before ending it)."""


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_reply(name: str, **kwargs: Any) -> Reply:
    """A reply from a transcript: ``.sse`` streams, ``error_*.json`` envelopes, response bodies."""
    raw = fixture_bytes(name)
    if name.endswith(".sse"):
        return Reply(body=raw, content_type="text/event-stream", **kwargs)
    data = orjson.loads(raw)
    if Path(name).name.startswith("error_") and isinstance(data, dict) and "status" in data:
        headers = {k: v for k, v in (data.get("headers") or {}).items() if k.lower() != "content-type"}
        headers.update(kwargs.pop("headers", {}))
        return Reply(status=data["status"], body=orjson.dumps(data["body"]), headers=headers, **kwargs)
    return Reply(body=raw, **kwargs)


def sse_reply(frames: list[bytes], **kwargs: Any) -> Reply:
    return Reply(body=b"".join(frames), content_type="text/event-stream", **kwargs)


class MockUpstream:
    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.url = ""
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        self.disconnects: list[float] = []
        self.completed: list[float] = []

    def reset(self) -> None:
        self.requests.clear()
        self.replies.clear()
        self.disconnects.clear()
        self.completed.clear()

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def last(self) -> Recorded:
        assert self.requests, f"the {self.protocol} upstream received no request"
        return self.requests[-1]

    def default_reply(self, rec: Recorded) -> Reply:
        json_name, sse_name = DEFAULTS[self.protocol]
        if self.protocol == "gemini":
            stream = ":streamGenerateContent" in rec.path
        else:
            try:
                stream = bool(rec.json.get("stream"))
            except (orjson.JSONDecodeError, AttributeError):
                stream = False
        return fixture_reply(sse_name if stream else json_name)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        rec = Recorded(
            request.method,
            request.path,
            request.query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        self.requests.append(rec)
        reply = self.replies.popleft() if self.replies else self.default_reply(rec)
        try:
            return await self._serve(request, reply)
        except (ConnectionError, asyncio.CancelledError):
            self.disconnects.append(time.monotonic())
            raise

    async def _serve(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        if reply.wait_before_headers:
            await asyncio.sleep(reply.wait_before_headers)
        resp = web.StreamResponse(status=reply.status, headers=reply.headers)
        resp.content_type = reply.content_type
        if reply.chunk_size is None:
            resp.content_length = len(reply.body)
        await resp.prepare(request)
        size = reply.chunk_size or max(len(reply.body), 1)
        for n, start in enumerate(range(0, len(reply.body), size)):
            if n and reply.delay:
                await asyncio.sleep(reply.delay)
            await resp.write(reply.body[start : start + size])
        if reply.hold_open:
            await asyncio.sleep(reply.hold_open)
        await resp.write_eof()
        self.completed.append(time.monotonic())
        return resp


class UpstreamHost:
    """Runs several MockUpstreams (one port each) on one background event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mock-upstreams", daemon=True)
        self.thread.start()
        self.runners: list[web.AppRunner] = []

    def call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add(self, protocol: str) -> MockUpstream:
        upstream = MockUpstream(protocol)
        upstream.url = self.serve(upstream.handle)
        return upstream

    def serve(self, handler: Any) -> str:
        """Serve every path with ``handler`` (an aiohttp handler) on a new port; its base URL."""

        async def start() -> str:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.runners.append(runner)
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return f"http://127.0.0.1:{port}"

        return self.call(start())

    def close(self) -> None:
        async def stop() -> None:
            for runner in self.runners:
                await runner.cleanup()

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
