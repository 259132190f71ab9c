"""Automatic prompt caching for Anthropic upstreams: where the gateway puts ``cache_control``.

Opt-in per provider or alias (``prompt_cache: auto``; :func:`parse_setting`). On a Messages body
about to go to an Anthropic upstream, :func:`apply` decides who placed the request's cache
breakpoints and, when the gateway may, places them:

- ``client``: the body carries a ``cache_control`` of its own anywhere (top level, a tool, a
  system block, a message block, a block inside a tool result). The body is not touched.
- ``gateway``: prompt caching is on, the client placed none, and at least one breakpoint was
  worth placing; the body returned has them.
- ``none``: nobody placed one (caching off, or every candidate prefix too short).

Breakpoints, in the order the API renders a prompt (tools, system, messages) — one per place, so
four at most, the API's limit (:data:`MAX_BREAKPOINTS`): the last tool; the last system block (a
string system becomes one text block); the last cacheable block of the previous user turn, so that
the prefix the previous request wrote is read even when more than the API's 20-block lookback lies
between the two turns; the last cacheable block of the last user turn. A breakpoint whose prefix — all
tokens up to and including its block, estimated with :mod:`switchyard.accounting.estimate`'s
counter — is shorter than the model's minimum cacheable length (:func:`min_tokens`) is not placed:
the API would cache nothing there.

``ttl: 1h`` gives the tools and system breakpoints (the stable prefix) a one-hour cache; the
conversation's breakpoints keep the default five minutes (they move every turn, and a one-hour
write costs twice the input price). Longer TTLs therefore always come before shorter ones, as the
API requires.

Pure: dicts in, dicts out, no I/O; the input body is never mutated (only the containers on the
path to a new breakpoint are copied).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .accounting.estimate import PER_MESSAGE, text_tokens

MAX_BREAKPOINTS = 4
TTLS = ("5m", "1h")
MARKER = "cache_control"

MIN_TOKENS: dict[str, int] = {
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 4096,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-haiku-4-5": 4096,
    "claude-3-5-haiku": 2048,
    "claude-3-haiku": 2048,
}
"""The minimum cacheable prompt length (tokens) by model-name prefix, from Anthropic's prompt
caching documentation; the longest matching prefix wins."""
DEFAULT_MIN_TOKENS = 1024
"""For a model not in :data:`MIN_TOKENS` (most Claude models; Anthropic-compatible servers)."""
_PREFIXES = sorted(MIN_TOKENS, key=len, reverse=True)

CACHEABLE = frozenset({"text", "image", "document", "search_result", "tool_use", "tool_result"})
"""Message block types that may carry ``cache_control`` (not thinking blocks, not empty text)."""


@dataclass(frozen=True, slots=True)
class PromptCache:
    """A provider's or alias's ``prompt_cache`` setting."""

    auto: bool
    ttl: str | None = None
    """``1h``: the tools and system breakpoints are cached for an hour (None: the API's 5 minutes)."""


def parse_setting(raw: Any) -> PromptCache:
    """``auto`` | ``off`` | ``{mode: auto|off, ttl: 5m|1h}`` -> PromptCache (ValueError: what is
    wrong). YAML reads a bare ``off`` as false (and ``on`` as true): both are taken."""
    if not isinstance(raw, Mapping):
        raw = {"mode": raw}
    unknown = sorted(set(raw) - {"mode", "ttl"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(str, unknown))} (known: mode, ttl)")
    mode = raw.get("mode", "auto")
    if isinstance(mode, bool):
        mode = "auto" if mode else "off"
    if mode not in ("auto", "off"):
        raise ValueError(f"must be auto or off (or {{mode: auto, ttl: 1h}}), not {mode!r}")
    ttl = raw.get("ttl")
    if ttl is not None and ttl not in TTLS:
        raise ValueError(f"ttl must be one of {', '.join(TTLS)}, not {ttl!r}")
    return PromptCache(auto=mode == "auto", ttl=None if ttl == "5m" else ttl)


def min_tokens(model: str) -> int:
    """The minimum cacheable prompt length of ``model`` (a vendor prefix such as
    ``us.anthropic.`` or ``anthropic/`` is looked past)."""
    name = model[model.find("claude") :] if "claude" in model else model
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return MIN_TOKENS[prefix]
    return DEFAULT_MIN_TOKENS


# ---------------------------------------------------------------------------- who placed markers


def client_marked(body: Mapping[str, Any], raw: bytes | None = None) -> bool:
    """Whether ``body`` has a ``cache_control`` anywhere the API reads one. With the body's
    ``raw`` bytes, a body that does not even contain the word is answered without a walk."""
    if raw is not None and MARKER.encode() not in raw:
        return False
    if MARKER in body:
        return True
    return any(_marked(x) for key in ("tools", "system", "messages") for x in _items(body.get(key)))


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _marked(item: Any) -> bool:
    """A tool, system block or message (its blocks, and blocks inside tool results) with a marker."""
    if not isinstance(item, dict):
        return False
    if MARKER in item:
        return True
    return any(_marked(block) for block in _items(item.get("content")))


# ---------------------------------------------------------------------------- placement


def apply(
    body: Mapping[str, Any], model: str, setting: PromptCache | None, raw: bytes | None = None
) -> tuple[dict[str, Any] | None, str]:
    """(the body with the gateway's breakpoints, or None when it goes as it is; the origin:
    ``client`` | ``gateway`` | ``none``). See the module docstring."""
    if client_marked(body, raw):
        return None, "client"
    if setting is None or not setting.auto:
        return None, "none"
    placed = place(body, model, setting.ttl)
    return (placed, "gateway") if placed is not None else (None, "none")


def place(body: Mapping[str, Any], model: str, ttl: str | None = None) -> dict[str, Any] | None:
    """``body`` (which has no markers) with breakpoints where they pay off, or None when no
    prefix reaches the model's minimum cacheable length."""
    floor = min_tokens(model)
    out = dict(body)
    placed = 0
    tokens = 0
    tools = _items(body.get("tools"))
    if tools:
        tokens += text_tokens(sum(_tool_chars(t) for t in tools))
        if tokens >= floor and isinstance(tools[-1], dict):
            out["tools"] = [*tools[:-1], _marker(tools[-1], ttl)]
            placed += 1
    system = body.get("system")
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) and system else _items(system)
    if blocks:
        tokens += text_tokens(sum(_block_chars(b) for b in blocks)) + PER_MESSAGE
        if tokens >= floor and _cacheable(blocks[-1]):
            out["system"] = [*blocks[:-1], _marker(blocks[-1], ttl)]
            placed += 1
    messages = _items(body.get("messages"))
    marks = _conversation_marks(messages, tokens, floor)
    if marks:
        copied = list(messages)
        for i, j in marks:
            content = copied[i]["content"]
            if isinstance(content, str):
                content = [{"type": "text", "text": content}]
            copied[i] = {**copied[i], "content": [*content[:j], _marker(content[j], None), *content[j + 1 :]]}
        out["messages"] = copied
        placed += len(marks)
    return out if placed else None


def _conversation_marks(messages: list[Any], tokens: int, floor: int) -> list[tuple[int, int]]:
    """(message index, block index) of the last cacheable block of the last two user turns whose
    prefix reaches ``floor`` (``tokens``: the prefix before the messages), in order."""
    ends: list[tuple[int, int, int]] = []  # (message, block, prefix tokens up to it)
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else _items(content)
        chars = 0
        last: tuple[int, int] | None = None
        for j, block in enumerate(blocks):
            chars += _block_chars(block)
            if message.get("role") == "user" and _cacheable(block):
                last = (j, chars)
        if last is not None:
            ends.append((i, last[0], tokens + text_tokens(last[1]) + PER_MESSAGE))
        tokens += text_tokens(chars) + PER_MESSAGE
    return [(i, j) for i, j, prefix in ends[-2:] if prefix >= floor]


def _marker(block: dict[str, Any], ttl: str | None) -> dict[str, Any]:
    control: dict[str, Any] = {"type": "ephemeral"}
    if ttl is not None:
        control["ttl"] = ttl
    return {**block, MARKER: control}


def _cacheable(block: Any) -> bool:
    if not isinstance(block, dict) or block.get("type") not in CACHEABLE:
        return False
    return block.get("type") != "text" or bool(block.get("text"))


def _tool_chars(tool: Any) -> int:
    """Characters of a tool definition, as the gateway's estimate counts them."""
    if not isinstance(tool, dict):
        return 0
    schema = tool.get("input_schema")
    rest = len(orjson.dumps(schema)) if schema else 0
    return len(str(tool.get("name") or "")) + len(str(tool.get("description") or "")) + rest


def _block_chars(block: Any) -> int:
    """Characters of a content block's text (images and binary documents: 0, as the estimate)."""
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        return len(block.get("text") or "")
    if kind == "thinking":
        return len(block.get("thinking") or "")
    if kind == "tool_use":
        return len(str(block.get("name") or "")) + len(orjson.dumps(block.get("input")))
    if kind == "tool_result":
        content = block.get("content")
        return len(content) if isinstance(content, str) else sum(_block_chars(b) for b in _items(content))
    source = block.get("source")
    if kind == "document" and isinstance(source, dict) and source.get("type") == "text":
        return len(source.get("data") or "")
    return 0
