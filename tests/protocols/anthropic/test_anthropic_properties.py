"""Properties: what the encoder writes decodes to the same answer in any chunking; parse/build
round trips of generated requests."""

from __future__ import annotations

import orjson
from anthropic_helpers import decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st

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
from switchyard.protocols.anthropic import build_request, parse_request

text = st.text(min_size=1, max_size=12)
ident = st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def answers(draw):
    """A well-formed core event sequence and the answer it stands for."""
    events = [MessageStart("msg_x", "claude-x", Usage(input_tokens=draw(st.integers(0, 99))))]
    expected = []
    for index in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "tool", "thinking"]))
        if kind == "text":
            chunks = draw(st.lists(text, min_size=1, max_size=4))
            events += [PartStart(index, TextPart("")), *[TextDelta(index, c) for c in chunks]]
            expected.append(("text", "".join(chunks)))
        elif kind == "tool":
            args = orjson.dumps(draw(st.dictionaries(ident, json_value, max_size=3))).decode()
            cuts = sorted(draw(st.lists(st.integers(1, max(1, len(args) - 1)), max_size=3)))
            pieces = [args[a:b] for a, b in zip([0, *cuts], [*cuts, len(args)], strict=True) if args[a:b]]
            call_id = "toolu_" + draw(ident)
            events += [PartStart(index, ToolCallPart(call_id, "f", "")), *[ToolArgsDelta(index, p) for p in pieces]]
            expected.append(("tool", call_id, orjson.loads(args)))
        else:
            chunks = draw(st.lists(text, min_size=1, max_size=3))
            signature = draw(ident)
            events += [PartStart(index, ReasoningPart("", None, "anthropic"))]
            events += [ReasoningDelta(index, c) for c in chunks] + [SignatureDelta(index, signature, "anthropic")]
            expected.append(("thinking", "".join(chunks), signature))
        events.append(PartStop(index))
    stop = draw(st.sampled_from([StopReason.END_TURN, StopReason.MAX_TOKENS, StopReason.TOOL_USE]))
    events += [MessageDelta(stop, usage=Usage(input_tokens=1, output_tokens=draw(st.integers(0, 99)))), MessageStop()]
    return events, expected


def answer_of(events) -> list:
    parts: dict[int, list] = {}
    for e in events:
        if isinstance(e, PartStart):
            p = e.part
            if isinstance(p, ToolCallPart):
                parts[e.index] = ["tool", p.id, ""]
            elif isinstance(p, ReasoningPart):
                parts[e.index] = ["thinking", "", ""]
            else:
                parts[e.index] = ["text", ""]
        elif isinstance(e, TextDelta | ReasoningDelta):
            parts[e.index][1] += e.text
        elif isinstance(e, SignatureDelta):
            parts[e.index][2] += e.signature
        elif isinstance(e, ToolArgsDelta):
            parts[e.index][2] += e.json
    out = []
    for _, p in sorted(parts.items()):
        if p[0] == "tool":
            out.append(("tool", p[1], orjson.loads(p[2] or "{}")))
        else:
            out.append(tuple(p))
    return out


@settings(max_examples=150, deadline=None)
@given(answers(), st.lists(st.integers(0, 4000), max_size=6))
def test_encoder_output_decodes_to_the_same_answer(answer, cuts) -> None:
    events, expected = answer
    data = encode(events)
    decoded = decode(data, [c for c in cuts if c < len(data)])
    assert answer_of(decoded) == expected
    assert isinstance(decoded[-1], MessageStop)
    delta = next(e for e in decoded if isinstance(e, MessageDelta))
    assert delta.usage is not None and delta.usage.output_tokens == events[-2].usage.output_tokens


block = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, text),
    st.builds(lambda t: {"type": "text", "text": t, "cache_control": {"type": "ephemeral"}}, text),
    st.builds(
        lambda d: {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": d}},
        ident,
    ),
)


@st.composite
def conversations(draw):
    messages = []
    for turn in range(draw(st.integers(1, 4))):
        user = draw(st.one_of(text, st.lists(block, min_size=1, max_size=3)))
        messages.append({"role": "user", "content": user})
        if draw(st.booleans()):
            call_id = f"toolu_{turn}"
            args = draw(st.dictionaries(ident, json_value, max_size=2))
            assistant = [{"type": "tool_use", "id": call_id, "name": "f", "input": args}]
            if draw(st.booleans()):
                assistant.insert(0, {"type": "thinking", "thinking": draw(text), "signature": draw(ident)})
            messages.append({"role": "assistant", "content": assistant})
            result = {"type": "tool_result", "tool_use_id": call_id, "content": draw(text)}
            if draw(st.booleans()):
                result["is_error"] = draw(st.booleans())
            extra = draw(st.lists(block, max_size=2))
            messages.append({"role": "user", "content": draw(st.permutations([result, *extra]))})
        else:
            messages.append(
                {
                    "role": "assistant",
                    "content": draw(
                        st.one_of(text, st.lists(block.filter(lambda b: b["type"] == "text"), min_size=1, max_size=2))
                    ),
                }
            )
    return {"model": "claude-x", "max_tokens": draw(st.integers(1, 9999)), "messages": messages}


@settings(max_examples=150, deadline=None)
@given(conversations())
def test_request_round_trip(body) -> None:
    assert build_request(parse_request(body)) == body
