"""A tiny path language over neutral JSON (and the core dataclasses it stands for).

Grammar::

    path   := "" | first ( "." key | "[" select "]" )*
    first  := key | "[" select "]"
    select := integer | "*" | cond ( "," cond )*
    cond   := key "=" literal          literal: null, true, false, an integer, or text
                                       (text may be quoted with "..." to hold , ] or =)

- ``key`` (letters, digits, ``_``, ``-``, ``$``) reads a field of an object.
- ``[n]`` an element of a list; negative counts from the end, so ``[-1]`` is the last one.
- ``[*]`` every element; ``[kind=reasoning]`` every element (an object) whose field equals the
  literal; ``[kind=reasoning,signature_source=anthropic]`` all conditions must hold.
- ``""`` is the root itself.

:func:`find` returns every match with its concrete path (a tuple of keys and non-negative
indexes), so a caller can come back to the same place. It reads dicts and lists, and also the
core dataclasses directly (``kind`` included), so extraction needs no JSON round trip of a
whole body. The writers (:func:`set_at`, :func:`insert_at`, :func:`merge_at`) work on plain
JSON only. Insertion positions: ``[n]`` inserts before element ``n`` (clamped to the end);
``[-1]`` appends, ``[-2]`` inserts before the last element, and so on.
"""

from __future__ import annotations

import re
from dataclasses import is_dataclass
from functools import lru_cache
from typing import Any

from .neutral import TAGS

Step = tuple  # ("key", name) | ("index", n) | ("all",) | ("filter", ((key, literal), ...))
Concrete = tuple[str | int, ...]

MISSING: Any = object()

_KEY = r"[A-Za-z0-9_$-]+"
_TOKEN = re.compile(rf"\.({_KEY})|\[([^\]\"]*(?:\"[^\"]*\"[^\]\"]*)*)\]|({_KEY})")
_INT = re.compile(r"-?\d+\Z")
_COND = re.compile(rf"\s*({_KEY})\s*=\s*(\"[^\"]*\"|[^,\"]*?)\s*(?:,|\Z)")


class PathError(ValueError):
    """A path that does not parse."""


@lru_cache(maxsize=1024)
def parse(path: str) -> tuple[Step, ...]:
    """The steps of ``path`` (cached; raises PathError naming the problem)."""
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None or (m.group(3) is not None and pos != 0) or (m.group(1) is not None and pos == 0):
            raise PathError(f"bad path {path!r} at position {pos}")
        if m.group(1) is not None or m.group(3) is not None:
            steps.append(("key", m.group(1) or m.group(3)))
        else:
            steps.append(_select(m.group(2), path))
        pos = m.end()
    return tuple(steps)


def _select(body: str, path: str) -> Step:
    text = body.strip()
    if text == "*":
        return ("all",)
    if _INT.match(text):
        return ("index", int(text))
    conds: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(body):
        m = _COND.match(body, pos)
        if m is None or m.end() == pos:
            raise PathError(f"bad selector [{body}] in path {path!r}")
        conds.append((m.group(1), _literal(m.group(2))))
        pos = m.end()
    if not conds:
        raise PathError(f"empty selector in path {path!r}")
    return ("filter", tuple(conds))


def _literal(text: str) -> Any:
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text[1:-1]
    if text in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[text]
    if _INT.match(text):
        return int(text)
    return text


def field(obj: Any, key: str) -> Any:
    """``obj[key]`` for a dict, the attribute for a core dataclass (``kind`` too), else MISSING."""
    if isinstance(obj, dict):
        return obj.get(key, MISSING)
    if is_dataclass(obj) and not isinstance(obj, type):
        if key == "kind":
            return TAGS.get(type(obj)) or getattr(obj, "kind", MISSING)
        if key in getattr(obj, "__dataclass_fields__", {}):
            return getattr(obj, key)
    return MISSING


def matches(obj: Any, conds: tuple[tuple[str, Any], ...]) -> bool:
    for key, want in conds:
        got = field(obj, key)
        if got is MISSING or got != want or isinstance(got, bool) != isinstance(want, bool):
            return False
    return True


def find(root: Any, path: str) -> list[tuple[Concrete, Any]]:
    """Every value ``path`` reaches in ``root``, with its concrete path, in document order."""
    current: list[tuple[Concrete, Any]] = [((), root)]
    for step in parse(path):
        nxt: list[tuple[Concrete, Any]] = []
        for where, value in current:
            if step[0] == "key":
                child = field(value, step[1])
                if child is not MISSING:
                    nxt.append(((*where, step[1]), child))
                continue
            if not isinstance(value, list | tuple):
                continue
            if step[0] == "index":
                i = step[1] + len(value) if step[1] < 0 else step[1]
                if 0 <= i < len(value):
                    nxt.append(((*where, i), value[i]))
            elif step[0] == "all":
                nxt.extend(((*where, i), item) for i, item in enumerate(value))
            else:
                nxt.extend(((*where, i), item) for i, item in enumerate(value) if matches(item, step[1]))
        current = nxt
    return current


def get_at(root: Any, where: Concrete) -> Any:
    """The value at a concrete path (MISSING when it is not there)."""
    value = root
    for key in where:
        if isinstance(key, int):
            if not isinstance(value, list | tuple) or not 0 <= key < len(value):
                return MISSING
            value = value[key]
        else:
            value = field(value, key)
            if value is MISSING:
                return MISSING
    return value


def _split(path: str) -> tuple[str, Step]:
    steps = parse(path)
    if not steps:
        raise PathError("a write needs a non-empty path")
    last = steps[-1]
    head = path[: _last_token_start(path)]
    return head, last


def _last_token_start(path: str) -> int:
    start = 0
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        assert m is not None  # parse() has validated the path
        start, pos = pos, m.end()
    return start


def set_at(root: Any, path: str, value: Any) -> int:
    """Set the field or element ``path`` names under every match of its parent; objects on the
    way must exist. Returns how many places were written."""
    head, last = _split(path)
    count = 0
    for _, parent in find(root, head):
        if last[0] == "key" and isinstance(parent, dict):
            parent[last[1]] = value
            count += 1
        elif last[0] == "index" and isinstance(parent, list):
            i = last[1] + len(parent) if last[1] < 0 else last[1]
            if 0 <= i < len(parent):
                parent[i] = value
                count += 1
        elif last[0] in ("all", "filter") and isinstance(parent, list):
            for i, item in enumerate(parent):
                if last[0] == "all" or matches(item, last[1]):
                    parent[i] = value
                    count += 1
    return count


def insert_at(root: Any, path: str, values: list[Any]) -> int:
    """Insert ``values`` (in order) into every list the head of ``path`` reaches, at the position
    its last step ``[n]`` gives. Returns how many lists were written."""
    head, last = _split(path)
    if last[0] != "index":
        raise PathError(f"an insert path must end with [n], not {path!r}")
    count = 0
    for _, target in find(root, head):
        if not isinstance(target, list):
            continue
        n = last[1]
        at = min(n, len(target)) if n >= 0 else max(len(target) + n + 1, 0)
        target[at:at] = list(values)
        count += 1
    return count


def merge_at(root: Any, path: str, value: dict[str, Any]) -> int:
    """Merge the keys of ``value`` into every object ``path`` reaches. Returns how many."""
    count = 0
    for _, target in find(root, path):
        if isinstance(target, dict):
            target.update(value)
            count += 1
    return count
