"""Usage the gateway counts itself when the upstream reports none.

Some OpenAI-compatible servers send no usage in their streams (llama.cpp's server ignores
``stream_options.include_usage``), and a stream cut short has none. Such a usage is unknown, not
0: the gateway estimates it here and marks it (``Usage.estimated``; ``usage_estimated`` in the
usage log). Clients get the estimate in their protocol's usage fields.

Texts are counted with a :data:`TokenCount`: the target model's tokenizer where the gateway has
one (:mod:`switchyard.tokenizer`: tiktoken for OpenAI-family models, loaded at start-up), else
the approximation — one token per :data:`CHARS_PER_TOKEN` (4) characters, rounded up, OpenAI's
rule of thumb for English text (Claude and Gemini models, or no encodings installed).

- input: the system prompt and every message (text, tool calls' names and arguments, tool
  results, reasoning), the tools' names, descriptions and JSON schemas, each text counted on its
  own, plus :data:`PER_MESSAGE` (3) tokens per message for the role framing and 3 to prime the
  reply (the chat-format overhead OpenAI documents);
- output of a stream: the number of content deltas the upstream streamed (llama.cpp, vLLM,
  Ollama and OpenAI stream one token per chunk, so this is the server's own count, whatever its
  tokenizer), unless the deltas carry more than :data:`BATCHED_CHARS` (8) characters on average —
  a server that sends several tokens per chunk —, then the count of their text. On the
  same-protocol fast path the content frames are kept undecoded and decoded for this only when
  the stream ended without usage;
- output of a whole answer: the count of its text.

Pure: no I/O (a tokenizer is a pure function once loaded).
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from ..core.events import Event, PartStart, ReasoningDelta, TextDelta, ToolArgsDelta
from ..core.model import (
    DocumentPart,
    Part,
    ReasoningPart,
    Request,
    Response,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

CHARS_PER_TOKEN = 4
PER_MESSAGE = 3
REPLY_PRIMING = 3
BATCHED_CHARS = 8

TokenCount = Callable[[str], int]
"""The number of tokens of a text (a tokenizer's count)."""


def text_tokens(chars: int) -> int:
    """Tokens for ``chars`` characters of text (0 for none)."""
    return -(-chars // CHARS_PER_TOKEN) if chars > 0 else 0


def _part_texts(part: Part) -> list[str]:
    if isinstance(part, TextPart | ReasoningPart):
        return [part.text]
    if isinstance(part, ToolCallPart):
        return [part.name, part.arguments]
    if isinstance(part, ToolResultPart):
        return [text for p in part.content for text in _part_texts(p)]
    if isinstance(part, DocumentPart) and part.text is not None:
        return [part.text]
    return []  # images and binary documents: not counted


def texts_tokens(texts: list[str], count: TokenCount | None = None) -> int:
    """Tokens of ``texts``, each counted on its own (``count`` None: the approximation)."""
    if count is None:
        return text_tokens(sum(map(len, texts)))
    return sum(count(text) for text in texts if text)


def request_tokens(req: Request, count: TokenCount | None = None) -> int:
    """The estimated input tokens of ``req``."""
    texts = [text for p in req.system for text in _part_texts(p)]
    for message in req.messages:
        texts.extend(text for p in message.content for text in _part_texts(p))
    for tool in req.tools:
        texts += [tool.name, tool.description or ""]
        if tool.parameters:
            texts.append(orjson.dumps(tool.parameters).decode())
    framing = PER_MESSAGE * (len(req.messages) + (1 if req.system else 0)) + REPLY_PRIMING
    return texts_tokens(texts, count) + framing


def response_tokens(resp: Response, count: TokenCount | None = None) -> tuple[int, int]:
    """The estimated (output, reasoning) tokens of a whole answer."""
    reasoning = [text for p in resp.content if isinstance(p, ReasoningPart) for text in _part_texts(p)]
    total = [text for p in resp.content for text in _part_texts(p)]
    return texts_tokens(total, count), texts_tokens(reasoning, count)


def estimated(input_tokens: int, output_tokens: int, reasoning_tokens: int = 0) -> Usage:
    """An estimated usage (marked ``estimated``)."""
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        reasoning_tokens=min(reasoning_tokens, output_tokens),
        estimated=True,
    )


def response_usage(input_tokens: int, resp: Response, count: TokenCount | None = None) -> Usage:
    """The estimated usage of a non-streaming answer ``resp`` to a request of ``input_tokens``."""
    output, reasoning = response_tokens(resp, count)
    return estimated(input_tokens, output, reasoning)


class _Streamed:
    """One kind of streamed text (output or reasoning): its deltas, characters and, for a
    tokenizer, the text itself (counted only if the estimate is needed)."""

    __slots__ = ("chars", "deltas", "pieces")

    def __init__(self, keep: bool) -> None:
        self.chars = self.deltas = 0
        self.pieces: list[str] | None = [] if keep else None

    def add(self, text: str, delta: bool) -> None:
        self.chars += len(text)
        self.deltas += delta
        if self.pieces is not None and text:
            self.pieces.append(text)

    def tokens(self, count: TokenCount | None) -> int:
        """One per delta, unless they were batched (more than BATCHED_CHARS characters a delta
        on average): then the count of their text."""
        if self.deltas and self.chars <= BATCHED_CHARS * self.deltas:
            return self.deltas
        if count is not None and self.pieces:
            return count("".join(self.pieces))
        return text_tokens(self.chars)


class OutputCount:
    """Counts what a stream generated, from its core events, for an estimate when it ends
    (``count``: the target's tokenizer, None for the approximation)."""

    __slots__ = ("count", "output", "reasoning")

    def __init__(self, count: TokenCount | None = None) -> None:
        self.count = count
        self.output = _Streamed(count is not None)
        self.reasoning = _Streamed(count is not None)

    def feed(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                self.output.add(event.text, True)
            elif isinstance(event, ToolArgsDelta):
                self.output.add(event.json, True)
            elif isinstance(event, ReasoningDelta):
                self.reasoning.add(event.text, True)
            elif isinstance(event, PartStart):
                part = event.part
                if isinstance(part, ToolCallPart):
                    self.output.add(part.name + part.arguments, False)
                elif isinstance(part, TextPart):
                    self.output.add(part.text, False)
                else:
                    self.reasoning.add(part.text, False)

    def tokens(self) -> tuple[int, int]:
        """The estimated (output, reasoning) tokens so far."""
        reasoning = self.reasoning.tokens(self.count)
        return self.output.tokens(self.count) + reasoning, reasoning
