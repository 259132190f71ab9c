"""Stream relays: from an upstream (or the mock) to the client, once the attempt succeeded.

- :func:`relay_fast` (same protocol): the upstream's bytes go to the client exactly as they
  arrive; the upstream decoder's events are only observed (usage, stop reason, errors).
- :func:`relay_translated`: core events from the upstream decoder (or the mock) go through the
  client protocol's StreamEncoder.

Both turn a failure after the stream started into the client protocol's in-band error event
(a core StreamError fed to the client encoder) and then end the stream. Both call ``done``
exactly once, with the error that ended the stream (None when it ended normally or the client
went away), so the caller can release the key.

Both set ``ctx.estimate``: the usage the gateway counts itself, for a stream whose upstream
reports none (or that was cut short). A translated stream that ends without any usage gets a
MessageDelta with that estimate before its end, so the client sees it (never a made-up 0); a
relayed stream goes to the client as it is, and only the usage log has the estimate.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from typing import Any

from ..accounting import estimate
from ..core.errors import ErrorKind, GatewayError
from ..core.events import Event, MessageDelta, MessageStart, MessageStop, StreamError
from ..core.model import Request, Usage
from ..observability import trace
from ..protocols import codec
from .context import Exchange
from .responses_state import TerminalCapture
from .upstream import MockEvents, UpstreamStream

log = logging.getLogger("switchyard.server")

Done = Callable[[GatewayError | None], None]


def observe(ctx: Exchange, events: list[Event]) -> None:
    """Keep what the request log needs from a batch of stream events."""
    for event in events:
        if isinstance(event, MessageDelta):
            if event.usage is not None:
                ctx.usage = event.usage
            if event.stop_reason is not None:
                ctx.stop_reason = event.stop_reason
        elif isinstance(event, MessageStart):
            if event.usage is not None and ctx.usage is None:
                ctx.usage = event.usage
        elif isinstance(event, StreamError) and ctx.error is None:
            ctx.error = event.error


def internal_error(ctx: Exchange) -> GatewayError:
    log.exception("request %s: unexpected error", ctx.id)
    return GatewayError(ErrorKind.SERVER, f"internal gateway error (request id {ctx.id})")


def client_encoder(ctx: Exchange) -> object:
    """The client protocol's stream encoder for this request."""
    try:
        req = ctx.request()
    except GatewayError:  # the fast path never needed a valid core request; an error frame still does
        req = Request(model=ctx.model, protocol=ctx.protocol, stream=True)
    return codec(ctx.protocol).StreamEncoder(req)


def _estimator(ctx: Exchange, output: estimate.OutputCount | None, frames: Any = None) -> Callable[[], Usage]:
    def usage() -> Usage:
        if output is not None:
            tokens, reasoning = output.tokens()
        else:
            tokens, reasoning = getattr(frames, "content_frames", 0), 0
        return estimate.estimated(ctx.estimated_input(), tokens, reasoning)

    return usage


def _with_estimate(ctx: Exchange, events: list[Event]) -> list[Event]:
    """``events``, with a MessageDelta carrying the estimate before a MessageStop when the stream
    brought no usage (observe() has not seen this batch yet)."""
    for i, event in enumerate(events):
        if isinstance(event, MessageStop):
            if ctx.usage is not None or ctx.estimate is None:
                return events
            if any(isinstance(e, MessageStart | MessageDelta) and e.usage is not None for e in events[:i]):
                return events
            return [*events[:i], MessageDelta(usage=ctx.estimate()), *events[i:]]
    return events


async def relay_fast(ctx: Exchange, stream: UpstreamStream, done: Done) -> AsyncGenerator[bytes, None]:
    error: GatewayError | None = None
    ctx.estimate = _estimator(ctx, None, stream.decoder)
    capture = TerminalCapture() if ctx.store_response else None
    try:
        async for chunk, events in stream.chunks():
            if chunk:
                observe(ctx, events)
                if ctx.trace is not None:
                    ctx.trace(trace.UPSTREAM_FRAME, chunk.decode("utf-8", "replace"))
                if capture is not None:
                    capture.feed(chunk)
                yield chunk
                continue
            before = ctx.error
            observe(ctx, events)
            if before is None and ctx.error is not None:
                # the upstream stream ended early (no terminal event): say so in-band
                error = ctx.error
                yield client_encoder(ctx).feed(StreamError(error))
    except GatewayError as exc:
        error = ctx.error = exc
        yield client_encoder(ctx).feed(StreamError(exc))
    except Exception:
        error = ctx.error = internal_error(ctx)
        yield client_encoder(ctx).feed(StreamError(error))
    finally:
        stream.close()
        if capture is not None:
            ctx.final_response, ctx.stream_response_id = capture.response, capture.created_id
        done(error or ctx.error)


async def relay_translated(
    ctx: Exchange, source: UpstreamStream | MockEvents, done: Done
) -> AsyncGenerator[bytes, None]:
    encoder = client_encoder(ctx)
    try:
        if isinstance(source, MockEvents):
            for event in _renamed(ctx, source.events):
                observe(ctx, [event])
                out = encoder.feed(event)
                if out:
                    yield out
        else:
            chain = ctx.chain_stream
            output = estimate.OutputCount()
            ctx.estimate = _estimator(ctx, output)
            async for chunk, events in source.chunks():
                if chunk and ctx.trace is not None:
                    ctx.trace(trace.UPSTREAM_FRAME, chunk.decode("utf-8", "replace"))
                if chain is not None and events:
                    events = [out for event in events for out in chain.feed(event)]
                if events:
                    output.feed(events)
                    events = _with_estimate(ctx, events)
                    observe(ctx, events)
                    out = b"".join([encoder.feed(event) for event in _renamed(ctx, events)])
                    if out:
                        yield out
        if ctx.chain_stream is not None:
            tail = await ctx.chain_stream.finish()  # the field cache saves what the stream carried
            out = b"".join([encoder.feed(event) for event in tail])
            if out:
                yield out
        out = encoder.finish()
        if out:
            yield out
    except GatewayError as exc:
        ctx.error = exc
        yield encoder.feed(StreamError(exc))
    except Exception:
        ctx.error = internal_error(ctx)
        yield encoder.feed(StreamError(ctx.error))
    finally:
        if isinstance(source, UpstreamStream):
            source.close()
        ctx.final_response = getattr(encoder, "final_response", None)
        done(ctx.error)


def _renamed(ctx: Exchange, events: list[Event]) -> list[Event]:
    """The gateway's own Responses id on the start event (ids must be unique per stored response)."""
    if ctx.response_id is None:
        return events
    return [replace(e, id=ctx.response_id) if isinstance(e, MessageStart) else e for e in events]
