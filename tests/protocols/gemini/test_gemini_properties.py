"""Property tests: the encoder accepts any valid event sequence, the decoder any valid chunks."""

from __future__ import annotations

import orjson
from gemini_helpers import decode, encode, frames
from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.core.errors import GatewayError
from switchyard.core.events import (
    Heartbeat,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from switchyard.core.model import Reasoning, ReasoningPart, Request, StopReason, TextPart, ToolCallPart, Usage

texts = st.text(max_size=8)
sources = st.sampled_from(["gemini", "anthropic", "openai_responses"])
usages = st.none() | st.builds(Usage, input_tokens=st.integers(0, 99), output_tokens=st.integers(0, 99))


@st.composite
def part_events(draw, index: int) -> list:
    kind = draw(st.sampled_from(["text", "reasoning", "tool"]))
    if kind == "tool":
        args = draw(st.dictionaries(st.text(max_size=3), st.integers(-1000, 1000), max_size=2))
        text = orjson.dumps(args).decode()
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=3)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        events = [PartStart(index, ToolCallPart(f"id{index}", "f", ""))] + [ToolArgsDelta(index, p) for p in pieces]
    elif kind == "text":
        events = [PartStart(index, TextPart(""))] + [TextDelta(index, t) for t in draw(st.lists(texts, max_size=3))]
    else:
        events = [PartStart(index, ReasoningPart())] + [
            ReasoningDelta(index, t) for t in draw(st.lists(texts, max_size=3))
        ]
    if draw(st.booleans()):
        events.insert(draw(st.integers(1, len(events))), SignatureDelta(index, draw(texts), draw(sources)))
    if draw(st.booleans()):
        events.insert(draw(st.integers(1, len(events))), Heartbeat())
    return [*events, PartStop(index)]


@st.composite
def event_sequences(draw) -> list:
    events = [MessageStart("r", "m", usage=draw(usages))]
    for index in range(draw(st.integers(0, 4))):
        events += draw(part_events(index))
    if draw(st.booleans()):
        events.insert(
            draw(st.integers(1, len(events))),
            StreamError(GatewayError("server", "boom")),
        )
        return events
    for _ in range(draw(st.integers(0, 2))):
        events.append(
            MessageDelta(
                draw(st.none() | st.sampled_from([StopReason.END_TURN, StopReason.TOOL_USE, StopReason.MAX_TOKENS])),
                usage=draw(usages),
            )
        )
    if draw(st.booleans()):
        events.append(MessageStop())
    return events


@settings(max_examples=300, deadline=None)
@given(event_sequences(), st.booleans())
def test_encoder_accepts_any_valid_sequence(events: list, thoughts: bool) -> None:
    req = Request(model="m", reasoning=Reasoning(include_thoughts=True) if thoughts else None)
    out = encode(req, events)
    assert out == b"" or out.endswith(b"\r\n\r\n")
    chunks = frames(out)
    errored = any(isinstance(e, StreamError) for e in events)
    finished = any(isinstance(e, MessageDelta | MessageStop) for e in events)
    if errored:
        assert "error" in chunks[-1]
    elif finished:
        assert chunks[-1]["candidates"][0]["finishReason"]
    for chunk in chunks:
        if "error" not in chunk:
            for part in chunk["candidates"][0]["content"]["parts"]:
                assert "functionCall" in part or "text" in part
    calls = [
        p["functionCall"]
        for c in chunks
        if "candidates" in c
        for p in c["candidates"][0]["content"]["parts"]
        if "functionCall" in p
    ]
    expected = [e.part.id for e in events if isinstance(e, PartStart) and isinstance(e.part, ToolCallPart)]
    if not errored:
        assert [c["id"] for c in calls] == expected


gemini_parts = st.one_of(
    st.builds(lambda t: {"text": t}, texts),
    st.builds(lambda t: {"text": t, "thought": True}, texts),
    st.builds(lambda t, s: {"text": t, "thoughtSignature": s}, texts, st.text("abc", min_size=1, max_size=4)),
    st.builds(lambda n: {"functionCall": {"name": n, "args": {"x": 1}}}, st.sampled_from(["f", "g"])),
    st.builds(lambda s: {"thoughtSignature": s}, st.text("abc", min_size=1, max_size=4)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(gemini_parts, max_size=3), min_size=1, max_size=5), st.booleans())
def test_decoder_grammar_on_any_chunks(chunks: list, finished: bool) -> None:
    data = b""
    for i, parts in enumerate(chunks):
        cand = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finished and i == len(chunks) - 1:
            cand["finishReason"] = "STOP"
        body = {
            "candidates": [cand],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": i, "totalTokenCount": 3 + i},
            "responseId": "r",
        }
        data += b"data: " + orjson.dumps(body) + b"\r\n\r\n"
    events = decode(data)
    assert isinstance(events[0], MessageStart)
    if not finished:
        assert isinstance(events[-1], StreamError)
        return
    assert isinstance(events[-1], MessageStop)
    open_index, next_index = None, 0
    for e in events[1:-1]:
        if isinstance(e, PartStart):
            assert open_index is None and e.index == next_index
            open_index, next_index = e.index, next_index + 1
        elif isinstance(e, PartStop):
            assert e.index == open_index
            open_index = None
        elif isinstance(e, TextDelta | ReasoningDelta | ToolArgsDelta | SignatureDelta):
            assert e.index == open_index
    # a Gemini client gets every text, call and signature back
    out = frames(encode(Request(model="m", reasoning=Reasoning(include_thoughts=True)), events))
    sent = [p for c in chunks for p in c]
    got = [p for c in out for p in c["candidates"][0]["content"]["parts"]]
    assert "".join(p.get("text", "") for p in got if not p.get("thought")) == "".join(
        p.get("text", "") for p in sent if not p.get("thought")
    )
    assert "".join(p["text"] for p in got if p.get("thought")) == "".join(p["text"] for p in sent if p.get("thought"))
    assert [p.get("thoughtSignature") for p in got if "thoughtSignature" in p] == [
        p["thoughtSignature"] for p in sent if "thoughtSignature" in p
    ]
    assert [p["functionCall"]["name"] for p in got if "functionCall" in p] == [
        p["functionCall"]["name"] for p in sent if "functionCall" in p
    ]
