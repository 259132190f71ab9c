"""The embeddings endpoints: OpenAI's ``POST /v1/embeddings`` and Gemini's ``:embedContent`` /
``:batchEmbedContents``.

The client's body becomes a core :class:`~switchyard.core.embeddings.EmbedRequest` (its
protocol's ``embeddings`` codec); the attempt loop runs it like a generate request — key pools,
retries, cooldowns, fallback groups — each attempt building the target protocol's body
(``/embeddings`` on an OpenAI-compatible base URL, the built-in mock's included;
``:batchEmbedContents`` on Gemini's); the answer goes back in the client's shape. An answer
without usage (Gemini's) gets the gateway's estimate, marked estimated.

With ``providers.<name>.embedding_batch`` set for the first target of the requested model,
requests with fewer inputs than ``max_inputs`` go through a :class:`~switchyard.embeddings.Batcher`:
concurrent ones with the same targets, dimensions, encoding, user, extra fields and client
credential become one request (one attempt loop, one upstream call per attempt), split back
afterwards. Every member request is admitted, logged and settled on its own, with the batch's
target and attempts and its own share of the usage.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from functools import partial
from typing import Any

import orjson

from ..core.embeddings import EmbedRequest, EmbedResponse
from ..core.errors import ErrorKind, GatewayError
from ..core.model import Usage
from ..embeddings import Batcher, input_tokens, merge, split
from ..keys import Lease
from ..observability import trace
from ..protocols import embeddings_codec
from ..protocols.gemini import embeddings as gemini_embeddings
from ..protocols.openai_chat import embeddings as openai_embeddings
from ..providers import embeddings_path
from ..routing import Target
from .context import Exchange
from .pipeline import Pipeline, Reply
from .upstream import post_json

Member = tuple[Exchange, EmbedRequest]


class Embedder:
    """Answers embedding requests; holds one batcher per provider that opted in."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.batchers: dict[str, Batcher[Member, EmbedResponse]] = {
            name: Batcher(batch.max_inputs, batch.max_wait_ms / 1000, self._flush)
            for name, config in pipeline.config.providers.items()
            if (batch := config.embedding_batch) is not None
        }

    async def __call__(self, ctx: Exchange, batch: bool = False) -> Reply:
        """``batch``: a Gemini client's ``batchEmbedContents``."""
        ctx.stream = False  # an embeddings answer is never streamed, whatever the body says
        req, answer = _client_request(ctx, batch)
        resp = await self.embed(ctx, req)
        ctx.usage = resp.usage
        return Reply(body=orjson.dumps(answer(resp)))

    async def embed(self, ctx: Exchange, req: EmbedRequest) -> EmbedResponse:
        targets = self.pipeline.resolver.resolve(ctx.model)
        batcher = self.batchers.get(targets[0].provider)
        if batcher is None or len(req.inputs) >= batcher.max_size:
            return await self._run(ctx, req)
        return await batcher.submit(_batch_key(ctx, req, targets), (ctx, req), len(req.inputs))

    async def _flush(self, members: list[Member]) -> list[EmbedResponse]:
        """One request for the batch, run for its first member's caller, split back to all."""
        first = members[0][0]
        batch = Exchange(
            first.protocol, first.headers, model=first.model, credential=first.credential, trace=first.trace
        )
        requests = [req for _, req in members]
        try:
            resp = await self._run(batch, merge(requests))
        finally:
            for ctx, _ in members:
                ctx.target, ctx.attempts = batch.target, list(batch.attempts)
                ctx.upstream_wait += batch.upstream_wait
        return split(resp, requests)

    async def _run(self, ctx: Exchange, req: EmbedRequest) -> EmbedResponse:
        async def call(target: Target, lease: Lease) -> EmbedResponse:
            return await self._attempt(ctx, req, target, lease)

        outcome = await self.pipeline.run(ctx, call)
        outcome.lease.pool.release(outcome.lease)
        resp = outcome.result
        if resp.usage is None:  # unknown, so estimated (never 0)
            resp.usage = Usage(input_tokens=input_tokens(req), estimated=True)
        return resp

    async def _attempt(self, ctx: Exchange, req: EmbedRequest, target: Target, lease: Lease) -> EmbedResponse:
        ctx.target = target
        provider = self.pipeline.providers[target.provider]
        req = replace(req, model=target.model)
        codec = embeddings_codec(provider.protocol)
        path = embeddings_path(provider.protocol, target.model)
        if codec is None or path is None:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"the model '{target}' cannot embed: provider '{provider.name}' ({provider.protocol}) "
                "has no embeddings endpoint",
                param="model",
            )
        body = orjson.dumps(codec.build_embed_request(req))
        if ctx.trace is not None:
            ctx.trace(trace.UPSTREAM_REQUEST, {"url": provider.url(path), "body": body.decode()})
        answer = await post_json(ctx, provider, lease, path, body, self.pipeline.transport)
        if ctx.trace is not None:
            ctx.trace(trace.UPSTREAM_RESPONSE, answer)
        resp = codec.parse_embed_response(answer, len(req.inputs))
        resp.model = resp.model or target.model
        return resp


def _client_request(ctx: Exchange, batch: bool) -> tuple[EmbedRequest, Callable[[EmbedResponse], dict[str, Any]]]:
    """The client's request in core form (``batch``: Gemini's ``batchEmbedContents``), and how to
    format its answer."""
    assert ctx.body is not None
    if ctx.protocol == "gemini":
        req = gemini_embeddings.parse_embed_request(ctx.body, ctx.model, batch)
        return req, partial(gemini_embeddings.format_embed_response, batch=batch)
    req = openai_embeddings.parse_embed_request(ctx.body)
    return req, partial(openai_embeddings.format_embed_response, req=req)


def _batch_key(ctx: Exchange, req: EmbedRequest, targets: tuple[Target, ...]) -> Hashable:
    """What requests must share to go upstream as one."""
    credential = ctx.credential.id if ctx.credential is not None else None
    extra = orjson.dumps(req.extensions, option=orjson.OPT_SORT_KEYS) if req.extensions else b""
    return targets, req.dimensions, req.encoding, req.user, credential, extra
