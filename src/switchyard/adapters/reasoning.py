"""``reasoning_content_normalize``: reasoning in one place, whatever the upstream did with it.

Responses and streams: OpenAI-compatible servers without a reasoning parser (vLLM, llama.cpp,
Ollama serving DeepSeek-R1 / Qwen3 / ...) put the model's thinking at the start of the answer
text as ``<think> ... </think>``. When the first content of an answer is a text part starting
(after whitespace) with the open tag, it is split into a ReasoningPart (the text inside the tags)
and a TextPart (the rest); whitespace around both is trimmed; an answer with no closing tag is
all reasoning. An answer that already has a reasoning part first is left alone. The stream
transform does the same incrementally (it holds back only what could still be a tag or trailing
whitespace) and renumbers the parts after the split.

Requests (``drop_unverifiable``, default true): assistant reasoning parts the provider cannot
verify (no signature or redacted data of the provider's own protocol; e.g. ``reasoning_content``
text an OpenAI Chat client sent back) are removed; DeepSeek-style servers reject them and
Anthropic requires signatures. Set it false for servers that want the text back in tool loops.

Parameters: ``open_tag`` / ``close_tag`` (default ``<think>`` / ``</think>``), ``drop_unverifiable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..core.events import (
    Event,
    MessageDelta,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    StreamError,
    TextDelta,
)
from ..core.model import Message, Part, ReasoningPart, Request, Response, TextPart
from .base import Adapter, Params, check_keys, flag, register, text


def _params(raw: Mapping[str, Any]) -> Params:
    check_keys(raw, (), ("open_tag", "close_tag", "drop_unverifiable"))
    return {
        "open_tag": text(raw, "open_tag") if "open_tag" in raw else "<think>",
        "close_tag": text(raw, "close_tag") if "close_tag" in raw else "</think>",
        "drop_unverifiable": flag(raw, "drop_unverifiable", True),
    }


def split_think(value: str, open_tag: str, close_tag: str) -> tuple[str, str] | None:
    """(reasoning, answer) when ``value`` starts with ``open_tag`` after whitespace, else None."""
    s = value.lstrip()
    if not s.startswith(open_tag):
        return None
    body = s[len(open_tag) :]
    j = body.find(close_tag)
    if j < 0:
        return body.strip(), ""
    return body[:j].strip(), body[j + len(close_tag) :].lstrip()


def replayable(part: ReasoningPart, protocol: str) -> bool:
    """Whether ``protocol`` can verify this reasoning part (its own signature or redacted data)."""
    if part.signature and part.signature_source == protocol:
        return True
    return bool(part.redacted) and part.signature_source in (None, protocol)


def _request(req: Request, params: Params, protocol: str) -> Request:
    if not params["drop_unverifiable"]:
        return req
    messages: list[Message] = []
    changed = False
    for msg in req.messages:
        if msg.role == "assistant" and any(
            isinstance(p, ReasoningPart) and not replayable(p, protocol) for p in msg.content
        ):
            content = [p for p in msg.content if not isinstance(p, ReasoningPart) or replayable(p, protocol)]
            changed = True
            if not content:
                continue
            msg = replace(msg, content=content)
        messages.append(msg)
    return replace(req, messages=messages) if changed else req


def _response(resp: Response, params: Params, protocol: str) -> Response:
    for i, part in enumerate(resp.content):
        if isinstance(part, TextPart) and "_raw_part" not in part.extensions:
            split = split_think(part.text, params["open_tag"], params["close_tag"])
            if split is None:
                return resp
            reasoning, answer = split
            new: list[Part] = [*resp.content[:i], ReasoningPart(reasoning)]
            if answer:
                new.append(replace(part, text=answer, extensions=dict(part.extensions)))
            return replace(resp, content=[*new, *resp.content[i + 1 :]])
        if not (isinstance(part, TextPart) and not part.text):
            return resp  # reasoning, a tool call or media came first
    return resp


class ThinkSplitter:
    """The stream form of the response transform: one per stream."""

    def __init__(self, params: Params, protocol: str = "") -> None:
        self.open_tag: str = params["open_tag"]
        self.close_tag: str = params["close_tag"]
        self.state = "wait"  # wait | detect | inside | after | done | off
        self.index: int | None = None  # upstream index of the split text part
        self.offset = 0
        self.held: PartStart | None = None
        self.buf = ""
        self.lead = True  # still trimming leading whitespace of the current output part

    def feed(self, event: Event) -> list[Event]:
        state = self.state
        if state == "off":
            return [event]
        if isinstance(event, PartStart):
            if state != "wait":
                return [self._shift(event)]
            part = event.part
            if isinstance(part, TextPart) and "_raw_part" not in part.extensions:
                self.state, self.index, self.held, self.buf = "detect", event.index, event, ""
                return []
            self.state = "off"
            return [event]
        index = getattr(event, "index", None)
        if index is not None and index == self.index and state in ("detect", "inside", "after"):
            if isinstance(event, TextDelta):
                return self._text(event.text)
            if isinstance(event, PartStop):
                return self._stop()
            if state == "detect":  # e.g. a signature on the text part: it stays a text part
                return [*self._give_up(), event]
        if isinstance(event, StreamError | MessageDelta | MessageStop) and state in ("detect", "inside"):
            return [*self._flush(), event]
        return [self._shift(event)]

    def finish(self) -> list[Event]:
        return self._flush() if self.state in ("detect", "inside") else []

    # -- internals

    def _shift(self, event: Event) -> Event:
        index = getattr(event, "index", None)
        if index is None or self.index is None:
            return event
        if index > self.index and self.offset:
            return replace(event, index=index + self.offset)
        if index == self.index and self.state in ("after", "done") and self.offset:
            return replace(event, index=index + 1)
        return event

    def _text(self, chunk: str) -> list[Event]:
        if self.state == "detect":
            self.buf += chunk
            s = self.buf.lstrip()
            if s.startswith(self.open_tag):
                self.state, self.buf, self.lead = "inside", "", True
                assert self.index is not None
                return [PartStart(self.index, ReasoningPart()), *self._inside(s[len(self.open_tag) :])]
            if self.open_tag.startswith(s):
                return []
            return self._give_up()
        if self.state == "inside":
            return self._inside(chunk)
        return self._after(chunk)

    def _give_up(self) -> list[Event]:
        assert self.held is not None and self.index is not None
        self.state = "off"
        out: list[Event] = [self.held]
        if self.buf:
            out.append(TextDelta(self.index, self.buf))
        self.buf = ""
        return out

    def _inside(self, chunk: str) -> list[Event]:
        assert self.index is not None
        self.buf += chunk
        out: list[Event] = []
        j = self.buf.find(self.close_tag)
        if j >= 0:
            out += self._reasoning(self.buf[:j].rstrip())
            rest = self.buf[j + len(self.close_tag) :]
            self.buf, self.state, self.lead = "", "after", True
            out.append(PartStop(self.index))
            return out + self._after(rest)
        keep = _tag_prefix_len(self.buf, self.close_tag)
        head = self.buf[: len(self.buf) - keep].rstrip()
        self.buf = self.buf[len(head) :]
        return self._reasoning(head)

    def _reasoning(self, value: str) -> list[Event]:
        if self.lead:
            value = value.lstrip()
        if not value:
            return []
        self.lead = False
        assert self.index is not None
        return [ReasoningDelta(self.index, value)]

    def _after(self, chunk: str) -> list[Event]:
        assert self.index is not None and self.held is not None
        if self.lead:
            chunk = chunk.lstrip()
            if not chunk:
                return []
            self.lead, self.offset = False, 1
            part = replace(self.held.part, extensions=dict(self.held.part.extensions))
            return [PartStart(self.index + 1, part), TextDelta(self.index + 1, chunk)]
        return [TextDelta(self.index + 1, chunk)]

    def _stop(self) -> list[Event]:
        assert self.index is not None
        if self.state == "detect":
            return [*self._give_up(), PartStop(self.index)]
        if self.state == "inside":
            out = self._reasoning(self.buf.rstrip())
            self.buf, self.state = "", "done"
            return [*out, PartStop(self.index)]
        self.state = "done"
        return [PartStop(self.index + 1)] if self.offset else []

    def _flush(self) -> list[Event]:
        if self.state == "detect":
            return self._give_up()
        out = self._reasoning(self.buf.rstrip())
        self.buf, self.state = "", "done"
        return out


def _tag_prefix_len(value: str, tag: str) -> int:
    """Length of the longest end of ``value`` that is a proper start of ``tag``."""
    for k in range(min(len(tag) - 1, len(value)), 0, -1):
        if value.endswith(tag[:k]):
            return k
    return 0


REASONING_CONTENT_NORMALIZE = register(
    Adapter(
        "reasoning_content_normalize",
        request=_request,
        response=_response,
        event=ThinkSplitter,
        params=_params,
    )
)
