"""The built-in rules, by provider protocol (REFERENCE §6.5, §8 items 5-7).

Anthropic (``anthropic.thinking``): with tools and thinking, the assistant turn replayed to
Anthropic must start with its original ``thinking`` / ``redacted_thinking`` blocks, unmodified.
Every signed or redacted reasoning part of an output is kept under each tool-call id of that
output and inserted at the start of the assistant message holding one of those ids, unless that
message already starts with Anthropic-signed (or redacted) reasoning: an Anthropic client sends
them back itself.

Gemini: Gemini 3 answers 400 when a replayed ``functionCall`` part lost its ``thoughtSignature``
(parallel calls carry one on the first call only); text answers may carry one on the text part
or on a trailing signature-only part.

- ``gemini.tool_call_signature``: each call's signature, by its id (minted ids of Gemini 2.5
  calls included: the client gets those ids and sends them back), set back on that call.
- ``gemini.thought_signature``: signed thought parts (``thought: true`` with text) of a step with
  calls, inserted at the start of that step's message.
- ``gemini.trailing_signature`` / ``gemini.text_signature``: the signature of a text answer
  (a signature-only part, or one riding on a text part), keyed by a hash of the answer's text and
  call ids, appended to that assistant message as a signature-only part (Gemini's own form in
  ``request_signature_only_part_gemini31.json``).

OpenAI Responses (``openai_responses.reasoning``): reasoning items with ``encrypted_content``
(ReasoningPart signatures, source ``openai_responses``), kept per tool call and restored before
the calls when the client could not send them back.

No rule injects into an anchor that already holds a value of the same protocol, so clients of
the provider's own protocol (which send everything back) are left untouched. Where a rule inserts
reasoning, visible-only reasoning parts in that message (the ``reasoning_content`` an OpenAI Chat
client echoes back: no signature, no redacted data) are replaced by the signed originals.
"""

from __future__ import annotations

from .rules import PROTOCOL, Extract, Inject, Probe, Rule, Select

_SIGNED = ((("signature_source", PROTOCOL), ("signature", "*")),)
_SIGNED_OR_REDACTED = (*_SIGNED, (("redacted", "*"),))
_SIGNED_WITH_TEXT = ((("signature_source", PROTOCOL), ("signature", "*"), ("text", "*")),)
_SIGNATURE_ONLY = ((("signature_source", PROTOCOL), ("signature", "*"), ("text", "")),)
_VISIBLE_ONLY = (Probe("content[kind=reasoning]", ((("redacted", None), ("signature", None)),)),)
"""Reasoning a client echoed back as plain text (``reasoning_content``): replaced by the signed original."""
_ALREADY_SIGNED = (
    Probe("content[kind=reasoning]", _SIGNED),
    Probe("content[kind=text].extensions.thoughtSignature"),
)


def _reasoning_of_calls(name: str, protocol: str, select: Select, unless: Select | None = None) -> Rule:
    """Reasoning parts (matching ``select``) of an output with tool calls, kept under each call id and
    inserted at the start of the assistant message holding one of those calls, replacing visible-only
    copies, unless that message already holds reasoning matching ``unless`` (default: ``select``)."""
    return Rule(
        name=name,
        protocols=(protocol,),
        mode="per_tool_call",
        extract=Extract(source="response", path="content[kind=reasoning]", select=select),
        inject=Inject(
            anchor="message",
            path="content[0]",
            op="insert",
            unless=(Probe("content[kind=reasoning]", select if unless is None else unless),),
            replace=_VISIBLE_ONLY,
        ),
    )


def _text_answer_signature(name: str, extract: Extract) -> Rule:
    """A Gemini text answer's signature, appended to the last assistant message unless it is signed."""
    return Rule(
        name=name,
        protocols=("gemini",),
        mode="last_assistant_turn",
        extract=extract,
        inject=Inject(anchor="message", path="content[-1]", op="insert", unless=_ALREADY_SIGNED),
    )


ANTHROPIC_THINKING = _reasoning_of_calls("anthropic.thinking", "anthropic", _SIGNED_OR_REDACTED)

GEMINI_TOOL_CALL_SIGNATURE = Rule(
    name="gemini.tool_call_signature",
    protocols=("gemini",),
    mode="per_tool_call",
    extract=Extract(
        source="response",
        path="content[kind=tool_call]",
        select=_SIGNED,
        value={"signature": "$.signature", "signature_source": PROTOCOL},
    ),
    inject=Inject(anchor="tool_call", path="", op="merge", unless=(Probe("", _SIGNED),)),
)

GEMINI_THOUGHT_SIGNATURE = _reasoning_of_calls("gemini.thought_signature", "gemini", _SIGNED_WITH_TEXT, _SIGNED)

GEMINI_TRAILING_SIGNATURE = _text_answer_signature(
    "gemini.trailing_signature",
    Extract(source="response", path="content[kind=reasoning]", select=_SIGNATURE_ONLY),
)

GEMINI_TEXT_SIGNATURE = _text_answer_signature(
    "gemini.text_signature",
    Extract(
        source="response",
        path="content[kind=text].extensions.thoughtSignature",
        value={
            "kind": "reasoning",
            "text": "",
            "signature": "$",
            "signature_source": PROTOCOL,
            "extensions": {"_signature_only": True},
        },
    ),
)

RESPONSES_REASONING = _reasoning_of_calls("openai_responses.reasoning", "openai_responses", _SIGNED)

BUILTIN_RULES: dict[str, list[Rule]] = {
    "anthropic": [ANTHROPIC_THINKING],
    "gemini": [GEMINI_TOOL_CALL_SIGNATURE, GEMINI_THOUGHT_SIGNATURE, GEMINI_TRAILING_SIGNATURE, GEMINI_TEXT_SIGNATURE],
    "openai_responses": [RESPONSES_REASONING],
    "openai_chat": [],
}
"""Rules by provider protocol (OpenAI Chat carries no opaque state)."""


def builtin_rules(*protocols: str) -> list[Rule]:
    """The built-in rules of ``protocols`` (all protocols when none is named), in a flat list."""
    names = protocols or tuple(BUILTIN_RULES)
    return [rule for p in names for rule in BUILTIN_RULES.get(p, [])]
