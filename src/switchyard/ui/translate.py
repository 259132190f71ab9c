"""The Translate view's dry run: the exact upstream request the gateway would send for a body.

The body goes through what a real request goes through up to the wire — the client codec's
``parse_request``, the provider's adapter chain, the upstream codec's ``build_request`` (or the
same-protocol fast path) — and stops there: no upstream call, no key leased, no usage logged.
Credential headers are shown redacted. :func:`run` sends it for real, on request.
"""

from __future__ import annotations

import dataclasses
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from ..core.errors import RequestError
from ..fieldcache import Scope
from ..observability import trace
from ..observability.redact import redact_headers
from ..providers import endpoint_path
from ..server.context import Exchange
from ..server.errors import as_gateway_error, error_response
from ..server.http import json_object
from ..server.pipeline import Pipeline
from ..server.upstream import fast_path, upstream_body

if TYPE_CHECKING:
    from ..server.app import App

CLIENT_PROTOCOLS = ("openai_chat", "openai_responses", "anthropic", "gemini")


def targets(pipeline: Pipeline) -> list[str]:
    """What the form offers: the aliases, then every provider/model the config names."""
    config = pipeline.config
    named = [f"{name}/{model}" for name, p in config.providers.items() for model in p.models]
    return [*config.models, *named]


def exchange(protocol: str, raw: bytes, target_name: str) -> Exchange:
    """The request as the gateway holds it, addressed to ``target_name`` (RequestError for an
    unknown protocol or a body that is not a JSON object)."""
    if protocol not in CLIENT_PROTOCOLS:
        raise RequestError(f"protocol must be one of {', '.join(CLIENT_PROTOCOLS)}", param="protocol")
    body = json_object(raw)
    return Exchange(protocol, [], body=body, raw=raw, model=target_name, stream=body.get("stream") is True)


async def dry_run(pipeline: Pipeline, ctx: Exchange) -> dict[str, Any]:
    """{target, provider_protocol, path, fast, headers, body, neutral} for ``ctx``'s first target;
    raises GatewayError (RequestError, TranslationError) as a real request would."""
    target = pipeline.resolver.resolve(ctx.model)[0]
    provider = pipeline.providers[target.provider]
    neutral = dataclasses.asdict(ctx.request_for(target.model))
    out: dict[str, Any] = {"target": str(target), "provider_protocol": provider.protocol, "neutral": neutral}
    fast = fast_path(provider, ctx.protocol, ctx.raw)
    key = provider.pool.keys[0] if provider.pool.keys else None  # none: a passthrough provider
    key_id = key.id if key is not None else "passthrough"
    wire = await upstream_body(ctx, provider, target, Scope(provider.name, target.model, key_id, None), fast)
    headers = provider.request_headers(key.key if key is not None else "", [], ctx.stream)
    return out | {
        "fast": fast,
        "path": provider.url(endpoint_path(provider.protocol, target.model, ctx.stream)),
        "headers": redact_headers(headers, [k.key for k in provider.pool.keys if k.key]),
        "body": orjson.loads(wire),
    }


async def run(app: App, ctx: Exchange) -> dict[str, Any]:
    """Send ``ctx`` through the gateway for real (keys, attempts, fallback), as an admin: no client
    key's limits, but logged, priced and traced like any request. {request_id, status, body}."""
    if app.tracer.enabled:
        ctx.trace = partial(app.tracer.write, ctx.id)
        ctx.trace(trace.CLIENT_REQUEST, ctx.body)
    try:
        reply = await app.pipeline.generate(ctx)
        ctx.status, ctx.first_byte_at = reply.status, time.perf_counter()
        body = b"".join([chunk async for chunk in reply.stream]) if reply.stream is not None else reply.body
    except Exception as exc:
        ctx.error = as_gateway_error(exc, ctx.id)
        ctx.status, body, _ = error_response(ctx.protocol, ctx.error)
    finally:
        app.notify(ctx)
    return {"request_id": ctx.id, "status": ctx.status, "body": body.decode("utf-8", "replace")}
