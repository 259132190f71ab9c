"""The ``messages`` list <-> core messages.

Parsing keeps one core message per wire message, with two exceptions that the core model asks
for: a ``user`` message holding ``tool_result`` blocks becomes a ``tool`` message with the results
followed (when there is more) by a ``user`` message with the other blocks. The ``tool`` message
carries ``_split`` (and ``_order`` when results and other blocks were interleaved), the ``user``
one ``_split_rest``, so a same-protocol build puts the wire message back together exactly.
String content is remembered in ``_string``. A ``role: "system"`` message (Claude Code sends one
after the first user message) is a core ``system`` message kept in place.

Building for an Anthropic upstream from another protocol:

- System and developer messages before the first user/assistant message are hoisted into the
  top-level ``system`` (in order, after ``Request.system``); later ones stay in place as
  ``role: "system"`` messages (Anthropic's mid-conversation form).
- Tool results go into ONE user message right after the assistant turn, ``tool_result`` blocks
  first, then any text; results of several core messages are merged. Consecutive messages of one
  role are merged (the API wants alternation); a merged assistant turn starts with its thinking
  blocks (the API reads thinking only at the start of a turn; clients such as the Agents SDK send
  thinking, text and a tool call back as separate items).
- ``test_orphan_tool_result``: a result whose call is not in the preceding assistant turn (the API
  answers 400 for it) becomes a text block ``[result of tool call <id>]\\n<text>`` (``(error)``
  added for failed calls), so the model still sees it. A second result for the same call is an
  orphan too.
- ``test_empty_tool_result``: a result with no content (or only empty text) is sent without
  ``content``.
- Empty text blocks are left out (the API rejects them); messages left empty are skipped. A
  message holding one plain text block is sent with string content.
- Reasoning: only parts signed by Anthropic (or redacted thinking) are sent back; reasoning of
  other providers and unsigned visible reasoning are dropped (REFERENCE §6.5).
- Tool-call ids are made safe for Anthropic's id pattern (:func:`.blocks.safe_id`).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError, TranslationError
from ...core.model import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    ReasoningPart,
    Request,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ...core.util import require
from .blocks import RAW, build_block, parse_block, safe_id
from .wire import NAME, public

ROLES = ("user", "assistant", "system")


# ------------------------------------------------------------------------------------- parsing


def parse_messages(raw: list[Any], req: Request) -> None:
    for i, item in enumerate(raw):
        req.messages.extend(_parse_message(item, f"messages[{i}]", req.native_only))


def _parse_message(raw: Any, where: str, native_only: list[str]) -> list[Message]:
    if not isinstance(raw, dict):
        raise RequestError(f"'{where}' must be an object", param=where)
    role = require(raw, "role", str, f"{where}.")
    if role not in ROLES:
        raise RequestError(f"'{where}.role' must be user, assistant or system, got {role!r}", param=f"{where}.role")
    content = raw.get("content")
    if content is None:
        raise RequestError(f"missing required field '{where}.content'", param=f"{where}.content")
    extra = {k: v for k, v in raw.items() if k not in ("role", "content")}
    if isinstance(content, str):
        return [Message(role, [TextPart(content)], {**extra, "_string": True})]  # type: ignore[arg-type]
    if not isinstance(content, list):
        raise RequestError(
            f"field '{where}.content' must be a string or an array of content blocks", param=f"{where}.content"
        )
    parts = [parse_block(b, f"{where}.content[{i}]", native_only) for i, b in enumerate(content)]
    if role != "user" or not any(isinstance(p, ToolResultPart) for p in parts):
        return [Message(role, parts, extra)]  # type: ignore[arg-type]
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    others = [p for p in parts if not isinstance(p, ToolResultPart)]
    hints: dict[str, Any] = {"_split": True}
    order = "".join("r" if isinstance(p, ToolResultPart) else "o" for p in parts)
    if order != "r" * len(results) + "o" * len(others):
        hints["_order"] = order
    out = [Message("tool", list(results), {**extra, **hints})]
    if others:
        out.append(Message("user", others, {"_split_rest": True}))
    return out


# ------------------------------------------------------------------------------------ building


def build_messages(req: Request, native: bool) -> tuple[list[Part], list[dict[str, Any]]]:
    """(system parts hoisted out of ``messages``, the wire ``messages``)."""
    if native:
        return [], _build_native(req)
    return _build_foreign(req)


def _build_native(req: Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(req.messages):
        where = f"messages[{i}]"
        if msg.role in ("tool", "user") and msg.extensions.get("_split_rest") and out and out[-1]["role"] == "user":
            rest = _blocks(msg.content, True, f"{where}.content")
            _merge_split(out[-1], rest, req.messages[i - 1].extensions.get("_order"))
            continue
        if msg.role == "tool":
            results = [_build_result(p, True, None, f"{where}.content[{j}]") for j, p in enumerate(_results(msg))]
            out.append(_wire("user", results, msg))
            continue
        if msg.role == "assistant":
            parts = [p for p in msg.content if not _foreign_reasoning(p)]
            out.append(_wire("assistant", _blocks(parts, True, f"{where}.content"), msg))
            continue
        role = "system" if msg.role in ("system", "developer") else "user"
        out.append(_wire(role, _blocks(msg.content, True, f"{where}.content"), msg))
    return out


def _wire(role: str, blocks: list[dict[str, Any]], msg: Message) -> dict[str, Any]:
    content: Any = blocks
    if msg.extensions.get("_string") and len(blocks) == 1 and blocks[0].keys() == {"type", "text"}:
        content = blocks[0]["text"]
    return {"role": role, "content": content, **public(msg.extensions)}


def _merge_split(wire: dict[str, Any], rest: list[dict[str, Any]], order: str | None) -> None:
    results = list(wire["content"])
    if not order or order.count("r") != len(results) or order.count("o") != len(rest):
        wire["content"] = results + rest
        return
    r, o = iter(results), iter(rest)
    wire["content"] = [next(r) if step == "r" else next(o) for step in order]


def _build_foreign(req: Request) -> tuple[list[Part], list[dict[str, Any]]]:
    hoisted: list[Part] = []
    out: list[dict[str, Any]] = []
    open_calls: set[str] = set()  # calls of the last assistant turn that have no result yet
    seen_turn = False
    for i, msg in enumerate(req.messages):
        where = f"messages[{i}]"
        if msg.role in ("system", "developer"):
            if not seen_turn:
                hoisted.extend(msg.content)
            else:
                text = system_text(msg.content, f"{where}.content")
                if text:
                    out.append({"role": "system", "content": text})
            continue
        seen_turn = True
        if msg.role == "assistant":
            blocks = _assistant_blocks(msg, where)
            open_calls = {p.id for p in msg.content if isinstance(p, ToolCallPart)}
            _append(out, "assistant", blocks)
            continue
        results: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for j, part in enumerate(msg.content):
            if isinstance(part, ToolResultPart):
                results.append(_build_result(part, False, open_calls, f"{where}.content[{j}]"))
            elif msg.role == "tool":
                raise TranslationError(f"{where}.content[{j}]", NAME, f"{part.kind} content in a tool message")
            else:
                others.extend(_blocks([part], False, f"{where}.content[{j}]"))
        _append(out, "user", [b for b in results if b["type"] == "tool_result"])
        _append(out, "user", [b for b in results if b["type"] != "tool_result"] + others)
    for wire in out:  # a lone plain text block is sent in the short string form
        content = wire["content"]
        if (
            isinstance(content, list)
            and len(content) == 1
            and content[0].get("type") == "text"
            and len(content[0]) == 2
        ):
            wire["content"] = content[0]["text"]
    return hoisted, out


THINKING = ("thinking", "redacted_thinking")
_LEADS = {"user": ("tool_result",), "assistant": THINKING}
"""Blocks that must lead a merged message: tool results in a user message, thinking in an
assistant turn (the API reads a turn's thinking only at its start)."""


def _append(out: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one of the same role
    (``test_merged_assistant_turn_starts_with_its_thinking``): the blocks of :data:`_LEADS` go
    before everything else of the merged message, in order, a thinking block sent twice once."""
    if not blocks:
        return
    if not out or out[-1]["role"] != role:
        out.append({"role": role, "content": list(blocks)})
        return
    merged = out[-1]["content"] + blocks
    leads = _LEADS.get(role, ())
    lead = [b for b in merged if b["type"] in leads]
    if role == "assistant":
        lead = [b for i, b in enumerate(lead) if b not in lead[:i]]
    out[-1]["content"] = lead + [b for b in merged if b["type"] not in leads]


def _assistant_blocks(msg: Message, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(msg.content):
        at = f"{where}.content[{j}]"
        if isinstance(part, ReasoningPart):
            if not _replayable(part):
                continue
        elif isinstance(part, TextPart):
            if not part.text:
                continue
        elif not isinstance(part, ToolCallPart):
            raise TranslationError(at, NAME, f"{part.kind} content in an assistant message")
        blocks.append(build_block(part, False, at))
    return blocks


def _replayable(part: ReasoningPart) -> bool:
    """Reasoning Anthropic can verify: its own signed thinking, or redacted thinking."""
    if part.redacted is not None:
        return part.signature_source in (None, NAME)
    return part.signature_source == NAME and bool(part.signature)


def _foreign_reasoning(part: Part) -> bool:
    return isinstance(part, ReasoningPart) and part.signature_source not in (None, NAME)


def _blocks(parts: list[Part], native: bool, where: str) -> list[dict[str, Any]]:
    blocks = []
    for j, part in enumerate(parts):
        at = f"{where}[{j}]" if native else where
        if not native:
            if isinstance(part, TextPart) and not part.text:
                continue
            if isinstance(part, ReasoningPart):
                continue  # reasoning in a user message: nothing Anthropic can take back
        blocks.append(build_block(part, native, at))
    return blocks


def _results(msg: Message) -> list[ToolResultPart]:
    return [p for p in msg.content if isinstance(p, ToolResultPart)]


def _build_result(part: ToolResultPart, native: bool, open_calls: set[str] | None, where: str) -> dict[str, Any]:
    if native:
        return _native_result(part, where)
    content = _blocks([p for p in part.content], False, f"{where}.content")
    for block in content:
        if block["type"] not in ("text", "image", "document"):
            raise TranslationError(f"{where}.content", NAME, f"{block['type']} content in a tool result")
    if open_calls is None or part.tool_call_id not in open_calls:
        text = "\n\n".join(b["text"] for b in content if b["type"] == "text")
        label = f"[result of tool call {part.tool_call_id}{' (error)' if part.is_error else ''}]"
        return {"type": "text", "text": f"{label}\n{text}" if text else label}
    open_calls.discard(part.tool_call_id)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": safe_id(part.tool_call_id)}
    if content and all(b["type"] == "text" for b in content):
        block["content"] = "\n\n".join(b["text"] for b in content)
    elif content:
        block["content"] = content
    if part.is_error:
        block["is_error"] = True
    return block


def _native_result(part: ToolResultPart, where: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.tool_call_id}
    form = part.extensions.get("_content")
    if form == "string" and len(part.content) == 1 and isinstance(part.content[0], TextPart):
        block["content"] = part.content[0].text
    elif form == "null":
        block["content"] = None
    elif form != "absent" or part.content:
        block["content"] = _blocks(part.content, True, f"{where}.content")
    if part.is_error or part.extensions.get("_is_error"):
        block["is_error"] = part.is_error
    return {**block, **public(part.extensions)}


def system_text(parts: list[Part], where: str) -> str:
    """Text of system parts from another protocol, joined with blank lines (empty ones skipped)."""
    texts = []
    for j, part in enumerate(parts):
        if isinstance(part, TextPart):
            if part.text and RAW not in part.extensions:
                texts.append(part.text)
        elif isinstance(part, ImagePart | DocumentPart | ToolCallPart | ToolResultPart | ReasoningPart):
            raise TranslationError(f"{where}[{j}]", NAME, f"{part.kind} content in system instructions")
    return "\n\n".join(texts)
