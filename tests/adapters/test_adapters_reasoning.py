"""reasoning_content_normalize on answers and streams: ``<think>`` text becomes a reasoning part,
the stream form agrees with the answer form under any chunking, parts after it are renumbered."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.adapters.reasoning import REASONING_CONTENT_NORMALIZE, ThinkSplitter, split_think
from switchyard.core.errors import GatewayError
from switchyard.core.events import (
    Event,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from switchyard.core.model import ReasoningPart, Response, TextPart, ToolCallPart

PARAMS = REASONING_CONTENT_NORMALIZE.params({})


def normalize(resp: Response) -> Response:
    assert REASONING_CONTENT_NORMALIZE.response is not None
    return REASONING_CONTENT_NORMALIZE.response(resp, PARAMS, "openai_chat")


def test_split_think() -> None:
    assert split_think("<think>\nplan\n</think>\n\nanswer", "<think>", "</think>") == ("plan", "answer")
    assert split_think("  <think>only thinking", "<think>", "</think>") == ("only thinking", "")
    assert split_think("no tags <think>x</think>", "<think>", "</think>") is None
    assert split_think("", "<think>", "</think>") is None


def test_answer_is_split() -> None:
    resp = Response("r", "m", [TextPart("<think>\nLet me add.\n</think>\n\n5"), ToolCallPart("c", "f")])
    out = normalize(resp)
    assert out.content == [ReasoningPart("Let me add."), TextPart("5"), ToolCallPart("c", "f")]
    assert resp.content[0].text.startswith("<think>")  # input untouched


def test_answers_without_tags_or_with_reasoning_first_are_left_alone() -> None:
    plain = Response("r", "m", [TextPart("hello <think>")])
    assert normalize(plain) is plain
    reasoned = Response("r", "m", [ReasoningPart("r"), TextPart("<think>x</think>y")])
    assert normalize(reasoned) is reasoned
    call_first = Response("r", "m", [ToolCallPart("c", "f"), TextPart("<think>x</think>")])
    assert normalize(call_first) is call_first


def run_stream(events: list[Event]) -> list[Event]:
    splitter = ThinkSplitter(PARAMS)
    out: list[Event] = []
    for event in events:
        out += splitter.feed(event)
    return out + splitter.finish()


def text_stream(chunks: list[str], tail: list[Event] | None = None) -> list[Event]:
    return [
        MessageStart("r", "m"),
        PartStart(0, TextPart("")),
        *[TextDelta(0, c) for c in chunks],
        PartStop(0),
        *(tail or []),
        MessageDelta("end_turn"),
        MessageStop(),
    ]


def fold(events: list[Event]) -> list[tuple[int, str, str]]:
    """(index, kind, text) per part, checking the event grammar on the way."""
    parts: dict[int, list[Any]] = {}
    open_index = None
    for e in events:
        if isinstance(e, PartStart):
            assert open_index is None, "parts must not interleave"
            assert e.index == len(parts), "indexes must be contiguous from 0"
            parts[e.index] = [e.part.kind, ""]
            open_index = e.index
        elif isinstance(e, TextDelta | ReasoningDelta | ToolArgsDelta):
            assert e.index == open_index
            parts[e.index][1] += e.json if isinstance(e, ToolArgsDelta) else e.text
        elif isinstance(e, PartStop):
            assert e.index == open_index
            open_index = None
    return [(i, kind, text) for i, (kind, text) in sorted(parts.items())]


def test_stream_is_split_and_later_parts_renumbered() -> None:
    tail = [PartStart(1, ToolCallPart("c", "f", "")), ToolArgsDelta(1, "{}"), PartStop(1)]
    out = run_stream(text_stream(["<thi", "nk>\nI should", " call f\n</th", "ink>\n\nCalling", " f."], tail))
    assert fold(out) == [(0, "reasoning", "I should call f"), (1, "text", "Calling f."), (2, "tool_call", "{}")]


def test_stream_without_tags_passes_the_same_events() -> None:
    events = text_stream(["Hello", " world"])
    assert run_stream(events) == events
    reasoning_first = [MessageStart("r", "m"), PartStart(0, ReasoningPart()), ReasoningDelta(0, "<think>")]
    assert run_stream(reasoning_first) == reasoning_first


def test_thinking_only_stream_keeps_indexes_contiguous() -> None:
    tail = [PartStart(1, ToolCallPart("c", "f", "")), PartStop(1)]
    out = run_stream(text_stream(["<think>just thinking"], tail))
    assert fold(out) == [(0, "reasoning", "just thinking"), (1, "tool_call", "")]


def test_close_tag_followed_by_whitespace_only_opens_no_text_part() -> None:
    out = run_stream(text_stream(["<think>a</think>", "\n\n"]))
    assert fold(out) == [(0, "reasoning", "a")]


def test_stream_error_flushes_what_was_held_first() -> None:
    err = StreamError(GatewayError("server", "cut"))
    out = run_stream([MessageStart("r", "m"), PartStart(0, TextPart("")), TextDelta(0, "<thi"), err])
    assert out == [MessageStart("r", "m"), PartStart(0, TextPart("")), TextDelta(0, "<thi"), err]
    out = run_stream([MessageStart("r", "m"), PartStart(0, TextPart("")), TextDelta(0, "<think>abc </"), err])
    assert [type(e).__name__ for e in out] == [
        "MessageStart",
        "PartStart",
        "ReasoningDelta",
        "ReasoningDelta",
        "StreamError",
    ]
    assert "".join(e.text for e in out if isinstance(e, ReasoningDelta)) == "abc </"


texts = st.one_of(
    st.builds(
        lambda pre, r, a: f"{pre}<think>{r}</think>{a}",
        st.sampled_from(["", " ", "\n"]),
        st.text(alphabet="ab <>/\n", max_size=20),
        st.text(alphabet="ab <>/\n", max_size=20),
    ),
    st.builds(lambda r: f"<think>{r}", st.text(alphabet="ab <>/t\n", max_size=20)),
    st.text(alphabet="ab <>/think\n", max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(texts, st.data())
def test_stream_agrees_with_the_answer_form_under_any_chunking(value: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(value)), max_size=6)))
    chunks = [value[a:b] for a, b in zip([0, *cuts], [*cuts, len(value)], strict=True) if value[a:b]]
    streamed = fold(run_stream(text_stream(chunks)))
    answer = normalize(Response("r", "m", [TextPart(value)]))
    expected = [(i, p.kind, p.text) for i, p in enumerate(answer.content)]
    assert streamed == expected
