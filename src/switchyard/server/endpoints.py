"""The small endpoints: health, model listings, and token counting.

``GET /v1/models`` answers in the OpenAI list shape and also carries the fields the Anthropic
SDK's ``models.list`` reads (``type``, ``display_name``, ``created_at``; ``has_more``,
``first_id``, ``last_id``), so both SDKs can list. ``GET /v1beta/models`` answers in Gemini's
shape. The models listed are the configured aliases (without wildcards) and every
``provider/model`` a provider declares.

``POST /v1/messages/count_tokens`` (Anthropic) and ``POST /v1beta/models/{model}:countTokens``
(Gemini; ``contents`` or ``generateContentRequest``) count for any target: with the target's own
endpoint where its protocol has one (Anthropic: an Anthropic client's body forwarded with the
model rewritten; Gemini ``countTokens``; Responses ``input_tokens``), the local count otherwise
(an OpenAI Chat target: tiktoken, or the approximation without its encodings), or the endpoint
its provider type declares (``counts_tokens``: the mock counts words at the Responses
``input_tokens`` endpoint). The ``x-switchyard-token-count`` header says which (:data:`TOKEN_COUNT_HEADER`).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..accounting import estimate
from ..core.errors import ErrorKind, GatewayError
from ..keys import Lease
from ..protocols import codec
from ..providers import PROVIDER_TYPES, count_tokens_path
from ..routing import Target
from .context import Exchange
from .pipeline import Pipeline, Reply
from .upstream import ENVELOPE, fast_body, post_json

EPOCH = "1970-01-01T00:00:00Z"
GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"]
# fields the Responses input_tokens endpoint takes (a built create body has more)
RESPONSES_COUNT_FIELDS = (
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "truncation",
    "conversation",
)


def health() -> dict[str, Any]:
    return {"status": "ok"}


def _owner(pipeline: Pipeline, name: str) -> str:
    try:
        return pipeline.resolver.resolve(name)[0].provider
    except GatewayError:
        return "switchyard"


def openai_model(pipeline: Pipeline, name: str) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": 0,
        "owned_by": _owner(pipeline, name),
        "type": "model",
        "display_name": name,
        "created_at": EPOCH,
    }


def openai_models(pipeline: Pipeline) -> dict[str, Any]:
    data = [openai_model(pipeline, name) for name in pipeline.resolver.listed()]
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def gemini_model(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": "1",
        "displayName": name,
        "description": "served by Switchyard",
        "supportedGenerationMethods": GEMINI_METHODS,
    }


def gemini_models(pipeline: Pipeline) -> dict[str, Any]:
    return {"models": [gemini_model(name) for name in pipeline.resolver.listed()]}


def known_model(pipeline: Pipeline, name: str) -> str:
    """``name`` if it resolves (raises the resolver's 404 / 400 otherwise)."""
    pipeline.resolver.resolve(name)
    return name


# ---------------------------------------------------------------------------- count_tokens

TOKEN_COUNT_HEADER = b"x-switchyard-token-count"
"""Says where a count came from: ``upstream`` (the target's own counting endpoint, or the mock),
``tokenizer`` (tiktoken, for an OpenAI Chat target) or ``estimate`` (the approximation)."""
COUNT_KEY = {"anthropic": "input_tokens", "gemini": "totalTokens"}  # the client's answer field


def _counted(ctx: Exchange) -> Exchange:
    """The request to count, as a generate request of the client's protocol."""
    assert ctx.body is not None
    if ctx.protocol == "gemini":  # ``contents`` …, or all of it in ``generateContentRequest``
        inner = ctx.body.get("generateContentRequest")
        body = {k: v for k, v in inner.items() if k != "model"} if isinstance(inner, dict) else ctx.body
        return Exchange("gemini", ctx.headers, body=body, model=ctx.model)
    # a count_tokens body is a Messages body without max_tokens, which the Messages parser requires
    return Exchange("anthropic", ctx.headers, body={"max_tokens": 1, **ctx.body}, model=ctx.model)


async def count_tokens(pipeline: Pipeline, ctx: Exchange) -> Reply:
    """Anthropic ``count_tokens`` and Gemini ``countTokens`` for any target: the target's own
    count where its protocol has an endpoint for it, the local count otherwise."""
    counted = _counted(ctx)

    async def call(target: Target, lease: Lease) -> tuple[int, str, dict[str, Any]]:
        provider = pipeline.providers[target.provider]
        protocol = PROVIDER_TYPES[provider.config.type].counts_tokens or provider.protocol
        req = counted.request_for(target.model)
        if provider.envelopes is not None:
            req = provider.envelopes.open_request(req, protocol)
        path = count_tokens_path(protocol, target.model)
        if path is None:  # no counting endpoint (OpenAI Chat): counted here
            count = pipeline.tokenizers.counter(protocol, target.model)
            return estimate.request_tokens(req, count), "estimate" if count is None else "tokenizer", {}
        body = fast_body(ctx, target.model) if protocol == ctx.protocol == "anthropic" else b""
        if not body or ENVELOPE in body:  # envelopes are opened or dropped, never forwarded
            body = orjson.dumps(_count_body(protocol, target.model, codec(protocol).build_request(req)))
        answer = await post_json(ctx, provider, lease, path, body, pipeline.transport)
        key = "totalTokens" if protocol == "gemini" else "input_tokens"
        return _count(answer, key), "upstream", answer if protocol == ctx.protocol else {}

    outcome = await pipeline.run(ctx, call)
    outcome.lease.pool.release(outcome.lease)
    tokens, source, native = outcome.result
    payload = {**native, COUNT_KEY[ctx.protocol]: tokens}  # a same-protocol answer as the upstream gave it
    return Reply(body=orjson.dumps(payload), headers=[(TOKEN_COUNT_HEADER, source.encode())])


def _count_body(protocol: str, model: str, built: dict[str, Any]) -> dict[str, Any]:
    """The body of ``protocol``'s counting endpoint, from a built generate request."""
    if protocol == "gemini":
        name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
        return {"generateContentRequest": {"model": name, **built}}
    if protocol == "openai_responses":
        return {k: v for k, v in built.items() if k in RESPONSES_COUNT_FIELDS}
    return {k: v for k, v in built.items() if k != "max_tokens"}  # anthropic


def _count(answer: dict[str, Any], key: str) -> int:
    value = answer.get(key)
    if not isinstance(value, int):
        raise GatewayError(ErrorKind.SERVER, f"the upstream's token count has no '{key}'", status=502)
    return value
