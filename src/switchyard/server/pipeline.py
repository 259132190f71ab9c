"""The generate pipeline: resolve the model, attempt its targets, answer the client.

::

    Exchange (client protocol, body, model, stream flag)
      -> ModelResolver.resolve(model)                       404 unknown / 400 ambiguous
      -> run_attempts(targets, key pools, attempt)          keys, then fallback targets
           attempt: mock | fast path | translation         (server/upstream.py)
      -> Reply: relayed bytes | formatted core Response | stream relay (server/relay.py)

Everything protocol-specific happens in the codecs; this module only chooses between them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import orjson

from .. import tokenizer
from ..accounting import estimate
from ..config import Config
from ..core.errors import ErrorKind, GatewayError
from ..keys import KeyPool, Lease, classify
from ..keys.passthrough import CredentialIds, installation_secret
from ..observability.redact import SecretMask
from ..protocols import codec
from ..providers import PROVIDER_TYPES, credential_fits
from ..routing import AttemptsExhausted, ModelResolver, Outcome, Target, run_attempts
from ..transport import Transport
from .context import Exchange
from .http import JSON, Headers
from .relay import Done, Persist, relay_fast, relay_translated
from .responses_state import ResponsesState
from .upstream import Provider, Relayed, Translated, UpstreamStream, attempt, pools

T = TypeVar("T")
log = logging.getLogger("switchyard.server")

# request headers that name a client session (keeps a session on one key: better prompt caching)
SESSION_HEADERS = (b"x-session-id", b"session-id", b"x-claude-code-session-id")


@dataclass(slots=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: bytes = JSON
    stream: AsyncGenerator[bytes, None] | None = None
    headers: Headers = field(default_factory=list)


class Pipeline:
    """Built once per server from the config; shared by all requests."""

    def __init__(self, config: Config, transport: Transport) -> None:
        self.config = config
        self.transport = transport
        self.resolver = ModelResolver(config)
        self.providers = {name: Provider(p) for name, p in config.providers.items()}
        self.pools = pools(self.providers)
        self.responses: ResponsesState | None = None
        """Stored Responses; set once the state store is open (App start-up)."""
        self.mask = SecretMask()
        """Masks upstream credentials in errors relayed in-band (set by the App)."""
        passthrough = any(p.passthrough is not None for p in self.providers.values())
        self.credential_ids = CredentialIds(installation_secret(config.server.data_dir)) if passthrough else None
        """Makes clients' own credentials with their keyed-hash ids (None: no passthrough provider)."""
        openai = any(_counted_here(p) for p in self.providers.values())
        self.tokenizers = tokenizer.load() if openai else tokenizer.Tokenizers()
        """Local token counts (OpenAI-family models; each encoding read on its first use)."""

    async def run(self, ctx: Exchange, call: Callable[[Target, Lease], Awaitable[T]]) -> Outcome[T]:
        """Resolve ``ctx.model`` and run the attempt loop with ``call``."""
        targets = self.resolver.resolve(ctx.model)
        pools = self.pools
        if self.credential_ids is not None:
            targets, pools = self._credential_pools(ctx, targets)
        named = _session(ctx)
        ctx.session = named or _body_session(ctx) or _identity(ctx)
        ctx.affinity = named or (ctx.session if (ctx.body or {}).get("tools") else None)
        routing = self.config.routing
        try:
            outcome = await run_attempts(
                targets,
                pools,
                call,
                retries=max(routing.retries, len(targets) - 1),
                deadline=time.monotonic() + routing.timeouts.request,
                session=ctx.affinity,
            )
        except AttemptsExhausted as exc:
            ctx.attempts = exc.attempts
            raise
        ctx.target, ctx.attempts = outcome.target, outcome.attempts
        provider = self.providers[outcome.target.provider]
        if _counted_here(provider):
            ctx.count = self.tokenizers.counter(provider.protocol, outcome.target.model)
        return outcome

    async def prepare(self, ctx: Exchange) -> None:
        """Before admission: complete what the request will send upstream (a Responses request's
        ``item_reference`` items and ``previous_response_id`` lineage, from the store), so that
        its size — the bound on its prompt that governance reserves for — is the real one."""
        if ctx.protocol == "openai_responses" and self.responses is not None:
            await self.responses.prepare(ctx)

    def _credential_pools(
        self, ctx: Exchange, targets: tuple[Target, ...]
    ) -> tuple[tuple[Target, ...], dict[str, KeyPool]]:
        """The targets that can serve the request with the credential it brings (or none), and
        their pools: a passthrough provider leases the client's own credential's pool."""
        credential = ctx.credential
        kept, pools = [], {}
        for target in targets:
            provider = self.providers[target.provider]
            pool = provider.pool_for(credential)
            if pool is None or (pool.passthrough and not credential_fits(provider.protocol, credential.value)):
                continue
            kept.append(target)
            pools[target.provider] = pool
        if kept:
            return tuple(kept), pools
        name = targets[0].provider
        if credential is None:
            header = self.config.server.client_key_header
            message = (
                f"provider '{name}' uses the caller's own upstream credential and none was sent: send it as "
                f"'Authorization: Bearer <credential>', 'x-api-key' or 'x-goog-api-key' "
                f"(and the gateway key, when it needs one, in '{header}')"
            )
        else:
            protocol = self.providers[name].protocol
            message = f"the credential sent is not one for provider '{name}' ({protocol}): send a credential it accepts"
        raise GatewayError(ErrorKind.AUTHENTICATION, message)

    async def generate(self, ctx: Exchange) -> Reply:
        """Answer a prepared request (:meth:`prepare`)."""
        stored = ctx.protocol == "openai_responses" and self.responses is not None

        async def call(target: Target, lease: Lease):
            return await attempt(ctx, self.providers[target.provider], target, lease, self.transport)

        outcome = await self.run(ctx, call)
        answer, lease = outcome.result, outcome.lease
        if isinstance(answer, Relayed | Translated):
            lease.pool.release(lease)
        if isinstance(answer, Relayed):
            ctx.relayed = answer.body
            if stored and ctx.store_response:
                await self._save(ctx, _json_object(answer.body))
            return Reply(body=answer.body, content_type=answer.content_type.encode("latin-1"))
        if isinstance(answer, Translated):
            resp = answer.response
            if resp.usage is None:  # the upstream reported none: unknown, so estimated (never 0)
                resp.usage = estimate.response_usage(ctx.estimated_input(), resp, ctx.count)
            ctx.usage, ctx.stop_reason = resp.usage, resp.stop_reason
            if ctx.response_id:
                resp.id = ctx.response_id
            resp.created = resp.created or int(time.time())  # Anthropic answers carry no time
            envelopes = self.providers[outcome.target.provider].envelopes
            if envelopes is not None:
                resp = envelopes.seal_response(resp, ctx.protocol)
            formatted = codec(ctx.protocol).format_response(resp, ctx.request())
            if stored:
                await self._save(ctx, formatted)
            return Reply(body=orjson.dumps(formatted))
        done = _releaser(lease)
        # a stored stream is saved before its terminal event goes out (and, cut short, at its end)
        persist = Persist(partial(self._save, ctx)) if stored and ctx.store_response else None
        if isinstance(answer, UpstreamStream) and answer.fast:
            stream = relay_fast(ctx, answer, done, self.mask, persist)
        else:
            assert isinstance(answer, UpstreamStream)
            provider = self.providers[outcome.target.provider]
            seal = provider.envelopes.sealer(ctx.protocol, provider.protocol) if provider.envelopes else None
            stream = relay_translated(ctx, answer, done, seal, self.mask, persist)
        if persist is not None:
            stream = _stored(ctx, stream, persist)
        return Reply(stream=stream)

    async def _save(self, ctx: Exchange, response: dict | None) -> None:
        """Store a Responses answer; a failure is logged and never breaks the answer itself."""
        try:
            await self.responses.save(ctx, response)  # type: ignore[union-attr]
        except Exception:
            log.exception("request %s: the response could not be stored", ctx.id)


async def _stored(ctx: Exchange, stream: AsyncGenerator[bytes, None], persist: Persist) -> AsyncGenerator[bytes, None]:
    """Relay ``stream``; one that ended without its terminal event (the client went away, the
    relay failed) is stored at its end, with what it had (see ResponsesState.save)."""
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await stream.aclose()
        await persist(ctx.final_response)


def _json_object(raw: bytes) -> dict | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _counted_here(provider: Provider) -> bool:
    """Whether the gateway counts the provider's tokens with a tokenizer of its own: an OpenAI-family
    provider, unless its type counts for itself (the mock)."""
    return provider.protocol in tokenizer.OPENAI_FAMILY and PROVIDER_TYPES[provider.config.type].counts_tokens is None


def _releaser(lease: Lease) -> Done:
    def done(error: GatewayError | None) -> None:
        if error is None:
            lease.pool.release(lease)
        else:
            lease.pool.release(lease, classify(error.kind), error.retry_after, f"{error.status} {error.kind}")

    return done


def _body_session(ctx: Exchange) -> str | None:
    """A session named in the body: Anthropic ``metadata.user_id``, OpenAI ``prompt_cache_key`` or ``user``."""
    body = ctx.body or {}
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        return "user:" + metadata["user_id"]
    for key in ("prompt_cache_key", "user", "safety_identifier"):
        if isinstance(body.get(key), str) and body[key]:
            return f"{key}:{body[key]}"
    return None


def _identity(ctx: Exchange) -> str:
    """The caller's identity for the field cache: the upstream credential it brought, if any
    (passthrough), else its gateway identity."""
    return "client:" + ctx.credential.id if ctx.credential is not None else ctx.caller


def _session(ctx: Exchange) -> str | None:
    for name, value in ctx.headers:
        if name in SESSION_HEADERS:
            return value.decode("latin-1")
    return None
