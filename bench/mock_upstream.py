"""A fast mock upstream for the benchmark: all four protocols, stream and not.

Every answer is rendered once at start-up by Switchyard's own codecs (whose output the golden tests
hold to real provider transcripts) and then served as pre-built bytes, so the mock costs little CPU
next to the gateway under test. A stream is ``--chunks`` text deltas, each written separately, then
the finish and usage frames. A model whose name contains ``slow`` gets ``--slow-delay`` seconds
between stream chunks (the "many open streams" scenario).

    python bench/mock_upstream.py --port 9100 [--chunks 20] [--slow-delay 0.1]

Routes: ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/messages``,
``/v1beta/models/{model}:generateContent`` and ``:streamGenerateContent`` (also without ``/v1``
for clients that put it in the base URL), ``GET /health``.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web
from lowlevel import serve

from switchyard.core.events import MessageDelta, MessageStart, MessageStop, PartStart, PartStop, TextDelta
from switchyard.core.model import Message, Request, Response, StopReason, TextPart, Usage
from switchyard.protocols import codec

MODEL = "mock-model"
WORD = "token "
USAGE = Usage(input_tokens=12, output_tokens=20)


def _request(protocol: str) -> Request:
    return Request(model=MODEL, protocol=protocol, messages=[Message("user", [TextPart("hi")])], include_usage=True)


def _events(chunks: int) -> list:
    return [
        MessageStart(id="mock-1", model=MODEL, usage=Usage(input_tokens=12), created=1_700_000_000),
        PartStart(0, TextPart("")),
        *(TextDelta(0, WORD) for _ in range(chunks)),
        PartStop(0),
        MessageDelta(stop_reason=StopReason.END_TURN, usage=USAGE),
        MessageStop(),
    ]


def render(protocol: str, chunks: int) -> tuple[bytes, list[bytes]]:
    """(non-stream body, stream frames) of one answer of ``chunks`` tokens in a protocol."""
    mod = codec(protocol)
    req = _request(protocol)
    resp = Response(id="mock-1", model=MODEL, content=[TextPart(WORD * chunks)], usage=USAGE, created=1_700_000_000)
    body = orjson.dumps(mod.format_response(resp, req))
    req.stream = True
    encoder = mod.StreamEncoder(req)
    frames = [encoder.feed(event) for event in _events(chunks)]
    frames.append(encoder.finish())
    return body, [f for f in frames if f]


class Mock:
    def __init__(self, chunks: int, slow_delay: float) -> None:
        self.answers = {p: render(p, chunks) for p in ("openai_chat", "openai_responses", "anthropic", "gemini")}
        self.slow_delay = slow_delay

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if request.method == "GET":
            return web.Response(body=b'{"status":"ok"}', content_type="application/json")
        raw = await request.read()
        if path.endswith("/chat/completions"):
            protocol = "openai_chat"
        elif path.endswith("/responses"):
            protocol = "openai_responses"
        elif path.endswith("/messages"):
            protocol = "anthropic"
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            protocol = "gemini"
        else:
            return web.Response(
                status=404, body=b'{"error":{"message":"no such route"}}', content_type="application/json"
            )
        if protocol == "gemini":
            stream = ":streamGenerateContent" in path
            slow = "slow" in path
        else:
            body = orjson.loads(raw)
            stream = body.get("stream") is True
            slow = "slow" in str(body.get("model", ""))
        whole, frames = self.answers[protocol]
        if not stream:
            return web.Response(body=whole, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for frame in frames:
            if slow:
                await asyncio.sleep(self.slow_delay)
            await resp.write(frame)
        await resp.write_eof()
        return resp


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--slow-delay", type=float, default=0.1)
    args = parser.parse_args()
    serve(Mock(args.chunks, args.slow_delay).handle, args.port)
