"""The application: a precompiled route table in front of the pipeline, written against the
server-neutral :class:`~.http.Conn` (``server/aio.py`` serves it on aiohttp).

No framework: a request is matched with one dict lookup (Gemini's ``/v1beta/models/{model}:<method>``
paths, whose model may contain ``/``, with one prefix test and a split on the last ``:``; the
same paths under ``/v1/models/`` are accepted too, as the Gemini API does).
Every response carries ``x-request-id`` and ``x-switchyard-overhead-ms``. A client that goes
away cancels the handling of its request (the server cancels it), including an upstream request
or stream in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import parse_qsl

import orjson

from .. import __version__, ui
from ..accounting.pricing import default_pricing
from ..config import Config
from ..core.errors import ErrorKind, GatewayError, RequestError
from ..core.events import StreamError
from ..core.util import require
from ..fieldcache import FieldCache, builtin_rules, merge_rules
from ..governance import open_governance
from ..keys.shared import KeySync
from ..observability import trace
from ..observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from ..observability.metrics import Metrics
from ..observability.redact import SecretMask, mask_logs, secret_header
from ..observability.trace import TraceWriter
from ..observability.usage_log import UsageLog
from ..protocols import PROTOCOLS, codec
from ..protocols.openai_responses.validate import check_input
from ..quotas.tracker import QuotaService
from ..store import Stores, open_store
from ..store.redis import connect as redis_connect
from ..transport import Transport
from . import admin, endpoints
from .auth import ANONYMOUS, Authenticator, caller
from .context import Exchange
from .embeddings import Embedder
from .envelope import Envelopes, load_secret
from .errors import as_gateway_error, error_protocol, error_response
from .http import SSE_HEADERS, ClientGone, Conn, Headers, json_object
from .observers import UsageRecorder
from .pipeline import Pipeline, Reply
from .relay import client_encoder
from .responses_state import ResponsesState

log = logging.getLogger("switchyard.server")

GEMINI_PREFIX = "/v1beta/models/"
V1_MODELS = "/v1/models/"


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    """What to do: generate | count_tokens | embed | models | model | gemini_models | gemini_model | health | root."""
    protocol: str
    """The client protocol: the error shape, and the codec for generate routes."""
    auth: bool = True
    stream: bool | None = None
    """Fixed by the endpoint (Gemini); None: the body's ``stream`` flag decides."""
    access: str = "client"
    """Who may call it: ``client`` | ``operator`` | ``admin`` | ``admin_api`` (see ``auth.py``)."""


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/chat/completions"): Route("generate", "openai_chat"),
    ("POST", "/v1/messages"): Route("generate", "anthropic"),
    ("POST", "/v1/messages/count_tokens"): Route("count_tokens", "anthropic"),
    ("POST", "/v1/embeddings"): Route("embed", "openai_chat"),
    ("POST", "/v1/responses"): Route("generate", "openai_responses"),
    ("GET", "/v1/models"): Route("models", "openai_chat"),
    ("GET", "/v1beta/models"): Route("gemini_models", "gemini"),
    ("GET", "/health"): Route("health", "openai_chat", auth=False),
    ("GET", "/metrics"): Route("metrics", "openai_chat", access="operator"),
    ("GET", "/admin/keys"): Route("keys", "openai_chat", access="admin"),
    ("GET", "/"): Route("root", "openai_chat", auth=False),
    ("HEAD", "/"): Route("root", "openai_chat", auth=False),
}
KNOWN_PATHS = {path for _, path in ROUTES}
GEMINI_ROUTES = {
    "generateContent": Route("generate", "gemini", stream=False),
    "streamGenerateContent": Route("generate", "gemini", stream=True),
    "embedContent": Route("embed", "gemini", stream=False),
    "batchEmbedContents": Route("embed", "gemini", stream=False),
    "countTokens": Route("count_tokens", "gemini", stream=False),
}
GEMINI_MODEL = Route("gemini_model", "gemini")
RESPONSES_PREFIX = "/v1/responses/"
RESPONSE_ROUTES = {
    ("GET", False): Route("response_get", "openai_responses"),
    ("DELETE", False): Route("response_delete", "openai_responses"),
    ("GET", True): Route("response_items", "openai_responses"),
}
OPENAI_MODEL = Route("model", "openai_chat")
ADMIN_API = Route("admin_api", "openai_chat", access="admin_api")
UI = Route("ui", "openai_chat", auth=False)  # the dashboard (switchyard.ui) authenticates its own requests


def match(method: str, path: str) -> tuple[Route | None, str]:
    """(route, model from the path); route None when nothing matched."""
    route = ROUTES.get((method, path))
    if route is not None:
        return route, ""
    if path.startswith(admin.PREFIXES):
        return ADMIN_API, ""
    if path == ui.PREFIX or path.startswith(ui.PREFIX + "/"):
        return UI, ""
    if path.startswith(RESPONSES_PREFIX):
        rest = path[len(RESPONSES_PREFIX) :]
        items = rest.endswith("/input_items")
        response_id = rest.removesuffix("/input_items")
        route = RESPONSE_ROUTES.get((method, items))
        return (route, response_id) if route is not None and response_id and "/" not in response_id else (None, "")
    if path.startswith(GEMINI_PREFIX):
        rest = path[len(GEMINI_PREFIX) :]
        if method == "POST":
            return _gemini_verb(rest)
        if method == "GET" and rest:
            return GEMINI_MODEL, rest
    elif path.startswith(V1_MODELS) and len(path) > len(V1_MODELS):
        rest = path[len(V1_MODELS) :]
        if method == "POST":  # Gemini's v1 paths (google-genai 3.x defaults to them)
            return _gemini_verb(rest)
        if method == "GET":
            return OPENAI_MODEL, rest
    return None, ""


def _gemini_verb(rest: str) -> tuple[Route | None, str]:
    model, _, verb = rest.rpartition(":")
    route = GEMINI_ROUTES.get(verb)
    return (route, model) if route is not None and model else (None, "")


def check_framing(protocol: str, body: dict) -> None:
    """The fields the same-protocol fast path reads itself and forwards as they are: refused when
    mistyped, or the gateway and the upstream would read them differently (``"stream": "x"``:
    the gateway expects JSON, the upstream answers a stream)."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise RequestError("'stream' must be a boolean", param="stream")
    if protocol in ("openai_chat", "openai_responses") and body.get("stream_options") is not None:
        options = body["stream_options"]
        if not isinstance(options, dict):
            raise RequestError("'stream_options' must be an object", param="stream_options")
        for name in ("include_usage", "include_obfuscation"):
            if options.get(name) is not None and not isinstance(options[name], bool):
                raise RequestError(f"'stream_options.{name}' must be a boolean", param=f"stream_options.{name}")


def upstream_secrets(config: Config) -> list[str]:
    """The upstream credentials: every provider key, and the values of secret-named extra headers."""
    secrets = [k for p in config.providers.values() for k in p.api_keys if k]
    for provider in config.providers.values():
        secrets += [v for k, v in provider.headers.items() if secret_header(k) and v]
    return secrets


class App:
    """The gateway: ``App(config)``; :meth:`startup` opens its stores and upstream client,
    :meth:`handle` answers one request (a :class:`~.http.Conn` from the server adapter),
    :meth:`begin_drain` and :meth:`shutdown` stop it (``server/aio.py`` runs the three)."""

    def __init__(self, config: Config, transport: Transport | None = None) -> None:
        self.config = config
        self.transport = transport or Transport()
        self.pipeline = Pipeline(config, self.transport)
        self.embedder = Embedder(self.pipeline)
        pricing = default_pricing().with_overrides(config.pricing)
        self.governance = open_governance(config, pricing)
        self.auth = Authenticator(
            config.server.auth_keys,
            config.server.admin_keys,
            self.governance,
            config.server.client_key_header,
            passthrough=self.pipeline.credential_ids is not None,
        )
        self.max_body = int(config.server.max_body_mb * 1024 * 1024)
        self.observers: list[Callable[[Exchange], None]] = []
        """Called with every finished generate / count_tokens / embed exchange (after the response)."""
        self.stores: Stores | None = None
        self.key_sync: KeySync | None = None
        upstream = upstream_secrets(config)
        secrets = [*upstream, *config.server.auth_keys, *config.server.admin_keys]
        self.mask = self.pipeline.mask = SecretMask(upstream)
        """Upstream credentials (and key-like text in errors) masked in everything sent to clients."""
        mask_logs(secrets)
        self.tracer = TraceWriter(
            config.server.data_dir,
            enabled=config.observability.trace,
            max_file_bytes=int(config.observability.trace_max_file_mb * 1024 * 1024),
            secrets=secrets,
        )
        self.frame_observers: list[Callable[[Exchange, bytes], None]] = []
        """Called with every chunk of a streamed answer, in order, as it goes to the client (tests
        install one to check the stream invariants)."""
        self.metrics = Metrics(lambda: self.pipeline.pools)
        obs = config.observability
        self.usage_log = UsageLog(config.server.data_dir, dsn=obs.usage_dsn) if obs.usage_log else None
        self.inflight: dict[asyncio.Task, Exchange] = {}
        """The requests being handled (a drain deadline cuts those still here)."""
        self.drain_expired = False
        self._drain_timer: asyncio.TimerHandle | None = None
        self.observers.append(UsageRecorder(self.usage_log, self.metrics, pricing, self.pipeline.resolver.configured))
        self.ui = ui.Dashboard(self) if ui.enabled(config) else None
        self.quotas = QuotaService(config, self.pipeline.pools)
        """Quota windows and learned limits of the upstream keys (``wall`` is its clock)."""
        self.observers.append(self.quotas.observe)

    async def startup(self) -> None:
        for name in PROTOCOLS:  # import the codecs now, not on the first request
            try:
                codec(name)
            except ImportError:
                log.warning("the %s codec is not available; its endpoints will answer 500", name)
        await self.transport.start()
        state = self.config.state
        self.stores = await open_store(
            state.backend,  # type: ignore[arg-type]
            self.config.server.data_dir,
            state.redis_url,
            prefix=state.redis_prefix,
        )
        self.pipeline.responses = ResponsesState(self.stores.responses)
        rules = merge_rules(builtin_rules(), self.config.field_cache.rules)
        cache = FieldCache(self.stores.kv, rules, ttl=self.config.field_cache.ttl)
        envelopes = Envelopes(load_secret(self.config.server.data_dir))
        for provider in self.pipeline.providers.values():
            provider.envelopes = envelopes
            if provider.chain is not None:
                provider.chain.field_cache = cache
        if self.usage_log is not None:
            await self.usage_log.start()
        await self.governance.start()
        await self.quotas.start(self.config)
        if state.backend == "redis":  # cooldowns, disabled keys and affinity shared by every process
            self.key_sync = KeySync(redis_connect(state.redis_url), state.redis_prefix, self.pipeline.pools)
            await self.key_sync.start()
        providers = ", ".join(f"{p.name} ({p.type}, {len(p.api_keys)} keys)" for p in self.config.providers.values())
        auth = "on" if self.auth.enabled else "off"
        log.info(
            "switchyard %s: providers %s; %d aliases; client auth %s",
            __version__,
            providers,
            len(self.config.models),
            auth,
        )

    async def shutdown(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        await self.transport.close()
        await self.tracer.close()
        if self.stores is not None:
            await self.stores.close()
        if self.usage_log is not None:
            await self.usage_log.close()  # writes every pending row
        await self.governance.close()  # writes the ledger's pending spend
        if self.ui is not None:
            await self.ui.close()  # the dashboard's connections to the usage log
        await self.quotas.close()  # writes the pending quota counts
        if self.key_sync is not None:
            await self.key_sync.close()

    # ------------------------------------------------------------------ requests

    async def handle(self, conn: Conn) -> None:
        """Answer one request (the server adapter's entry point)."""
        method, path = conn.method, conn.path
        route, model = match(method, path)
        if route is UI and self.ui is not None:
            await self.ui.handle(conn)
            return
        if route is None or route is UI:
            ctx = Exchange(error_protocol(path), conn.headers)
            status = 405 if path in KNOWN_PATHS else 404
            message = f"{method} is not allowed on {path}" if status == 405 else f"no such endpoint: {method} {path}"
            kind = ErrorKind.INVALID_REQUEST if status == 405 else ErrorKind.NOT_FOUND
            await self.send_error(ctx, conn, GatewayError(kind, message, status=status))
            return
        ctx = Exchange(route.protocol, conn.headers, model=model)
        if self.tracer.enabled:
            ctx.trace = partial(self.tracer.write, ctx.id)
        task = asyncio.current_task()
        self.inflight[task] = ctx  # type: ignore[index]
        try:
            try:
                await self.admit(ctx, route, conn)
            except ClientGone:
                raise
            except Exception as exc:
                await self.send_error(ctx, conn, as_gateway_error(exc, ctx.id))
            else:
                await self.respond(ctx, route, conn)
        except ClientGone:
            ctx.client_gone = not ctx.ended
        except asyncio.CancelledError:
            if not self.drain_expired:
                ctx.client_gone = not ctx.ended  # the server cancels the handling of a request whose client left
                raise
            task.uncancel()  # type: ignore[union-attr]
            await self.cut_at_deadline(ctx, conn)
        finally:
            del self.inflight[task]  # type: ignore[arg-type]
            if self.observers and route.name in ("generate", "count_tokens", "embed"):
                self.notify(ctx)
            if ctx.ticket is not None:  # settled even when the client has left (its cancellation arrives anywhere)
                await asyncio.shield(self.governance.settle(ctx.ticket, ctx.cost, ctx.tokens()))

    async def admit(self, ctx: Exchange, route: Route, conn: Conn) -> None:
        """Authenticate, read and load the body, and admit the request under the client key's limits."""
        principal = await self.auth.identify(conn.headers, conn.query_string) if route.auth else ANONYMOUS
        self.auth.permit(principal, route.access)
        ctx.client_key, ctx.caller = principal.key, caller(principal, conn.headers, conn.query_string)
        if route.name in ("generate", "count_tokens", "embed"):
            self.take_credential(ctx, conn)
            self.load(ctx, route, conn, await conn.body(self.max_body))
        elif route.name == "admin_api" and conn.method in ("POST", "PATCH"):
            ctx.raw = await conn.body(self.max_body)
        if route.name == "count_tokens" and principal.key is not None:  # not counted, but the model must be allowed
            self.governance.check_model(principal.key, ctx.model, self.pipeline.resolver.resolve(ctx.model))
        if route.name not in ("generate", "embed"):
            return
        await self.pipeline.prepare(ctx)
        if principal.key is not None:
            assert ctx.body is not None
            targets = self.pipeline.resolver.resolve(ctx.model)
            ticket = await self.governance.admit(
                principal.key, ctx.model, targets, ctx.protocol, ctx.body, len(ctx.raw)
            )
            if ticket is not None:
                ctx.ticket = ticket
                ctx.extra_headers = self.governance.rate_headers(ticket)

    def take_credential(self, ctx: Exchange, conn: Conn) -> None:
        """Note the client's own upstream credential, if it brought one and some provider takes
        one (and keep it out of the trace)."""
        ids = self.pipeline.credential_ids
        value = self.auth.credential(conn.headers, conn.query_string) if ids is not None else None
        if ids is not None and value:
            ctx.credential = ids(value)
            if ctx.trace is not None:
                ctx.trace = partial(self.tracer.write, ctx.id, secrets=(value,))

    # ------------------------------------------------------------------ shutdown

    def begin_drain(self) -> None:
        """Shutdown has begun (SIGTERM; the server stops accepting connections): the requests in
        flight have ``server.drain_timeout`` seconds, then :meth:`cut_at_deadline` ends them."""
        if self._drain_timer is not None:
            return
        timeout = self.config.server.drain_timeout
        log.info("shutting down: %d request(s) in flight have %g s to finish", len(self.inflight), timeout)
        self._drain_timer = asyncio.get_running_loop().call_later(timeout, self._cut_inflight)

    def _cut_inflight(self) -> None:
        self.drain_expired = True
        if self.inflight:
            log.warning("drain deadline: cutting %d request(s) still in flight", len(self.inflight))
        for task in list(self.inflight):
            task.cancel()

    async def cut_at_deadline(self, ctx: Exchange, conn: Conn) -> None:
        """End a request cut at the drain deadline: an error response in the client's shape, or,
        once its stream has started, the protocol's in-band error event and the end of the stream."""
        err = GatewayError(
            ErrorKind.UNAVAILABLE,
            f"the gateway is shutting down; the request was cut at the drain deadline "
            f"({self.config.server.drain_timeout:g} s, server.drain_timeout)",
            status=503,
        )
        if ctx.first_byte_at is None:
            await self.send_error(ctx, conn, err)
            return
        ctx.error = err
        frame = b""
        if ctx.stream:
            try:
                frame = client_encoder(ctx).feed(StreamError(err))
            except Exception:
                log.exception("request %s: no error event could be made", ctx.id)
        with contextlib.suppress(Exception):  # the connection may be gone already
            if frame:
                await conn.write(frame)
            await conn.end()

    def notify(self, ctx: Exchange) -> None:
        """Hand a finished exchange to the observers (usage log, metrics); they must not raise."""
        for observer in self.observers:
            try:
                observer(ctx)
            except Exception:
                log.exception("request %s: an exchange observer failed", ctx.id)

    def load(self, ctx: Exchange, route: Route, conn: Conn, raw: bytes) -> None:
        """Parse the body just enough to route it: a JSON object, its model and stream flag."""
        body = json_object(raw)
        ctx.raw, ctx.body = raw, body
        if ctx.trace is not None:
            ctx.trace(trace.CLIENT_REQUEST, body)
        if route.stream is None:
            ctx.model = require(body, "model", str)
            ctx.stream = body.get("stream") is True
            check_framing(ctx.protocol, body)
            if ctx.protocol == "openai_responses":  # stored with the answer, even on the fast path
                check_input(body)
        else:
            ctx.stream = route.stream
            if route.stream and b"alt=sse" not in conn.query_string.split(b"&"):
                raise RequestError("streamGenerateContent is served as server-sent events only: add '?alt=sse'")

    async def respond(self, ctx: Exchange, route: Route, conn: Conn) -> None:
        try:
            reply = await self.dispatch(ctx, route, conn)
        except Exception as exc:
            await self.send_error(ctx, conn, as_gateway_error(exc, ctx.id))
            return
        ctx.status = reply.status
        ctx.first_byte_at = time.perf_counter()
        headers = ctx.response_headers() + reply.headers
        if reply.stream is not None:
            await self.stream(ctx, conn, reply.status, headers, reply.stream)
        else:
            body = self.mask.content(reply.body)
            if ctx.trace is not None:
                ctx.trace(trace.CLIENT_RESPONSE, body.decode("utf-8", "replace"))
            await conn.respond(reply.status, headers, body, reply.content_type)

    async def stream(
        self, ctx: Exchange, conn: Conn, status: int, headers: Headers, body: AsyncGenerator[bytes, None]
    ) -> None:
        """Relay ``body`` as server-sent events: each chunk with the upstream credentials masked
        (also one cut across chunks), shown to the frame observers and the trace, and written
        straight to the client; the generator is closed however the stream ends."""
        chunks = self.mask.stream()
        watched = bool(self.frame_observers) or ctx.trace is not None
        try:
            await conn.start(status, headers + SSE_HEADERS)
            async for chunk in body:
                out = chunks.feed(chunk)
                if out:
                    if watched:
                        self.watch(ctx, out)
                    await conn.write(out)
            out = chunks.flush()
            if out:
                if watched:
                    self.watch(ctx, out)
                await conn.write(out)
            await conn.end()
        finally:
            await body.aclose()

    def watch(self, ctx: Exchange, chunk: bytes) -> None:
        """Show a chunk going to the client to the frame observers and the trace."""
        for observer in self.frame_observers:
            observer(ctx, chunk)
        if ctx.trace is not None:
            ctx.trace(trace.CLIENT_FRAME, chunk.decode("utf-8", "replace"))

    async def dispatch(self, ctx: Exchange, route: Route, conn: Conn) -> Reply:
        name, pipeline = route.name, self.pipeline
        if name == "generate":
            return await pipeline.generate(ctx)
        if name == "count_tokens":
            return await endpoints.count_tokens(pipeline, ctx)
        if name == "embed":
            return await self.embedder(ctx, batch=conn.path.endswith(":batchEmbedContents"))
        if name == "models":
            payload = endpoints.openai_models(pipeline)
        elif name == "model":
            payload = endpoints.openai_model(pipeline, endpoints.known_model(pipeline, ctx.model))
        elif name == "gemini_models":
            payload = endpoints.gemini_models(pipeline)
        elif name == "gemini_model":
            payload = endpoints.gemini_model(endpoints.known_model(pipeline, ctx.model))
        elif name == "health":
            payload = endpoints.health()
        elif name == "metrics":
            return Reply(body=self.metrics.render(), content_type=METRICS_CONTENT_TYPE.encode())
        elif name in ("response_get", "response_delete", "response_items"):
            payload = await self.stored_response(name, ctx, conn.query_string)
        elif name == "keys":
            payload = {name: pool.snapshot() for name, pool in self.pipeline.pools.items()}
        elif name == "admin_api":
            status, payload = await admin.handle(self.governance, conn.method, conn.path, ctx.raw)
            return Reply(status=status, body=orjson.dumps(payload))
        else:
            payload = {"name": "switchyard", "version": __version__}
        return Reply(body=orjson.dumps(payload))

    async def stored_response(self, name: str, ctx: Exchange, query_string: bytes) -> dict:
        state = self.pipeline.responses
        if state is None:
            raise GatewayError(ErrorKind.SERVER, "the response store is not open")
        if name == "response_get":
            return await state.retrieve(ctx.model, ctx.caller)
        if name == "response_delete":
            return await state.delete(ctx.model, ctx.caller)
        query = dict(parse_qsl(query_string.decode("latin-1")))
        return await state.input_items(ctx.model, ctx.caller, query)

    async def send_error(self, ctx: Exchange, conn: Conn, err: GatewayError) -> None:
        err = self.mask.error(err)  # upstreams repeat the key in their error texts
        status, body, extra = error_response(ctx.protocol, err)
        ctx.status, ctx.error = status, err
        if ctx.attempts and status >= 500:
            tried = "; ".join(a.header() for a in ctx.attempts)
            log.warning("request %s: %s %s failed after %s", ctx.id, status, err.kind, tried)
        headers: Headers = ctx.response_headers() + extra
        await conn.respond(status, headers, body)
