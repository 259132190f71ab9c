"""Edits of a JSON document's bytes that leave every other byte as it was.

The same-protocol fast path forwards the client's body; when only the model changes, splicing
the new value in keeps the rest byte for byte (whitespace, field order, number spellings,
escapes) — what an upstream that checks the exact body (Anthropic subscription traffic) needs,
and cheaper than re-serialising. The scan walks tokens with one compiled pattern and stops at the
member it looks for (usually the first).
"""

from __future__ import annotations

import re

import orjson

_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]', re.DOTALL)
_COLON = re.compile(rb"\s*:")


def replace_string_member(raw: bytes, name: str, value: str) -> bytes | None:
    """``raw`` (a valid JSON object) with its top-level member ``name``, a string, set to ``value``;
    None when the object has no such string member."""
    depth = 0
    pos = 0
    while True:
        token = _TOKEN.search(raw, pos)
        if token is None:
            return None
        pos = token.end()
        first = raw[token.start()]
        if first in b"{[":
            depth += 1
        elif first in b"}]":
            depth -= 1
        elif depth == 1 and (colon := _COLON.match(raw, pos)) is not None:
            pos = colon.end()  # a key of the object (strings in arrays are never followed by ':')
            if orjson.loads(token.group()) != name:
                continue
            current = _TOKEN.search(raw, pos)
            if current is None or raw[current.start()] != ord('"') or raw[pos : current.start()].strip():
                return None  # the member's value is not a string
            return raw[: current.start()] + orjson.dumps(value) + raw[current.end() :]
