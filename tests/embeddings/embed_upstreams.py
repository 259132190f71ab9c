"""Mock embedding upstreams for the tests: real aiohttp servers on 127.0.0.1 (on the server
tests' :class:`~mock_upstreams.UpstreamHost`).

``EmbedUpstream("openai")`` answers ``POST .../embeddings``; ``EmbedUpstream("gemini")`` answers
``:batchEmbedContents`` (what the gateway always calls). The vectors depend only on the text
(:func:`vector`), in values exact in float32 so ``float`` and ``base64`` answers compare equal;
the OpenAI one reports usage (one token per word), the Gemini one none. Every request is
recorded; scripted replies (errors) are served first, in order.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

import orjson
from aiohttp import web
from mock_upstreams import Recorded, Reply

from switchyard.core.embeddings import pack_floats

DIMENSIONS = 8


def vector(text: str, dimensions: int | None = None) -> list[float]:
    """The mock upstreams' embedding of ``text`` (token ids: their decimal text joined by spaces)."""
    size = dimensions or DIMENSIONS
    return [(b - 128) / 256 for b in hashlib.shake_256(text.encode()).digest(size)]


def words(text: str) -> int:
    return max(1, len(text.split()))


class EmbedUpstream:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.url = ""
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()

    def reset(self) -> None:
        self.requests.clear()
        self.replies.clear()

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def last(self) -> Recorded:
        assert self.requests, f"the {self.kind} embeddings upstream received no request"
        return self.requests[-1]

    async def handle(self, request: web.Request) -> web.Response:
        rec = Recorded(
            request.method,
            request.path,
            request.query_string,
            {k.lower(): v for k, v in request.headers.items()},
            await request.read(),
        )
        self.requests.append(rec)
        if self.replies:
            reply = self.replies.popleft()
            return web.Response(
                status=reply.status, body=reply.body, headers=reply.headers, content_type=reply.content_type
            )
        answer = self.openai(rec.json) if self.kind == "openai" else self.gemini(rec.path, rec.json)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    @staticmethod
    def openai(body: dict[str, Any]) -> dict[str, Any]:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        texts = [t if isinstance(t, str) else " ".join(map(str, t)) for t in inputs]
        pack = body.get("encoding_format") == "base64"
        data = []
        for n, text in enumerate(texts):
            values = vector(text, body.get("dimensions"))
            data.append({"object": "embedding", "index": n, "embedding": pack_floats(values) if pack else values})
        tokens = sum(words(t) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @staticmethod
    def gemini(path: str, body: dict[str, Any]) -> dict[str, Any]:
        def one(item: dict[str, Any]) -> dict[str, Any]:
            text = "\n".join(p["text"] for p in item["content"]["parts"])
            return {"values": vector(text, item.get("outputDimensionality"))}

        assert path.endswith(":batchEmbedContents"), path  # the gateway always asks for the batch
        return {"embeddings": [one(item) for item in body["requests"]]}
