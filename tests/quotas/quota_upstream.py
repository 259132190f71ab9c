"""An upstream for the quota tests: OpenAI Chat, Anthropic Messages and Gemini on one port.

It counts the requests each API key sends (``seen``), and answers per key: a success with the
rate-limit headers set for the key (``headers``), or an error (``errors``: status and body).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import orjson
from aiohttp import web
from test_server_keys import ok_frames, ok_json


class QuotaUpstream:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.headers: dict[str, dict[str, str]] = {}
        self.errors: dict[str, tuple[int, dict]] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="quota-upstream", daemon=True)
        self.thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("authorization", "")
        key = (
            auth.removeprefix("Bearer ")
            or request.headers.get("x-api-key")
            or request.headers.get("x-goog-api-key", "")
        )
        self.seen[key] += 1
        body = orjson.loads(await request.read())
        if request.path.endswith("/chat/completions"):
            protocol, stream, model = "openai_chat", bool(body.get("stream")), body.get("model", "")
        elif request.path.endswith("/messages"):
            protocol, stream, model = "anthropic", bool(body.get("stream")), body.get("model", "")
        else:
            protocol, stream = "gemini", ":streamGenerateContent" in request.path
            model = request.path.rsplit("/", 1)[-1].split(":")[0]
        if key in self.errors:
            status, err = self.errors[key]
            return web.json_response(err, status=status)
        headers = self.headers.get(key, {})
        if not stream:
            return web.json_response(ok_json(protocol, model, f"hello from {key[-4:]}"), headers=headers)
        resp = web.StreamResponse(headers={**headers, "content-type": "text/event-stream"})
        await resp.prepare(request)
        for frame in ok_frames(protocol, model, f"hello from {key[-4:]}"):
            await resp.write(frame)
        await resp.write_eof()
        return resp
