"""The small endpoints: health, model listings, and Anthropic token counting.

``GET /v1/models`` answers in the OpenAI list shape and also carries the fields the Anthropic
SDK's ``models.list`` reads (``type``, ``display_name``, ``created_at``; ``has_more``,
``first_id``, ``last_id``), so both SDKs can list. ``GET /v1beta/models`` answers in Gemini's
shape. The models listed are the configured aliases (without wildcards) and every
``provider/model`` a provider declares.

``POST /v1/messages/count_tokens`` counts with the target's own endpoint where its protocol has
one (Anthropic: the body forwarded with the model rewritten; Gemini ``countTokens``; Responses
``input_tokens``). An OpenAI Chat upstream has none, so the gateway estimates (request JSON
bytes / 4); the mock counts words.
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import mock
from ..core.errors import ErrorKind, GatewayError
from ..keys import Lease
from ..protocols import codec
from ..providers import count_tokens_path
from ..routing import Target
from .context import Exchange
from .pipeline import Pipeline, Reply
from .upstream import ENVELOPE, fast_body, post_json

EPOCH = "1970-01-01T00:00:00Z"
GEMINI_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]
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


async def count_tokens(pipeline: Pipeline, ctx: Exchange) -> Reply:
    assert ctx.body is not None
    # a count_tokens body is a Messages body without max_tokens, which the Messages parser requires
    counted = Exchange("anthropic", ctx.headers, body={"max_tokens": 1, **ctx.body}, model=ctx.model)

    async def call(target: Target, lease: Lease) -> int:
        provider = pipeline.providers[target.provider]
        protocol = provider.protocol
        req = counted.request_for(target.model)
        if provider.envelopes is not None:
            req = provider.envelopes.open_request(req, protocol)
        if protocol == "mock":
            return mock.count_tokens(req)
        path = count_tokens_path(protocol, target.model)
        if protocol == "anthropic" and path:
            body = fast_body(ctx, target.model)
            if ENVELOPE in body:  # envelopes are opened or dropped, never forwarded
                native = codec(protocol).build_request(req)
                body = orjson.dumps({k: v for k, v in native.items() if k != "max_tokens"})
            answer = await post_json(ctx, provider, lease, path, body, pipeline.transport)
            return _count(answer, "input_tokens")
        built = codec(protocol).build_request(req)
        if protocol == "gemini" and path:
            name = target.model if target.model.startswith(("models/", "tunedModels/")) else f"models/{target.model}"
            body = {"generateContentRequest": {"model": name, **built}}
            answer = await post_json(ctx, provider, lease, path, orjson.dumps(body), pipeline.transport)
            return _count(answer, "totalTokens")
        if protocol == "openai_responses" and path:
            body = {k: v for k, v in built.items() if k in RESPONSES_COUNT_FIELDS}
            answer = await post_json(ctx, provider, lease, path, orjson.dumps(body), pipeline.transport)
            return _count(answer, "input_tokens")
        return max(1, len(orjson.dumps(built)) // 4)  # no counting endpoint: an estimate

    outcome = await pipeline.run(ctx, call)
    outcome.lease.pool.release(outcome.lease)
    return Reply(body=orjson.dumps({"input_tokens": outcome.result}))


def _count(answer: dict[str, Any], key: str) -> int:
    value = answer.get(key)
    if not isinstance(value, int):
        raise GatewayError(ErrorKind.SERVER, f"the upstream's token count has no '{key}'", status=502)
    return value
