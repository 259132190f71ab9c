"""The gateway's own usage count, for answers whose upstream reports none (always marked)."""

from __future__ import annotations

from switchyard.accounting import estimate
from switchyard.core.events import MessageDelta, PartStart, ReasoningDelta, TextDelta, ToolArgsDelta
from switchyard.core.model import (
    Message,
    ReasoningPart,
    Request,
    Response,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)


def test_text_is_four_characters_a_token_rounded_up():
    assert [estimate.text_tokens(n) for n in (0, 1, 4, 5, 400)] == [0, 1, 1, 2, 100]


def test_request_counts_every_text_the_model_reads():
    req = Request(
        model="m",
        system=[TextPart("s" * 40)],
        messages=[
            Message("user", [TextPart("u" * 40)]),
            Message("assistant", [ToolCallPart("c1", "name", '{"a": 1}')]),  # 4 + 8 characters
            Message("tool", [ToolResultPart("c1", [TextPart("r" * 28)])]),
        ],
        tools=[Tool("tool", "d" * 16, {"type": "object"})],  # 4 + 16 + 17 characters
    )
    chars = 40 + 40 + 12 + 28 + 37
    assert estimate.request_tokens(req) == estimate.text_tokens(chars) + 3 * 4 + 3


def test_a_stream_counts_one_token_per_delta_unless_batched():
    count = estimate.OutputCount()
    count.feed([PartStart(0, TextPart("")), *(TextDelta(0, " tok") for _ in range(10)), MessageDelta()])
    assert count.tokens() == (10, 0)  # llama.cpp, vLLM, Ollama: one token per chunk
    batched = estimate.OutputCount()
    batched.feed([TextDelta(0, "x" * 400), TextDelta(0, "y" * 400)])
    assert batched.tokens() == (200, 0)  # several tokens per chunk: characters / 4
    mixed = estimate.OutputCount()
    mixed.feed([PartStart(0, ReasoningPart()), ReasoningDelta(0, "think"), ReasoningDelta(0, "ing")])
    mixed.feed([PartStart(1, ToolCallPart("c", "f", "")), ToolArgsDelta(1, '{"a":'), ToolArgsDelta(1, "1}")])
    assert mixed.tokens() == (2 + 2, 2)  # reasoning is part of the output


def test_estimates_are_marked():
    resp = Response("r", "m", [ReasoningPart("t" * 8), TextPart("x" * 10)])
    usage = estimate.response_usage(12, resp)
    assert usage.estimated and (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (12, 5, 2)


def words(text: str) -> int:
    """A stand-in tokenizer: one token per word."""
    return len(text.split())


def test_a_tokenizer_counts_each_text_on_its_own():
    req = Request(
        model="m",
        system=[TextPart("be brief")],
        messages=[Message("user", [TextPart("one two three")]), Message("assistant", [TextPart("four")])],
    )
    assert estimate.request_tokens(req, words) == 2 + 3 + 1 + 3 * 3 + 3
    resp = Response("r", "m", [ReasoningPart("a b"), TextPart("c d e")])
    usage = estimate.response_usage(7, resp, words)
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (7, 5, 2)


def test_a_tokenizer_counts_batched_deltas_as_one_text():
    count = estimate.OutputCount(words)
    count.feed([TextDelta(0, "alpha beta gam"), TextDelta(0, "ma delta epsilon")])  # 30 characters in 2 deltas
    assert count.tokens() == (5, 0)  # the text joined: "gam" + "ma" is one word, not two
    one_each = estimate.OutputCount(words)
    one_each.feed([TextDelta(0, " tok") for _ in range(6)])
    assert one_each.tokens() == (6, 0)  # a token per delta: the server's own count, whatever the tokenizer
