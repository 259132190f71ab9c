"""Usage the gateway counts itself when the upstream reports none.

Some OpenAI-compatible servers send no usage in their streams (llama.cpp's server ignores
``stream_options.include_usage``), and a stream cut short has none. Such a usage is unknown, not
0: the gateway estimates it here and marks it (``Usage.estimated``; ``usage_estimated`` in the
usage log). Clients get the estimate in their protocol's usage fields.

The approximation — no tokenizer: a local model's tokenizer is the server's own, and tiktoken
downloads its encodings at run time:

- text: one token per :data:`CHARS_PER_TOKEN` (4) characters, rounded up — OpenAI's rule of thumb
  for English text;
- input: the text of the system prompt and of every message (text, tool calls' names and
  arguments, tool results, reasoning), the tools' names, descriptions and JSON schemas, plus
  :data:`PER_MESSAGE` (3) tokens per message for the role framing and 3 to prime the reply (the
  chat-format overhead OpenAI documents);
- output of a stream: the number of content deltas the upstream streamed (llama.cpp, vLLM and
  Ollama stream one token per chunk, so this is their own count), unless the deltas carry more
  than :data:`BATCHED_CHARS` (8) characters on average — a server that sends several tokens per
  chunk —, then the text's count. On the same-protocol fast path, where content frames are not
  decoded, the number of content frames;
- output of a whole answer: the text's count.

Pure: no I/O.
"""

from __future__ import annotations

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


def text_tokens(chars: int) -> int:
    """Tokens for ``chars`` characters of text (0 for none)."""
    return -(-chars // CHARS_PER_TOKEN) if chars > 0 else 0


def _part_chars(part: Part) -> int:
    if isinstance(part, TextPart):
        return len(part.text)
    if isinstance(part, ToolCallPart):
        return len(part.name) + len(part.arguments)
    if isinstance(part, ToolResultPart):
        return sum(_part_chars(p) for p in part.content)
    if isinstance(part, ReasoningPart):
        return len(part.text)
    if isinstance(part, DocumentPart) and part.text is not None:
        return len(part.text)
    return 0  # images and binary documents: not counted


def request_tokens(req: Request) -> int:
    """The estimated input tokens of ``req``."""
    chars = sum(_part_chars(p) for p in req.system)
    for message in req.messages:
        chars += sum(_part_chars(p) for p in message.content)
    for tool in req.tools:
        chars += len(tool.name) + len(tool.description or "")
        if tool.parameters:
            chars += len(orjson.dumps(tool.parameters))
    framing = PER_MESSAGE * (len(req.messages) + (1 if req.system else 0)) + REPLY_PRIMING
    return text_tokens(chars) + framing


def response_tokens(resp: Response) -> tuple[int, int]:
    """The estimated (output, reasoning) tokens of a whole answer."""
    reasoning = sum(_part_chars(p) for p in resp.content if isinstance(p, ReasoningPart))
    total = sum(_part_chars(p) for p in resp.content)
    return text_tokens(total), text_tokens(reasoning)


def estimated(input_tokens: int, output_tokens: int, reasoning_tokens: int = 0) -> Usage:
    """An estimated usage (marked ``estimated``)."""
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        reasoning_tokens=min(reasoning_tokens, output_tokens),
        estimated=True,
    )


def response_usage(input_tokens: int, resp: Response) -> Usage:
    """The estimated usage of a non-streaming answer ``resp`` to a request of ``input_tokens``."""
    output, reasoning = response_tokens(resp)
    return estimated(input_tokens, output, reasoning)


class OutputCount:
    """Counts what a stream generated, from its core events, for an estimate when it ends."""

    __slots__ = ("chars", "deltas", "reasoning_chars", "reasoning_deltas")

    def __init__(self) -> None:
        self.chars = self.deltas = self.reasoning_chars = self.reasoning_deltas = 0

    def feed(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                self.chars += len(event.text)
                self.deltas += 1
            elif isinstance(event, ToolArgsDelta):
                self.chars += len(event.json)
                self.deltas += 1
            elif isinstance(event, ReasoningDelta):
                self.reasoning_chars += len(event.text)
                self.reasoning_deltas += 1
            elif isinstance(event, PartStart):
                part = event.part
                if isinstance(part, ToolCallPart):
                    self.chars += len(part.name) + len(part.arguments)
                elif isinstance(part, TextPart):
                    self.chars += len(part.text)
                else:
                    self.reasoning_chars += len(part.text)

    def tokens(self) -> tuple[int, int]:
        """The estimated (output, reasoning) tokens so far."""
        reasoning = _streamed(self.reasoning_deltas, self.reasoning_chars)
        return _streamed(self.deltas, self.chars) + reasoning, reasoning


def _streamed(deltas: int, chars: int) -> int:
    """Tokens of ``chars`` characters streamed in ``deltas`` deltas: one per delta, unless they
    were batched (more than BATCHED_CHARS characters a delta on average)."""
    return deltas if deltas and chars <= BATCHED_CHARS * deltas else text_tokens(chars)
