"""Small helpers shared by the Gemini codec modules: the protocol name, snake_case key
normalisation and the ids the gateway mints for function calls that came without one.

Gemini's REST API is the proto3 JSON mapping, whose parser accepts both ``lowerCamelCase`` and
the proto field names in ``snake_case``. :func:`normalized` turns the latter into the former, so
the rest of the codec reads one spelling; builders always write ``lowerCamelCase``.

Gemini 2.5 sends ``functionCall`` parts without ``id``. The codec then mints a stable id
(``call_gm`` + 24 hex digits, from the response id and the call's position) so every other
protocol gets the ids it needs; :func:`is_minted` recognises such ids wherever they come back
from (any client protocol), and the Gemini builders leave them out, as ADK does with its own
client-side ids.
"""

from __future__ import annotations

import re
from typing import Any

from ...core.errors import RequestError
from ...core.util import stable_id

NAME = "gemini"

MINTED_PREFIX = "call_gm"
_MINTED = re.compile(r"call_gm[0-9a-f]{24}\Z")
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+\Z")


def mint_call_id(*seeds: object) -> str:
    """A stable id for a function call the source left unnamed."""
    return stable_id(MINTED_PREFIX, *seeds)


def is_minted(call_id: str | None) -> bool:
    return bool(call_id) and _MINTED.match(call_id) is not None


def camel(key: str) -> str:
    """``thinking_config`` -> ``thinkingConfig``; other keys unchanged."""
    if "_" not in key or _SNAKE.match(key) is None:
        return key
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with snake_case proto field names spelled in lowerCamelCase (same object if none)."""
    for key in obj:
        if "_" in key:
            return {camel(k): v for k, v in obj.items()}
    return obj


def as_object(value: Any, where: str) -> dict[str, Any]:
    """A JSON object (normalised), or a RequestError naming the field."""
    if not isinstance(value, dict):
        raise RequestError(f"field '{where}' must be an object", param=where)
    return normalized(value)


def public(ext: dict[str, Any]) -> dict[str, Any]:
    """Extension entries that are wire fields (not ``_``-prefixed codec hints)."""
    return {k: v for k, v in ext.items() if not k.startswith("_")}


def model_name(model: str) -> str:
    """A model's resource name, ``models/<model>`` (a name already qualified is kept)."""
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
