"""Scopes, cache keys and turn hashes.

A value is stored under ``sha256(rule name, protocol, scope fields, entry kind, turn key)``, so
it can only be found again by the same rule for the same provider, model, credential and
session (or, through ``Scope.other_keys``, another credential of the same provider). A scope
with any of the rule's scope fields missing gives no key at all: the rule does nothing (fail
closed). Tool calls are found by id, or by name and arguments (:func:`call_key`) when the client
dropped the id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from ..core.model import Message, Part, TextPart, ToolCallPart
from .neutral import to_json

KEY_PREFIX = "fc:"


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a cached value belongs to. ``provider``: the configured provider name; ``model``: the
    upstream model; ``key_id``: the credential's id (never the key itself); ``session``: the
    client session (the same signals as key affinity)."""

    provider: str | None = None
    model: str | None = None
    key_id: str | None = None
    session: str | None = None
    other_keys: tuple[str, ...] = ()
    """The ids of the provider's other credentials: state issued under one key of a provider is
    accepted by its other keys, so a value not found under ``key_id`` is looked up under these."""

    def under(self, key_id: str) -> Scope:
        """This scope for another credential of the same provider."""
        return replace(self, key_id=key_id)

    def values(self, names: Sequence[str]) -> tuple[str, ...] | None:
        """The named fields, or None when one is missing or empty."""
        out = []
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                return None
            out.append(value)
        return tuple(out)


def cache_key(rule: str, protocol: str, scope: tuple[str, ...], kind: str, turn: str = "") -> str:
    payload = orjson.dumps(["fieldcache/1", rule, protocol, list(scope), kind, turn])
    return KEY_PREFIX + hashlib.sha256(payload).hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def user_turn_key(messages: Sequence[Message]) -> str | None:
    """Hash of the last user message's content (None when there is none)."""
    for msg in reversed(messages):
        if msg.role == "user":
            return _digest(to_json(msg.content))
    return None


def call_key(part: ToolCallPart) -> str:
    """Hash of a tool call's name and arguments (key order and spacing ignored): how a call whose
    client dropped its id is recognised within its session."""
    try:
        args: Any = orjson.loads(part.arguments) if part.arguments.strip() else {}
    except orjson.JSONDecodeError:
        args = part.arguments
    return _digest([part.name, args])


def assistant_turn_key(content: Sequence[Part]) -> str | None:
    """Hash of an assistant output's visible text and tool-call ids, the two things every client
    protocol sends back unchanged (None when it has neither)."""
    text = "".join(p.text for p in content if isinstance(p, TextPart) and "_raw_part" not in p.extensions).strip()
    ids = [p.id for p in content if isinstance(p, ToolCallPart)]
    if not text and not ids:
        return None
    return _digest([text, ids])
