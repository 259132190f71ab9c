"""Property tests: whatever valid event sequence the encoder gets, our decoder reads the same
answer back from its bytes (in any chunking), and the sequence numbers count up from 0."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from responses_helpers import decode, encode, frames, request

from switchyard.core.events import (
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    SignatureDelta,
    TextDelta,
    ToolArgsDelta,
)
from switchyard.core.model import ReasoningPart, StopReason, TextPart, ToolCallPart, Usage

text = st.text(min_size=1, max_size=12)
pieces = st.lists(text, min_size=1, max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
part = st.one_of(
    st.tuples(st.just("text"), pieces),
    st.tuples(st.just("call"), st.dictionaries(st.text(min_size=1, max_size=5), json_values, max_size=3)),
    st.tuples(st.just("reasoning"), pieces, st.none() | st.text(alphabet="abcdef0123456789", min_size=1, max_size=20)),
)
usage = st.builds(
    Usage,
    input_tokens=st.integers(0, 10**6),
    output_tokens=st.integers(0, 10**6),
    cache_read_tokens=st.integers(0, 10**5),
    cache_write_tokens=st.integers(0, 10**5),
)


def events_for(parts: list, stop: str, use: Usage) -> list:
    events: list = [MessageStart("msg_x", "model-x")]
    for i, spec in enumerate(parts):
        if spec[0] == "text":
            events += [PartStart(i, TextPart("")), *[TextDelta(i, t) for t in spec[1]], PartStop(i)]
        elif spec[0] == "call":
            args = orjson.dumps(spec[1]).decode()
            cut = len(args) // 2
            events += [
                PartStart(i, ToolCallPart(f"call_{i}", "f", "")),
                ToolArgsDelta(i, args[:cut]),
                ToolArgsDelta(i, args[cut:]),
                PartStop(i),
            ]
        else:
            events += [PartStart(i, ReasoningPart()), *[ReasoningDelta(i, t) for t in spec[1]]]
            if spec[2]:
                events.append(SignatureDelta(i, spec[2], "openai_responses"))
            events.append(PartStop(i))
    return [*events, MessageDelta(stop, usage=use), MessageStop()]


def answer(events: list) -> tuple:
    parts: list[list] = []
    stop = use = None
    for e in events:
        if isinstance(e, PartStart):
            parts.append([e.part.kind, ""])
        elif isinstance(e, TextDelta | ReasoningDelta):
            parts[-1][1] += e.text
        elif isinstance(e, ToolArgsDelta):
            parts[-1][1] += e.json
        elif isinstance(e, SignatureDelta):
            parts[-1].append(e.signature)
        elif isinstance(e, MessageDelta):
            stop, use = e.stop_reason, e.usage
    use_tuple = (
        None if use is None else (use.input_tokens, use.output_tokens, use.cache_read_tokens, use.cache_write_tokens)
    )
    return [tuple(p) for p in parts], stop, use_tuple


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(part, max_size=5),
    stop=st.sampled_from([StopReason.END_TURN, StopReason.MAX_TOKENS]),
    use=usage,
    cuts=st.lists(st.integers(0, 5000), max_size=6),
)
def test_encoder_output_decodes_to_the_same_answer(parts: list, stop: str, use: Usage, cuts: list[int]) -> None:
    events = events_for(parts, stop, use)
    data = encode(request(), events)
    numbers = [payload["sequence_number"] for _, payload in frames(data)]
    assert numbers == list(range(len(numbers)))
    decoded = decode(data, [c for c in cuts if c <= len(data)])
    got_parts, got_stop, got_use = answer(decoded)
    want_parts, _, want_use = answer(events)
    # consecutive text parts share one message item but stay separate content parts
    assert got_parts == want_parts
    has_calls = any(p[0] == "call" for p in parts)
    assert got_stop == (StopReason.TOOL_USE if has_calls and stop == StopReason.END_TURN else stop)
    assert got_use == want_use
