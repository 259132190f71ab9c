"""A stream decoder for a relay that only watches the stream (the same-protocol fast path).

:class:`StreamWatcher` has the ``StreamDecoder`` interface. It decodes every frame until the
first content event, then only the frames that are not the codec's ``content_only`` ones: what
it reports — usage, stop reason, errors and the end — is what a full decode reports, for a
fraction of the work. If the stream's last frame was skipped, it is decoded at the end
(Gemini's cumulative usage on a cut stream). ``content_frames`` counts the frames that carried
content (skipped or decoded): what a usage estimate has to go on when the upstream reports none.

:meth:`StreamWatcher.decode` observes a whole upstream read at once: in a read of whole
LF-ended frames, once the stream has started, a content frame (``content_frame``, on its raw
bytes) is counted without being framed or decoded at all; the other frames, and reads that end
inside a frame, go through the SSE decoder.

``keep``: the watcher also keeps the frames (up to :data:`KEEP_LIMIT` characters of data), so a
usage estimate can decode them once, and only when it is needed (:meth:`replay`).
"""

from __future__ import annotations

from ..core.events import Event, ReasoningDelta, TextDelta, ToolArgsDelta, is_content
from ..core.sse import SSEDecoder, SSEFrame
from . import codec

_DELTAS = (TextDelta, ToolArgsDelta, ReasoningDelta)
KEEP_LIMIT = 4 << 20


class StreamWatcher:
    __slots__ = (
        "_content_frame",
        "_content_only",
        "_decoder",
        "_kept",
        "_kept_size",
        "_protocol",
        "_skipped",
        "_started",
        "content_frames",
    )

    def __init__(self, protocol: str, keep: bool = False) -> None:
        mod = codec(protocol)
        self._protocol = protocol
        self._decoder = mod.StreamDecoder()
        self._content_only = mod.content_only
        self._content_frame = mod.content_frame
        self._started = False
        self._skipped: SSEFrame | bytes | None = None
        """The last frame, when it was skipped (bytes: skipped unframed)."""
        self._kept: list[SSEFrame | bytes] | None = [] if keep else None
        """The frames so far, when asked to keep them (bytes: a frame skipped unframed)."""
        self._kept_size = 0
        self.content_frames = 0

    def _keep(self, frame: SSEFrame | bytes, size: int) -> None:
        assert self._kept is not None
        self._kept.append(frame)
        self._kept_size += size
        if self._kept_size > KEEP_LIMIT:
            self._kept = None  # too long to keep: the estimate counts content frames

    def feed(self, frame: SSEFrame) -> list[Event]:
        if self._kept is not None:
            self._keep(frame, len(frame.data))
        if self._started and self._content_only(frame):
            self._skipped = frame
            self.content_frames += 1
            return []
        self._skipped = None  # only a skipped *last* frame is decoded at the end
        events = self._decoder.feed(frame)
        if any(isinstance(e, _DELTAS) for e in events):
            self.content_frames += 1
        self._started = self._started or any(is_content(e) for e in events)
        return events

    def decode(self, chunk: bytes, sse: SSEDecoder) -> list[Event]:
        """The events of ``chunk``, an upstream read, framed by ``sse`` when it has to be."""
        events: list[Event] = []
        if not (sse.idle and chunk.endswith(b"\n\n") and b"\r" not in chunk):
            for frame in sse.feed(chunk):
                events += self.feed(frame)
            return events
        raws = chunk.split(b"\n\n")
        raws.pop()  # the empty rest after the last blank line
        for raw in raws:
            if self._started and self._content_frame(raw):
                self.content_frames += 1
                self._skipped = raw
                if self._kept is not None:
                    self._keep(raw, len(raw))
            else:
                for frame in sse.feed(raw + b"\n\n"):
                    events += self.feed(frame)
        return events

    def finish(self) -> list[Event]:
        skipped = _framed(self._skipped) if self._skipped is not None else None
        events = self._decoder.feed(skipped) if skipped is not None else []
        return events + self._decoder.finish()

    def replay(self) -> list[Event] | None:
        """Every event of the frames so far, decoded afresh (None: the frames were not kept)."""
        if self._kept is None:
            return None
        decoder = codec(self._protocol).StreamDecoder()
        frames = [framed for frame in self._kept if (framed := _framed(frame)) is not None]
        return [event for frame in frames for event in decoder.feed(frame)]


def _framed(frame: SSEFrame | bytes) -> SSEFrame | None:
    """A frame kept unframed (its raw bytes), framed (None: not a frame)."""
    if isinstance(frame, SSEFrame):
        return frame
    return next(iter(SSEDecoder().feed(frame + b"\n\n")), None)
