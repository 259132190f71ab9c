"""The Translate view's dry run: the exact upstream request the gateway would send for a body.

The body goes through what a real request goes through up to the wire — the client codec's
``parse_request``, the provider's adapter chain, the upstream codec's ``build_request`` (or the
same-protocol fast path) — and stops there: no upstream call, no key leased, no usage logged.
Credential headers are shown redacted.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from ..core.errors import RequestError
from ..fieldcache import Scope
from ..observability.redact import redact_headers
from ..providers import endpoint_path
from ..server.context import Exchange
from ..server.http import json_object
from ..server.pipeline import Pipeline
from ..server.upstream import fast_body, translated_body

CLIENT_PROTOCOLS = ("openai_chat", "openai_responses", "anthropic", "gemini")


def targets(pipeline: Pipeline) -> list[str]:
    """What the form offers: the aliases, then every provider/model the config names."""
    config = pipeline.config
    named = [f"{name}/{model}" for name, p in config.providers.items() for model in p.models]
    return [*config.models, *named]


async def dry_run(pipeline: Pipeline, protocol: str, raw: bytes, target_name: str) -> dict[str, Any]:
    """{target, provider_protocol, path, fast, headers, body, neutral}; raises GatewayError
    (RequestError, TranslationError) as a real request would."""
    if protocol not in CLIENT_PROTOCOLS:
        raise RequestError(f"protocol must be one of {', '.join(CLIENT_PROTOCOLS)}", param="protocol")
    body = json_object(raw)
    target = pipeline.resolver.resolve(target_name)[0]
    ctx = Exchange(protocol, {"headers": []}, body=body, raw=raw, model=target_name, stream=body.get("stream") is True)
    provider = pipeline.providers[target.provider]
    neutral = dataclasses.asdict(ctx.request_for(target.model))
    out: dict[str, Any] = {"target": str(target), "provider_protocol": provider.protocol, "neutral": neutral}
    if provider.protocol == "mock":  # answered inside the gateway: there is no upstream request
        return out | {"fast": False, "path": None, "headers": {}, "body": None}
    assert provider.chain is not None
    fast = provider.protocol == protocol and (provider.config.adapters is None or not provider.chain.rewrites)
    key_id = provider.pool.keys[0].id
    if fast:
        wire = fast_body(ctx, target.model)
    else:
        wire = await translated_body(ctx, provider, target.model, Scope(provider.name, target.model, key_id, None))
    headers = provider.request_headers(provider.pool.keys[0].key, None, ctx.stream)
    return out | {
        "fast": fast,
        "path": provider.url(endpoint_path(provider.protocol, target.model, ctx.stream)),
        "headers": redact_headers(headers, [k.key for k in provider.pool.keys if k.key]),
        "body": orjson.loads(wire),
    }
