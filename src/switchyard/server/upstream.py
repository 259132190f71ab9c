"""One attempt at one target: build the upstream request, send it, check how the answer starts.

:func:`attempt` is the ``call`` the attempt loop (:func:`switchyard.routing.run_attempts`) runs
for each (target, key). It returns an *answer* once the outcome is known well enough that no
fallback is needed any more, and raises :class:`GatewayError` for anything that failed *before a
byte went to the client*, so the loop can try the next key or target:

- an HTTP error status (the upstream codec's ``parse_error``; the retry hint taken from the
  body or else from ``retry-after-ms`` / ``retry-after`` / rate-limit reset headers);
- a connection error or timeout (:mod:`switchyard.transport`);
- for streams, an in-band error or the end of the stream before any content: the stream is
  *primed* — read until its first content event (or its end) within ``timeouts.first_byte`` —
  and the bytes read so far are held for the relay.
- for non-streaming answers, a 200 whose body is not JSON or is an error object (some
  OpenAI-compatible servers answer errors that way).

Two kinds of answer: the same-protocol fast path (the client's body forwarded with only the model
rewritten; Gemini's body untouched and the model in the URL), and translation (client core
request -> upstream ``build_request``). The built-in mock is an upstream like any other (the
transport answers it in-process).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from .. import prompt_cache
from ..adapters import AdapterChain
from ..config import ProviderConfig
from ..core.errors import ErrorKind, GatewayError
from ..core.events import Event, Heartbeat, StreamError, is_content
from ..core.jsonbytes import replace_string_member
from ..core.model import Response
from ..core.sse import SSEDecoder
from ..fieldcache import Scope
from ..keys import KeyPool, Lease, retry_after_from_headers
from ..keys.passthrough import Credential, PassthroughPools
from ..observability import trace
from ..observability.redact import REDACTED, redact
from ..protocols import codec
from ..protocols.watch import StreamWatcher
from ..providers import PROVIDER_TYPES, auth_headers, endpoint_path, passthrough_auth_headers
from ..routing import Target
from ..tokenizer import OPENAI_FAMILY
from ..transport import Transport, UpstreamResponse, read_limited, upstream_failure
from .context import Exchange
from .envelope import PREFIX, Envelopes
from .http import Headers

ENVELOPE = PREFIX.encode()

HOSTED_TOOLS = "_hosted_tools"  # Request.extensions key where the Responses codec keeps hosted tools


class Provider:
    """A configured provider, ready for requests: static headers, URL base, key pool, and the
    pools of its clients' own credentials (``credentials: passthrough | either``)."""

    __slots__ = (
        "auth", "base_url", "build_options", "chain", "config", "credential_headers", "envelopes", "fast", "headers",
        "name", "passthrough", "pool", "protocol", "timeouts", "token_field",
    )  # fmt: skip

    def __init__(self, config: ProviderConfig) -> None:
        ptype = PROVIDER_TYPES[config.type]
        self.config = config
        self.name = config.name
        self.protocol = ptype.protocol
        self.base_url = config.base_url
        self.auth = ptype.auth
        self.credential_headers = tuple(name.encode() for name in ptype.credential_headers)
        self.headers = {"content-type": "application/json", **ptype.headers, **config.headers}
        self.timeouts = config.routing.timeouts
        self.chain = AdapterChain.from_config(
            config.adapters, protocol=self.protocol, unsupported=config.dropped_params
        )
        """Transforms for translated requests (its last stage drops the provider's unsupported
        parameters); the field cache is attached at start-up."""
        self.envelopes: Envelopes | None = None
        """Seals state handed out in another protocol's carrier, opens it when it comes back (start-up)."""
        self.token_field = config.token_limit_field
        """Chat Completions: the field the token limit goes in (``max_tokens`` / ``max_completion_tokens``)."""
        self.build_options = {"max_tokens_field": self.token_field} if self.token_field else {}
        """Keyword options for the upstream codec's ``build_request``, from the declaration."""
        own_rewrites = config.adapters is not None and self.chain.rewrites
        self.fast = not own_rewrites and not config.unsupported_params
        """Same-protocol requests may take the fast path: no adapter of the provider's own rewrites
        requests, and it declared no ``unsupported_params`` (the defaults apply to built requests)."""
        # a keyless provider (mock, a local server) has one empty key; a passthrough one none
        keys = config.api_keys or ([] if config.credentials == "passthrough" else [""])
        self.pool = self._pool(keys)
        self.passthrough = (
            PassthroughPools(lambda cid: self._pool([""], ids=[cid], passthrough=True))
            if config.credentials != "pool"
            else None
        )

    def _pool(self, keys: list[str], **kwargs: Any) -> KeyPool:
        routing = self.config.routing
        return KeyPool(
            self.name,
            keys,
            rotation=routing.rotation,
            session_affinity=routing.session_affinity,
            cooldown=routing.cooldown,
            max_concurrency=self.config.max_concurrency,
            **kwargs,
        )

    def pool_for(self, credential: Credential | None) -> KeyPool | None:
        """The pool to lease from for a request bringing ``credential`` (None: this provider
        cannot serve a request without one)."""
        if self.passthrough is None:
            return self.pool
        if credential is not None:
            return self.passthrough.get(credential.id)
        return self.pool if self.config.credentials == "either" else None

    def url(self, path: str) -> str:
        return self.base_url + path

    def request_headers(
        self, key: str, client: Headers, stream: bool, credential: Credential | None = None
    ) -> dict[str, str]:
        """Upstream headers: the type's and the config's, the credential, and the client's
        ``anthropic-beta`` for Anthropic upstreams. With the client's own ``credential``, the
        client headers that belong to it (:attr:`ProviderType.credential_headers`) go too.
        Nothing else of the client's goes upstream."""
        headers = dict(self.headers)
        beta = _client_header(client, b"anthropic-beta")
        if beta and self.protocol == "anthropic":
            own = headers.get("anthropic-beta")
            headers["anthropic-beta"] = f"{own},{beta}" if own else beta
        if stream:
            headers["accept"] = "text/event-stream"
        if credential is None:
            headers.update(auth_headers(self.auth, key))
            return headers
        for name, value in client:
            if name in self.credential_headers:
                headers[name.decode("latin-1")] = value.decode("latin-1")
        headers.update(passthrough_auth_headers(self.auth, credential.value))
        return headers


# ---------------------------------------------------------------------------- answers


@dataclass(slots=True)
class Relayed:
    """A same-protocol non-streaming answer: the upstream's bytes, sent on as they are."""

    body: bytes
    content_type: str


@dataclass(slots=True)
class Translated:
    """A non-streaming answer in core form (from a translated upstream)."""

    response: Response


class UpstreamStream:
    """An upstream SSE response being read: raw chunks plus the core events decoded from them.

    The decoder always runs — on the fast path it only observes (usage, stop reason, errors): a
    :class:`~switchyard.protocols.watch.StreamWatcher`, which leaves content frames undecoded.
    """

    __slots__ = ("decoder", "fast", "finished", "heartbeat", "held", "protocol", "resp", "sse", "url")

    def __init__(self, protocol: str, resp: UpstreamResponse, url: str, fast: bool, heartbeat: float = 0.0) -> None:
        self.protocol = protocol
        self.resp = resp
        self.url = url
        self.fast = fast
        self.heartbeat = heartbeat
        self.sse = SSEDecoder()
        # a tokenized (OpenAI-family) stream keeps its frames for an estimate if it brings no usage
        self.decoder = StreamWatcher(protocol, protocol in OPENAI_FAMILY) if fast else codec(protocol).StreamDecoder()
        self.held: deque[tuple[bytes, list[Event]]] = deque()
        self.finished = False

    def _decode(self, chunk: bytes) -> list[Event]:
        if isinstance(self.decoder, StreamWatcher):  # observes whole chunks (see watch.py)
            return self.decoder.decode(chunk, self.sse)
        events: list[Event] = []
        for frame in self.sse.feed(chunk):
            events.extend(self.decoder.feed(frame))
        return events

    def _finish(self) -> list[Event]:
        self.finished = True
        events: list[Event] = []
        for frame in self.sse.flush():
            events.extend(self.decoder.feed(frame))
        events.extend(self.decoder.finish())
        return events

    async def _read(self) -> bytes:
        try:
            return await self.resp.content.readany()
        except BaseException as exc:
            raise upstream_failure(exc, self.url) from None

    async def prime(self, timeout: float) -> None:
        """Read until the first content event; raise the upstream's error if it comes first."""
        async with asyncio.timeout(timeout):
            while not self.finished:
                chunk = await self._read()
                events = self._decode(chunk) if chunk else self._finish()
                self.held.append((chunk, events))
                for event in events:
                    if isinstance(event, StreamError):
                        raise event.error
                    if is_content(event):
                        return

    async def next(self) -> tuple[bytes, list[Event]] | None:
        """The next (raw chunk, decoded events) pair: the held ones, then the rest; the last has
        b"", and after it None. A plain coroutine, so the relay is the stream's one generator.

        The fast path relays the raw chunks. For translation, ``heartbeat`` > 0 gives a
        ``(b"", [Heartbeat()])`` pair whenever the upstream has been silent that long, so the
        client's encoder can send its protocol's keep-alive.
        """
        if self.held:
            return self.held.popleft()
        if self.finished:
            return None
        if self.heartbeat > 0 and not self.fast:
            try:
                async with asyncio.timeout(self.heartbeat):
                    chunk = await self._read()
            except TimeoutError:
                return b"", [Heartbeat()]
        else:
            chunk = await self._read()
        return (chunk, self._decode(chunk)) if chunk else (b"", self._finish())

    def close(self) -> None:
        """Give the connection back (to the pool when the body was read to its end)."""
        if self.finished:
            self.resp.release()
        else:
            self.resp.close()


Answer = Relayed | Translated | UpstreamStream


# ---------------------------------------------------------------------------- the attempt


async def attempt(ctx: Exchange, provider: Provider, target: Target, lease: Lease, transport: Transport) -> Answer:
    """Try ``target`` with ``lease``'s key (see the module docstring)."""
    ctx.target = target
    ctx.dropped_tools = []
    ctx.cache_origin = None
    with _credential_kept(ctx, lease):
        return await _attempt(ctx, provider, target, lease, transport)


async def _attempt(ctx: Exchange, provider: Provider, target: Target, lease: Lease, transport: Transport) -> Answer:
    fast = fast_path(provider, ctx.protocol, ctx.raw)
    others = tuple(k.id for k in provider.pool.keys if k.id != lease.key_id)
    scope = Scope(provider.name, target.model, lease.key_id, ctx.session, others)
    body = await upstream_body(ctx, provider, target, scope, fast)
    url = provider.url(endpoint_path(provider.protocol, target.model, ctx.stream))
    headers = upstream_headers(ctx, provider, lease, ctx.stream)
    if ctx.trace is not None:
        ctx.trace(trace.UPSTREAM_REQUEST, {"url": url, "headers": headers, "body": body.decode("utf-8", "replace")})
    with _waiting(ctx):
        resp = await _send(transport, provider, url, headers, body, ctx.stream, ctx.trace)
        if lease.pool.quotas is not None:
            lease.pool.quotas.learn_headers(lease.state, target.model, resp.headers)
        if ctx.stream:
            stream = UpstreamStream(provider.protocol, resp, url, fast, provider.config.routing.heartbeat)
            if not fast:
                ctx.chain_stream = provider.chain.stream(_stage_trace(ctx), scope)
            try:
                await stream.prime(provider.timeouts.first_byte)
            except BaseException as exc:
                stream.close()
                failure = upstream_failure(exc, url)
                if ctx.trace is not None and isinstance(failure, GatewayError):
                    held = b"".join(chunk for chunk, _ in stream.held)
                    ctx.trace(trace.UPSTREAM_RESPONSE, _failure_entry(failure, resp.status, resp.headers, held))
                raise failure from None
            return stream
        try:
            raw = await _read_all(resp, url)
        except GatewayError as failure:
            if ctx.trace is not None:
                ctx.trace(trace.UPSTREAM_RESPONSE, _failure_entry(failure, resp.status, resp.headers))
            raise
    if ctx.trace is not None:
        ctx.trace(trace.UPSTREAM_RESPONSE, raw.decode("utf-8", "replace"))
    if fast:
        check_relayed_body(provider.protocol, raw)
        return Relayed(raw, resp.headers.get("content-type", "application/json"))
    return Translated(
        await provider.chain.apply_response(parse_upstream_body(provider.protocol, raw), _stage_trace(ctx), scope)
    )


async def post_json(
    ctx: Exchange, provider: Provider, lease: Lease, path: str, body: bytes, transport: Transport
) -> dict[str, Any]:
    """A small non-streaming call (token counting): POST ``body``, return the JSON object answered."""
    url = provider.url(path)
    headers = upstream_headers(ctx, provider, lease, False)
    with _credential_kept(ctx, lease), _waiting(ctx):
        resp = await _send(transport, provider, url, headers, body, False, ctx.trace)
        raw = await _read_all(resp, url)
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise GatewayError(ErrorKind.SERVER, "the upstream answered with a body that is not a JSON object", status=502)
    return answer


async def _send(
    transport: Transport,
    provider: Provider,
    url: str,
    headers: dict[str, str],
    body: bytes,
    stream: bool,
    write_trace: Callable[[str, Any], None] | None = None,
) -> UpstreamResponse:
    """POST; return the response once its status says success, else raise the upstream's error.
    With ``write_trace``, a failure leaves an upstream-response trace entry (redacted by the
    trace writer) as a success does."""
    try:
        resp = await transport.post(url, headers, body, stream=stream, timeouts=provider.timeouts)
    except GatewayError as failure:  # no answer: connection refused, timeout
        if write_trace is not None:
            write_trace(trace.UPSTREAM_RESPONSE, _failure_entry(failure))
        raise
    if resp.status < 400:
        return resp
    try:
        raw = await read_limited(resp)
    except BaseException as exc:
        failure = upstream_failure(exc, url)
        if write_trace is not None and isinstance(failure, GatewayError):
            write_trace(trace.UPSTREAM_RESPONSE, _failure_entry(failure, resp.status, resp.headers))
        raise failure from None
    finally:
        resp.release()
    error = upstream_error(provider.protocol, resp.status, resp.headers, raw)
    if write_trace is not None:
        write_trace(trace.UPSTREAM_RESPONSE, _failure_entry(error, resp.status, resp.headers, raw))
    raise error


def _failure_entry(error: GatewayError, status: int | None = None, headers: Any = None, body: bytes = b"") -> dict:
    """The upstream-response trace entry of a failed attempt (the writer redacts it)."""
    entry: dict[str, Any] = {"status": status, "error": error.kind, "message": error.message}
    if headers is not None:
        entry["headers"] = dict(headers)
    if body:
        entry["body"] = body.decode("utf-8", "replace")
    return entry


async def _read_all(resp: UpstreamResponse, url: str) -> bytes:
    try:
        return await resp.read()
    except BaseException as exc:
        raise upstream_failure(exc, url) from None
    finally:
        resp.release()  # back to the pool when read to the end, else closed


def upstream_headers(ctx: Exchange, provider: Provider, lease: Lease, stream: bool) -> dict[str, str]:
    """The headers of an upstream request made with ``lease``: the client's own credential when
    the lease is one of its passthrough pool."""
    credential = ctx.credential if lease.pool.passthrough else None
    return provider.request_headers(lease.key, ctx.headers, stream, credential)


@contextmanager
def _credential_kept(ctx: Exchange, lease: Lease) -> Iterator[None]:
    """Take the client's own credential out of an upstream error (some echo the key they refused)."""
    try:
        yield
    except GatewayError as err:
        if lease.pool.passthrough and ctx.credential is not None:
            secret = ctx.credential.value
            err.message = err.message.replace(secret, REDACTED)
            if err.details is not None and secret in repr(err.details):
                err.details = redact(err.details, (secret,))
        raise


@contextmanager
def _waiting(ctx: Exchange) -> Iterator[None]:
    """Count the time inside as spent waiting on the upstream (not gateway overhead)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        ctx.upstream_wait += time.perf_counter() - started


def fast_path(provider: Provider, protocol: str, raw: bytes = b"") -> bool:
    """Whether a ``protocol`` request (body ``raw``) to ``provider`` is forwarded as it is: the same
    protocol, no adapter of the provider's own that rewrites requests, no ``unsupported_params``,
    and no gateway envelope in it (a client's envelope is opened or dropped, never forwarded)."""
    return provider.protocol == protocol and provider.fast and ENVELOPE not in raw


def fast_body(ctx: Exchange, model: str, token_field: str | None = None) -> bytes:
    """The client's body for a same-protocol upstream: only the model rewritten (its value spliced
    into the client's bytes, every other byte kept), and for a Chat provider that reads
    ``max_tokens`` (``token_field``), a ``max_completion_tokens`` sent as ``max_tokens`` (such
    servers ignore ``max_completion_tokens``: the limit would be lost)."""
    if ctx.protocol == "gemini":
        return ctx.raw
    assert ctx.body is not None
    rename = token_field == "max_tokens" and "max_completion_tokens" in ctx.body
    if not rename:
        if model == ctx.model:
            return ctx.raw
        spliced = replace_string_member(ctx.raw, "model", model)
        if spliced is not None:
            return spliced
    body = dict(ctx.body)
    body["model"] = model
    if rename:
        body["max_tokens"] = body.pop("max_completion_tokens")
    return orjson.dumps(body)


async def upstream_body(ctx: Exchange, provider: Provider, target: Target, scope: Scope, fast: bool) -> bytes:
    """The body of a request to ``target``: the client's (:func:`fast_body`) or a translated one.
    For an Anthropic upstream, ``ctx.cache_origin`` says who placed its cache breakpoints; a
    same-protocol body gets the gateway's (then rebuilt) only when prompt caching is on and the
    client placed none (:mod:`switchyard.prompt_cache`), and is otherwise forwarded as it is."""
    if not fast:
        return await translated_body(ctx, provider, target, scope)
    body = fast_body(ctx, target.model, provider.token_field)
    if provider.protocol != "anthropic":
        return body
    assert ctx.body is not None
    placed, ctx.cache_origin = prompt_cache.apply(ctx.body, target.model, _prompt_cache(provider, target), ctx.raw)
    return body if placed is None else orjson.dumps({**placed, "model": target.model})


def _prompt_cache(provider: Provider, target: Target) -> prompt_cache.PromptCache | None:
    """The ``prompt_cache`` setting for ``target``: its alias's, else its provider's."""
    return target.prompt_cache if target.prompt_cache is not None else provider.config.prompt_cache


async def translated_body(ctx: Exchange, provider: Provider, target: Target, scope: Scope) -> bytes:
    protocol = provider.protocol
    model = target.model
    req = ctx.request_for(model)
    if provider.envelopes is not None:
        req = provider.envelopes.open_request(req, protocol)
    req = await provider.chain.apply_request(req, _stage_trace(ctx), scope)
    if ctx.trace is not None:
        ctx.trace(trace.NEUTRAL_REQUEST, dataclasses.asdict(req))
    ctx.dropped_tools = hosted_tools(req.extensions) if protocol != "openai_responses" else []
    body = codec(protocol).build_request(req, **provider.build_options)
    if protocol == "anthropic":
        placed, ctx.cache_origin = prompt_cache.apply(body, model, _prompt_cache(provider, target))
        body = placed or body
    return orjson.dumps(body)


def _stage_trace(ctx: Exchange) -> Callable[[str, Any, Any], None] | None:
    """The adapter chain's trace hook: one trace entry per stage, before and after."""
    if ctx.trace is None:
        return None
    write = ctx.trace

    def stage(name: str, before: Any, after: Any) -> None:
        write(f"adapter:{name}", {"before": before, "after": after})

    return stage


def hosted_tools(extensions: dict[str, Any]) -> list[str]:
    """Types of the OpenAI hosted tools a non-Responses upstream cannot run (not sent upstream)."""
    tools = extensions.get(HOSTED_TOOLS) or []
    names = [str(t.get("type", "unknown")) if isinstance(t, dict) else str(t) for t in tools]
    return list(dict.fromkeys(names))


def parse_upstream_body(protocol: str, raw: bytes) -> Response:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GatewayError(ErrorKind.SERVER, "the upstream answered with a body that is not JSON", status=502) from None
    if not isinstance(body, dict):
        raise GatewayError(ErrorKind.SERVER, "the upstream answered with JSON that is not an object", status=502)
    error = inband_error(protocol, body)
    if error is not None:
        raise error
    return codec(protocol).parse_response(body)


# keys only a successful answer has (Chat, Anthropic, Gemini, Responses)
_ANSWER_KEYS = ("choices", "content", "candidates", "output")


def inband_error(protocol: str, body: dict[str, Any]) -> GatewayError | None:
    """An error object answered with a success status (as some OpenAI-compatible servers do)."""
    err = body.get("error")
    if not isinstance(err, dict) or any(key in body for key in _ANSWER_KEYS):
        return None
    code = err.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 502
    return upstream_error(protocol, status, {}, orjson.dumps(body))


def check_relayed_body(protocol: str, raw: bytes) -> None:
    """Refuse a same-protocol answer that is not JSON, or is an error object sent with HTTP 200.

    Cheap on the hot path: the first byte is checked, and the body is parsed only when it
    mentions an ``"error"`` member.
    """
    if raw[:64].lstrip()[:1] not in (b"{", b"["):
        raise GatewayError(ErrorKind.SERVER, "the upstream answered with a body that is not JSON", status=502)
    if b'"error"' in raw:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise GatewayError(
                ErrorKind.SERVER, "the upstream answered with a body that is not JSON", status=502
            ) from None
        error = inband_error(protocol, body) if isinstance(body, dict) else None
        if error is not None:
            raise error


def upstream_error(protocol: str, status: int, headers: Any, body: bytes) -> GatewayError:
    """An upstream HTTP error as a GatewayError, with the retry hint from the body or headers."""
    err = codec(protocol).parse_error(status, body)
    if err.retry_after is None and (status == 429 or status >= 500):
        lowered = {k.lower(): v for k, v in headers.items()}
        if status != 429:  # rate-limit reset times say nothing about an outage
            lowered = {k: v for k, v in lowered.items() if k in ("retry-after", "retry-after-ms")}
        err.retry_after = retry_after_from_headers(lowered, time.time())
    return err


def _client_header(client: Headers, name: bytes) -> str | None:
    for key, value in client:
        if key == name:
            return value.decode("latin-1")
    return None


def pools(providers: dict[str, Provider]) -> dict[str, KeyPool]:
    return {name: p.pool for name, p in providers.items()}
