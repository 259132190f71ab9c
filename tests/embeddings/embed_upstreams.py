"""Mock embedding upstreams for the tests: real aiohttp servers on 127.0.0.1 (on the server
tests' :class:`~mock_upstreams.UpstreamHost`).

``EmbedUpstream("openai")`` answers ``POST .../embeddings``; ``EmbedUpstream("gemini")`` answers
``:batchEmbedContents`` (what the gateway always calls). The vectors depend only on the text
(:func:`vector`), in values exact in float32 so ``float`` and ``base64`` answers compare equal;
the OpenAI one reports usage (one token per word), the Gemini one none. As every mock upstream,
they record each request and serve scripted replies (errors) first, in order.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from mock_upstreams import MockUpstream, Recorded, Reply

from switchyard.core.embeddings import pack_floats

DIMENSIONS = 8


def vector(text: str, dimensions: int | None = None) -> list[float]:
    """The mock upstreams' embedding of ``text`` (token ids: their decimal text joined by spaces)."""
    size = dimensions or DIMENSIONS
    return [(b - 128) / 256 for b in hashlib.shake_256(text.encode()).digest(size)]


def words(text: str) -> int:
    return max(1, len(text.split()))


class EmbedUpstream(MockUpstream):
    """A :class:`~mock_upstreams.MockUpstream` whose default answer is the embeddings of its
    request; ``kind``: ``openai`` | ``gemini``."""

    def __init__(self, kind: str) -> None:
        super().__init__("gemini" if kind == "gemini" else "openai_chat")
        self.kind = kind

    def default_reply(self, rec: Recorded) -> Reply:
        answer = self.openai(rec.json) if self.kind == "openai" else self.gemini(rec.path, rec.json)
        return Reply(body=orjson.dumps(answer))

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
