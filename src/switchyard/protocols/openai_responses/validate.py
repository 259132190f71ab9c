"""The shape of a Responses ``input``, checked when the request is read — on every path.

The same-protocol fast path forwards the body without parsing it, and the gateway then stores
the request's input items with the answer; an input the gateway cannot hold as items (``null``,
a number, an item that is not an object, an item of a type Responses does not have, content
that is neither text nor a list of parts) would reach the upstream, be answered, and then fail
to be stored. :func:`check_input` refuses it first, with a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from .items import HOSTED_ITEMS

INPUT_ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "reasoning",
        "item_reference",
        "additional_tools",
        "compaction",
        *HOSTED_ITEMS,
    }
)


def check_input(body: dict[str, Any]) -> None:
    """Raise RequestError when ``body["input"]`` is not a string or a list of well-formed items."""
    raw = body.get("input")
    if raw is None or isinstance(raw, str):
        return
    if not isinstance(raw, list):
        raise RequestError("'input' must be a string or an array of input items", param="input")
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"'{where}' must be an object (an input item)", param=where)
        kind = item.get("type")
        if kind is None:
            if "role" not in item:
                raise RequestError(f"missing required field '{where}.type'", param=f"{where}.type")
            kind = "message"
        if not isinstance(kind, str):
            raise RequestError(f"'{where}.type' must be a string", param=f"{where}.type")
        if kind not in INPUT_ITEM_TYPES:
            raise RequestError(f"'{where}.type' has an unknown value: '{kind[:64]}'", param=f"{where}.type")
        if kind == "message":
            _check_content(item.get("content"), f"{where}.content")


def _check_content(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise RequestError(f"'{where}' must be a string or an array of content parts", param=where)
    for n, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise RequestError(f"'{where}[{n}]' must be a content part object with a 'type'", param=f"{where}[{n}]")
