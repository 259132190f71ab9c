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
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..accounting import estimate
from ..core.errors import ErrorKind, GatewayError
from ..core.events import Event, MessageDelta, MessageStart, MessageStop, StreamError
from ..core.model import Request, Usage
from ..observability import trace
from ..observability.redact import SecretMask
from ..protocols import codec
from .context import Exchange
from .responses_state import TerminalCapture
from .upstream import UpstreamStream

log = logging.getLogger("switchyard.server")

Done = Callable[[GatewayError | None], None]
Seal = Callable[[Event], list[Event]]


class Persist:
    """Stores a Responses stream's final Response once — before its terminal event
    (``response.completed`` / ``incomplete`` / ``failed``) goes to the client, so a response the
    client saw end is never lost, even to a ``kill -9`` right after. ``save`` never raises."""

    __slots__ = ("done", "save")

    def __init__(self, save: Callable[[dict[str, Any] | None], Awaitable[None]]) -> None:
        self.save = save
        self.done = False

    async def __call__(self, response: dict[str, Any] | None) -> None:
        if not self.done:
            self.done = True
            await self.save(response)


FRAME_ENDS = (b"\n\n", b"\r\r", b"\n\r\n")  # a blank line ends an SSE frame (\r\n\r\n: the last one)


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
        elif isinstance(event, MessageStop):
            ctx.ended = True


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


def _estimator(ctx: Exchange, output: estimate.OutputCount | None, watcher: Any = None) -> Callable[[], Usage]:
    """The estimate of a stream's usage: from ``output`` (a translated stream's events), else from
    the fast path's ``watcher`` — its kept frames decoded now, or its count of content frames."""

    def usage() -> Usage:
        count = output
        replayed = watcher.replay() if count is None and watcher is not None else None
        if replayed is not None:
            count = estimate.OutputCount(ctx.count)
            count.feed(replayed)
        if count is not None:
            tokens, reasoning = count.tokens()
        else:
            tokens, reasoning = getattr(watcher, "content_frames", 0), 0
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


async def relay_fast(
    ctx: Exchange, stream: UpstreamStream, done: Done, mask: SecretMask | None = None, persist: Persist | None = None
) -> AsyncGenerator[bytes, None]:
    error: GatewayError | None = None
    ctx.estimate = _estimator(ctx, None, stream.decoder)
    capture = TerminalCapture() if ctx.store_response or persist is not None else None

    async def settle(final: bool = False) -> None:
        """Store the Response before its terminal event goes out (``final``: the stream ends
        with the gateway's own error event, whatever the upstream sent)."""
        if persist is None or persist.done or capture is None or (capture.response is None and not final):
            return
        ctx.final_response, ctx.stream_response_id = capture.response, capture.created_id
        await persist(capture.response)

    mask = mask or SecretMask()
    pending = b""  # the start of a frame not complete yet
    errored = False
    try:
        while (item := await stream.next()) is not None:
            chunk, events = item
            if chunk:
                if events:  # most content frames are not decoded at all (StreamWatcher)
                    observe(ctx, events)
                    # an upstream error frame, and all after it (Responses: response.failed),
                    # relayed as is: mask everything key-like in it
                    errored = errored or any(isinstance(e, StreamError) for e in events)
                if ctx.trace is not None:
                    ctx.trace(trace.UPSTREAM_FRAME, chunk.decode("utf-8", "replace"))
                if capture is not None:
                    capture.feed(chunk)
                # whole frames only, so an upstream error frame is masked as one piece
                data = pending + chunk if pending else chunk
                cut = frames_end(data)
                data, pending = (data, b"") if cut == len(data) else (data[:cut], data[cut:])
                if errored:
                    data = mask.error_bytes(data)
                if data:
                    if persist is not None:
                        await settle()
                    yield data
                continue
            if pending:  # the upstream's last frame had no blank line after it
                data, pending = pending, b""
                errored = errored or any(isinstance(e, StreamError) for e in events)
                await settle()
                yield mask.error_bytes(data) if errored else data
            before = ctx.error
            observe(ctx, events)
            if before is None and ctx.error is not None:
                # the upstream stream ended early (no terminal event): say so in-band
                error = ctx.error
                await settle(final=True)
                yield client_encoder(ctx).feed(StreamError(mask.error(error)))
    except GatewayError as exc:
        error = ctx.error = exc
        await settle(final=True)
        yield client_encoder(ctx).feed(StreamError(mask.error(exc)))
    except Exception:
        error = ctx.error = internal_error(ctx)
        await settle(final=True)
        yield client_encoder(ctx).feed(StreamError(error))
    finally:
        stream.close()
        if capture is not None:
            ctx.final_response, ctx.stream_response_id = capture.response, capture.created_id
        done(error or ctx.error)


def frames_end(data: bytes) -> int:
    """Where the last complete SSE frame of ``data`` ends (0: none is complete)."""
    if data.endswith(FRAME_ENDS):
        return len(data)
    end = 0
    for sep in FRAME_ENDS:
        at = data.rfind(sep)
        if at != -1:
            end = max(end, at + len(sep))
    return end


async def relay_translated(
    ctx: Exchange,
    source: UpstreamStream,
    done: Done,
    seal: Seal | None = None,
    mask: SecretMask | None = None,
    persist: Persist | None = None,
) -> AsyncGenerator[bytes, None]:
    """``seal``: the envelope stream transform, after the provider's chain (which records the
    upstream's own values for the field cache); ``mask``: credentials masked in in-band errors;
    ``persist``: stores the Response before its terminal event goes out."""
    encoder = client_encoder(ctx)
    mask = mask or SecretMask()

    async def settle() -> None:
        """Store the Response once the encoder has made its terminal event, before it goes out."""
        if persist is not None and not persist.done:
            final = getattr(encoder, "final_response", None)
            if final is not None:
                ctx.final_response = final
                await persist(final)

    chain = ctx.chain_stream
    try:
        output = estimate.OutputCount(ctx.count)
        ctx.estimate = _estimator(ctx, output)
        while (item := await source.next()) is not None:
            chunk, events = item
            if chunk and ctx.trace is not None:
                ctx.trace(trace.UPSTREAM_FRAME, chunk.decode("utf-8", "replace"))
            if chain is not None and events:
                events = [out for event in events for out in chain.feed(event)]
                if any(isinstance(e, MessageStop) for e in events):
                    # the field cache saves what the stream carried before its end goes out
                    # (a client that leaves at the end cancels whatever comes after)
                    events += await chain.finish()
                    chain = None
            if seal is not None and events:
                events = [out for event in events for out in seal(event)]
            if events:
                output.feed(events)
                events = _with_estimate(ctx, events)
                observe(ctx, events)
                out = b"".join([encoder.feed(event) for event in _stamp(ctx, events, mask)])
                if out:
                    await settle()
                    yield out
        if chain is not None:
            tail = await chain.finish()  # a stream that never stopped: the stages flush
            if seal is not None:
                tail = [out for event in tail for out in seal(event)]
            out = b"".join([encoder.feed(event) for event in tail])
            if out:
                await settle()
                yield out
        out = encoder.finish()
        if out:
            await settle()
            yield out
    except GatewayError as exc:
        ctx.error = exc
        out = encoder.feed(StreamError(mask.error(exc)))
        await settle()
        yield out
    except Exception:
        ctx.error = internal_error(ctx)
        out = encoder.feed(StreamError(ctx.error))
        await settle()
        yield out
    finally:
        source.close()
        ctx.final_response = getattr(encoder, "final_response", None)
        done(ctx.error)


def _stamp(ctx: Exchange, events: list[Event], mask: SecretMask | None = None) -> list[Event]:
    """The start event with the gateway's own Responses id (ids must be unique per stored response)
    and the real time when the upstream gave none (Anthropic streams carry no time); an upstream's
    in-band error with the credentials masked."""
    if mask is not None and any(isinstance(e, StreamError) for e in events):
        events = [StreamError(mask.error(e.error)) if isinstance(e, StreamError) else e for e in events]
    if not any(isinstance(e, MessageStart) for e in events):
        return events
    return [_stamped(ctx, e) if isinstance(e, MessageStart) else e for e in events]


def _stamped(ctx: Exchange, event: MessageStart) -> MessageStart:
    return replace(event, id=ctx.response_id or event.id, created=event.created or int(time.time()))
