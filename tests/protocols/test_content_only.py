"""``StreamWatcher``: skipping the frames ``content_only`` names leaves what a same-protocol relay
observes unchanged.

The watcher decodes every frame until the first content event, then only the frames that are not
``content_only``, and at the end the last frame if it skipped it. What a relay reads from the
events — the usage, the stop reason, the first error and whether the stream ended — must be what a
full decode gives, for every real stream and for the same streams cut short anywhere.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from switchyard.core.events import MessageDelta, MessageStart, MessageStop, StreamError
from switchyard.core.sse import SSEDecoder, SSEFrame
from switchyard.protocols import PROTOCOLS, codec, watch
from switchyard.protocols.watch import StreamWatcher

HERE = Path(__file__).parent
STREAMS = [(p, f) for p in PROTOCOLS for f in sorted((HERE / p / "fixtures").rglob("*.sse"))]


def observed(protocol: str, frames: list[SSEFrame], watch: bool) -> dict[str, Any]:
    decoder = StreamWatcher(protocol) if watch else codec(protocol).StreamDecoder()
    return seen_in([e for frame in frames for e in decoder.feed(frame)] + decoder.finish())


def seen_in(events: list[Any]) -> dict[str, Any]:
    seen: dict[str, Any] = {"usage": None, "stop": None, "error": None, "ended": False}
    for e in events:
        if isinstance(e, MessageStart) and e.usage is not None and seen["usage"] is None:
            seen["usage"] = e.usage
        elif isinstance(e, MessageDelta):
            seen["usage"] = e.usage or seen["usage"]
            seen["stop"] = e.stop_reason or seen["stop"]
        elif isinstance(e, StreamError) and seen["error"] is None:
            seen["error"] = (e.error.kind, e.error.message)
        elif isinstance(e, MessageStop):
            seen["ended"] = True
    return seen


def frames_of(raw: bytes) -> list[SSEFrame]:
    dec = SSEDecoder()
    return dec.feed(raw) + dec.flush()


@pytest.mark.parametrize(("protocol", "path"), STREAMS, ids=[f"{p}/{f.name}" for p, f in STREAMS])
def test_skipping_content_frames_observes_the_same(protocol: str, path: Path) -> None:
    frames = frames_of(path.read_bytes())
    assert observed(protocol, frames, watch=True) == observed(protocol, frames, watch=False)
    for cut in range(1, len(frames)):  # the stream cut short after each frame
        assert observed(protocol, frames[:cut], watch=True) == observed(protocol, frames[:cut], watch=False), cut


def test_each_protocol_skips_something() -> None:
    for protocol in PROTOCOLS:
        skipped = [f for p, path in STREAMS if p == protocol for f in frames_of(path.read_bytes())]
        assert any(codec(protocol).content_only(f) for f in skipped), protocol


def test_frames_that_end_or_fail_are_never_skipped() -> None:
    for protocol, data, event in (
        ("anthropic", '{"type":"message_delta","delta":{"stop_reason":"end_turn"}}', "message_delta"),
        ("anthropic", '{"type":"error","error":{"type":"overloaded_error"}}', "error"),
        ("openai_chat", '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}', None),
        ("openai_chat", '{"error":{"message":"x"},"choices":[{"finish_reason":null}]}', None),
        ("openai_responses", '{"type":"response.completed"}', "response.completed"),
        ("gemini", '{"candidates":[{"finishReason":"STOP"}]}', None),
        ("gemini", '{"error":{"code":429}}', None),
    ):
        assert not codec(protocol).content_only(SSEFrame(data=data, event=event)), (protocol, data)


@pytest.mark.parametrize(("protocol", "path"), STREAMS, ids=[f"{p}/{f.name}" for p, f in STREAMS])
def test_kept_frames_replay_as_a_full_decode(protocol: str, path: Path) -> None:
    """A watcher that keeps its frames gives, on demand, the events a full decode gives."""
    frames = frames_of(path.read_bytes())
    watcher = StreamWatcher(protocol, keep=True)
    full = codec(protocol).StreamDecoder()
    for frame in frames:
        watcher.feed(frame)
    replayed = watcher.replay()
    assert replayed is not None
    assert list(map(repr, replayed)) == [repr(e) for frame in frames for e in full.feed(frame)]  # errors: by value


@pytest.mark.parametrize(("protocol", "path"), STREAMS, ids=[f"{p}/{f.name}" for p, f in STREAMS])
def test_frames_kept_unframed_replay_as_a_full_decode(protocol: str, path: Path) -> None:
    """Whole content frames counted without framing (a read of whole frames) are kept too."""
    raw = path.read_bytes().replace(b"\r\n", b"\n")
    frames = frames_of(raw)
    watcher, sse = StreamWatcher(protocol, keep=True), SSEDecoder()
    watcher.decode(raw, sse)  # one read: once content has started, content frames go unframed
    for frame in sse.flush():
        watcher.feed(frame)
    replayed = watcher.replay()
    assert replayed is not None
    full = codec(protocol).StreamDecoder()
    assert list(map(repr, replayed)) == [repr(e) for frame in frames for e in full.feed(frame)]


def test_frames_past_the_limit_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "KEEP_LIMIT", 100)
    watcher = StreamWatcher("openai_chat", keep=True)
    watcher.feed(SSEFrame(data='{"choices":[{"index":0,"delta":{"content":"' + "x" * 100 + '"}}]}'))
    assert watcher.replay() is None  # the estimate then counts content frames
    assert StreamWatcher("openai_chat").replay() is None  # not asked to keep


def observed_in_chunks(protocol: str, raw: bytes, cuts: list[int]) -> dict[str, Any]:
    """What the watcher observes reading ``raw`` in the chunks ``cuts`` make (as a relay reads it)."""
    watcher, sse = StreamWatcher(protocol), SSEDecoder()
    events = []
    for start, end in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        events += watcher.decode(raw[start:end], sse)
    events += [e for frame in sse.flush() for e in watcher.feed(frame)] + watcher.finish()
    return seen_in(events)


@pytest.mark.parametrize(("protocol", "path"), STREAMS, ids=[f"{p}/{f.name}" for p, f in STREAMS])
def test_whole_chunks_skipped_unframed_observe_the_same(protocol: str, path: Path) -> None:
    """Chunks of whole content frames are counted without framing; every chunking of the stream,
    cut short anywhere, observes what a full decode does."""
    raw = path.read_bytes().replace(b"\r\n", b"\n")  # LF framing: the chunks that can be skipped
    full = observed(protocol, frames_of(raw), watch=False)
    ends = [i + 2 for i in range(len(raw)) if raw.startswith(b"\n\n", i)]  # frame boundaries
    rng = random.Random(path.name)
    for _ in range(30):
        cuts = sorted(rng.sample(ends[:-1], rng.randint(0, max(len(ends) - 1, 0))))
        assert observed_in_chunks(protocol, raw, cuts) == full, cuts
        odd = sorted(set(cuts) | {rng.randrange(1, len(raw))})  # a chunk that ends inside a frame
        assert observed_in_chunks(protocol, raw, odd) == full, odd
    for end in ends[:-1]:  # cut short after each frame, read one frame a chunk
        part = raw[:end]
        frame_cuts = [e for e in ends if e < end]
        assert observed_in_chunks(protocol, part, frame_cuts) == observed(protocol, frames_of(part), watch=False)


def test_a_chunk_with_any_frame_that_matters_is_framed() -> None:
    watcher, sse = StreamWatcher("openai_chat"), SSEDecoder()
    first = b'data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
    stop = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    watcher.decode(first, sse)  # the start: decoded
    assert watcher.decode(first * 3, sse) == [] and watcher.content_frames == 4
    events = watcher.decode(first + stop + b"data: [DONE]\n\n", sse)
    assert seen_in(events)["stop"] is not None and seen_in(events)["ended"]
