"""The per-request context: what one client request is, and what happened to it.

An :class:`Exchange` is created when a request arrives and travels through the pipeline. It holds
the client's body (parsed into core only when needed — the same-protocol fast path never does),
the chosen target, the attempts made, the time spent waiting on upstreams, and the usage observed
on the way back (a later issue writes it to the usage log and metrics).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ..accounting import estimate
from ..core.errors import GatewayError, RequestError
from ..core.model import Request, Usage
from ..governance import ClientKey, Ticket
from ..keys.passthrough import Credential
from ..protocols import codec
from ..routing import AttemptRecord, Target
from .http import Headers


def new_request_id() -> str:
    """A unique request id: the time in ns, then 32 random bits (the process's PRNG: no system
    call). Not a secret. Ids sort by time, so the stores' indexes on them grow at one end
    (random ids cost each usage-log insert a random B-tree page)."""
    return f"req_{time.time_ns():016x}{random.getrandbits(32):08x}"


@dataclass(slots=True)
class Exchange:
    protocol: str
    """The client's protocol (a codec name)."""
    headers: Headers
    """The request headers (lower-cased names)."""
    id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    body: dict[str, Any] | None = None
    raw: bytes = b""
    model: str = ""
    stream: bool = False
    upstream_wait: float = 0.0
    """Seconds spent waiting on upstreams (connect, headers, first frame, whole bodies)."""
    target: Target | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    usage: Usage | None = None
    """Usage observed in the upstream's answer (streams: the latest cumulative value)."""
    stop_reason: str | None = None
    status: int | None = None
    """The HTTP status sent to the client."""
    error: GatewayError | None = None
    """The error reported to the client: as the response, or in-band after its stream started."""
    first_byte_at: float | None = None
    """perf_counter time when the response started going to the client."""
    client_gone: bool = False
    """The client disconnected before the response was complete."""
    ended: bool = False
    """A stream's end (its terminal event) went to the client: a client that leaves after it
    (SDKs close at ``[DONE]`` / ``message_stop``) is not gone before the end."""
    dropped_tools: list[str] = field(default_factory=list)
    store_response: bool = False
    """A Responses request whose answer is to be stored (``store`` not false)."""
    response_id: str | None = None
    """The gateway-made Responses id for a translated answer."""
    previous_response_id: str | None = None
    own_input: list[dict[str, Any]] | None = None
    """The request's own input items, before a ``previous_response_id`` lineage was put in front."""
    final_response: dict[str, Any] | None = None
    """The final Responses object of a stream, once it ended."""
    stream_response_id: str | None = None
    session: str | None = None
    """The client session: a session header, else a body signal (Anthropic ``metadata.user_id``,
    OpenAI ``prompt_cache_key`` / ``user``), else the caller's gateway identity. Scopes the field cache."""
    affinity: str | None = None
    """Keeps a session on one key: the session a client named in a header; for a request with
    tools (a tool loop, whose provider state was issued by one key) also ``session``."""
    chain_stream: Any = None
    """The provider adapter chain's stream stage for a translated stream."""
    trace: Callable[[str, Any], None] | None = None
    """Writes one transform-trace entry (stage, data) for this request; None when tracing is off."""
    relayed: bytes | None = None
    """A same-protocol non-streaming answer relayed as is (its usage is read only on demand)."""
    caller: str = "client:anonymous"
    """The caller's gateway identity (:func:`switchyard.server.auth.caller`)."""
    client_key: ClientKey | None = None
    """The client key the caller presented (None: an admin, an unlimited config key, or no auth)."""
    ticket: Ticket | None = None
    """The governance admission to settle when the request is over."""
    cost: float | None = None
    """USD the request cost (set when its usage is recorded; None: unknown)."""
    extra_headers: Headers = field(default_factory=list)
    """More response headers (the client key's rate-limit headers)."""
    estimate: Callable[[], Usage] | None = None
    """Once an answer started: the gateway's own estimate of its usage so far, for when the
    upstream reports none (:mod:`switchyard.accounting.estimate`)."""
    count: estimate.TokenCount | None = None
    """The chosen target's tokenizer, for the estimates (None: the approximation)."""
    credential: Credential | None = None
    """The client's own upstream credential (for passthrough providers), if it brought one."""
    cache_origin: str | None = None
    """Who placed the cache breakpoints of the request sent to an Anthropic upstream: ``gateway``,
    ``client`` or ``none`` (:mod:`switchyard.prompt_cache`); None for other upstreams."""
    _request: Request | None = None

    def request(self) -> Request:
        """The client's request in core form, parsed once on first use (raises RequestError)."""
        if self._request is None:
            if self.body is None:
                raise RequestError("the request body is missing")
            mod = codec(self.protocol)
            req = (
                mod.parse_request(self.body, self.model) if self.protocol == "gemini" else mod.parse_request(self.body)
            )
            req.stream = self.stream
            if self.previous_response_id:  # resolved by the gateway, echoed to the client
                req.extensions["_previous_response_id"] = self.previous_response_id
            self._request = req
        return self._request

    def request_for(self, model: str) -> Request:
        """The core request aimed at an upstream model (a shallow copy; the original is kept)."""
        return replace(self.request(), model=model)

    def final_usage(self) -> Usage | None:
        """The answer's usage: the upstream's, else (an answer that reported none, a stream cut
        short) the gateway's estimate, marked ``estimated``; None when no answer began. A relayed
        body is parsed for it here, off the response path."""
        if self.usage is None and self.relayed is not None:
            try:
                body = orjson.loads(self.relayed)
                mod = codec(self.protocol)
                self.usage = mod.response_usage(body)
                if self.usage is None:
                    self.usage = estimate.response_usage(self.estimated_input(), mod.parse_response(body), self.count)
            except Exception:  # an odd upstream body: no usage, not an error
                return None
        if self.usage is None and self.estimate is not None:
            self.usage = self.estimate()
        return self.usage

    def tokens(self) -> int:
        """Every token the request used (prompt buckets and output), 0 when unknown."""
        u = self.final_usage()
        return 0 if u is None else u.input_tokens + u.cache_read_tokens + u.cache_write_tokens + u.output_tokens

    def core_or_none(self) -> Request | None:
        """The client's core request, or None when it does not parse (a fast-path body)."""
        try:
            return self.request()
        except Exception:
            return None

    def estimated_input(self) -> int:
        """The estimated input tokens of this request (its body's size when it does not parse)."""
        req = self.core_or_none()
        return estimate.request_tokens(req, self.count) if req is not None else estimate.text_tokens(len(self.raw))

    def overhead_ms(self) -> float:
        """Gateway time so far that was not spent waiting on an upstream."""
        return max(0.0, (time.perf_counter() - self.started - self.upstream_wait) * 1000)

    def response_headers(self) -> Headers:
        headers = [
            (b"x-request-id", self.id.encode()),
            (b"x-switchyard-overhead-ms", f"{self.overhead_ms():.2f}".encode()),
        ]
        if self.target is not None:
            headers.append((b"x-switchyard-upstream", header_value(str(self.target))))
        if self.attempts:
            headers.append((b"x-switchyard-attempts", header_value(" | ".join(a.header() for a in self.attempts))))
        if self.dropped_tools:
            headers.append((b"x-switchyard-dropped-tools", header_value(",".join(self.dropped_tools))))
        if self.cache_origin is not None:
            headers.append((b"x-switchyard-cache-origin", self.cache_origin.encode()))
        return headers + self.extra_headers if self.extra_headers else headers


_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def header_value(text: str) -> bytes:
    """Text safe to put in a response header (control characters dropped, non-Latin-1 replaced)."""
    return _UNSAFE.sub("", text).encode("latin-1", "replace")
