"""The CPU cost of counting a stream's usage when the upstream reports none, in one process.

    python bench/estimate.py [--streams 2000]

An OpenAI Chat stream without a usage chunk (as the benchmark mock renders it, with 20 and 400
text deltas of a few words each, so the count is the tokenizer's), against a request of a system
prompt and one user message. For the two ways the gateway relays it, it prints CPU microseconds
per stream (median of 5 runs) of the estimator's work alone, with tiktoken and with the
approximation:

- translated: feeding each batch of decoded events to ``OutputCount`` while the stream runs, and
  counting input and output at its end;
- fast path: keeping the frames in the ``StreamWatcher`` while the stream runs (against a watcher
  that keeps none), and at the end decoding them afresh and counting.

The encodings must be installed (``switchyard tokenizers install``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from mock_upstream import _request

from switchyard import tokenizer
from switchyard.accounting import estimate
from switchyard.core.events import MessageDelta, MessageStart, MessageStop, PartStart, PartStop, TextDelta
from switchyard.core.model import Message, Request, StopReason, TextPart
from switchyard.core.sse import SSEDecoder, SSEFrame
from switchyard.protocols import codec
from switchyard.protocols.watch import StreamWatcher

PIECE = "the signal returns to danger "  # 29 characters a delta: a server that batches tokens
SYSTEM = "You are a careful assistant who answers questions about railway signalling in plain words."
PROMPT = "Explain how an interlocking refuses conflicting routes, step by step, in under two hundred words."


def no_usage_frames(chunks: int) -> list[SSEFrame]:
    """The frames of a Chat stream of ``chunks`` text deltas and no usage."""
    req = _request("openai_chat")
    req.stream = True
    encoder = codec("openai_chat").StreamEncoder(req)
    events = [
        MessageStart(id="mock-1", model="gpt-4o-mini", created=1_700_000_000),
        PartStart(0, TextPart("")),
        *(TextDelta(0, PIECE) for _ in range(chunks)),
        PartStop(0),
        MessageDelta(stop_reason=StopReason.END_TURN),
        MessageStop(),
    ]
    raw = b"".join(encoder.feed(event) for event in events) + encoder.finish()
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.flush()


def cpu_us(work: Callable[[], object], streams: int) -> float:
    """CPU microseconds per call of ``work`` (median of 5 runs of ``streams`` calls)."""
    runs = []
    for _ in range(5):
        started = time.process_time_ns()
        for _ in range(streams):
            work()
        runs.append((time.process_time_ns() - started) / streams / 1000)
    return statistics.median(runs)


def measure(frames: list[SSEFrame], req: Request, counter: estimate.TokenCount | None, streams: int) -> list[float]:
    """CPU µs per stream: translated while streaming and at the end, fast path likewise."""
    decoder = codec("openai_chat").StreamDecoder()
    batches = [decoder.feed(frame) for frame in frames]

    def feed() -> estimate.OutputCount:
        out = estimate.OutputCount(counter)
        for batch in batches:
            out.feed(batch)
        return out

    output = feed()

    def finish() -> None:
        output.tokens()
        estimate.request_tokens(req, counter)

    def watch(keep: bool) -> StreamWatcher:
        watcher = StreamWatcher("openai_chat", keep)
        for frame in frames:
            watcher.feed(frame)
        return watcher

    kept = watch(True)

    def replay() -> None:
        out = estimate.OutputCount(counter)
        out.feed(kept.replay() or [])
        out.tokens()
        estimate.request_tokens(req, counter)

    keeping = cpu_us(lambda: watch(True), streams) - cpu_us(lambda: watch(False), streams)
    return [cpu_us(feed, streams), cpu_us(finish, streams), keeping, cpu_us(replay, streams)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=2000, help="streams per run (default 2000)")
    args = parser.parse_args()
    count = tokenizer.load().counter("openai_chat", "gpt-4o-mini")
    if count is None:
        raise SystemExit("the encodings are not installed: run 'switchyard tokenizers install'")
    req = _request("openai_chat")
    req.system, req.messages = [TextPart(SYSTEM)], [Message("user", [TextPart(PROMPT)])]
    print(
        "| deltas | counter | translated: while streaming | translated: at the end | fast path: keeping frames"
        " | fast path: at the end |"
    )
    print("|---|---|---|---|---|---|")
    for chunks in (20, 400):
        frames = no_usage_frames(chunks)
        for name, counter in (("tiktoken", count), ("approximation", None)):
            cells = measure(frames, req, counter, args.streams)
            print(f"| {chunks} | {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
