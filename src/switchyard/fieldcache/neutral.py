"""The neutral model as plain JSON: ``to_json`` / ``from_json``.

Field-cache rules and the transform trace work on this form, so one rule serves every client
protocol. Every core dataclass becomes a dict whose first key is ``kind``: content parts keep
their own ``kind`` (``text``, ``image``, ``document``, ``tool_call``, ``tool_result``,
``reasoning``); the other types get a tag from :data:`TAGS` (``message``, ``request``,
``response``, ``usage``, ``tool``, ``tool_choice``, ``reasoning_config``, and the stream events
``message_start``, ``part_start``, ...). Every field is written, defaults included.

The mapping is exact: ``from_json(to_json(x)) == x`` for every core object, so a part extracted
from a Response can be re-inserted into a later Request as the same core part. ``from_json``
decodes nested objects only where the model has them (message content, request messages, ...);
``extensions`` and other free-form values are copied as they are, so a ``kind`` key inside an
extension is never mistaken for a type. Both directions copy: the result never aliases the input.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from ..core.errors import GatewayError
from ..core.events import (
    Heartbeat,
    MessageDelta,
    MessageStart,
    MessageStop,
    PartStart,
    PartStop,
    ReasoningDelta,
    SignatureDelta,
    StreamError,
    TextDelta,
    ToolArgsDelta,
)
from ..core.model import (
    DocumentPart,
    ImagePart,
    Message,
    Reasoning,
    ReasoningPart,
    Request,
    Response,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

PARTS: dict[str, type] = {
    "text": TextPart,
    "image": ImagePart,
    "document": DocumentPart,
    "tool_call": ToolCallPart,
    "tool_result": ToolResultPart,
    "reasoning": ReasoningPart,
}
"""Content part classes by their own ``kind`` field."""

TAGS: dict[type, str] = {
    Message: "message",
    Request: "request",
    Response: "response",
    Usage: "usage",
    Tool: "tool",
    ToolChoice: "tool_choice",
    Reasoning: "reasoning_config",
    MessageStart: "message_start",
    PartStart: "part_start",
    TextDelta: "text_delta",
    ToolArgsDelta: "tool_args_delta",
    ReasoningDelta: "reasoning_delta",
    SignatureDelta: "signature_delta",
    PartStop: "part_stop",
    MessageDelta: "message_delta",
    MessageStop: "message_stop",
    StreamError: "stream_error",
    Heartbeat: "heartbeat",
}
"""Tags of the core types that have no ``kind`` field of their own."""

CLASSES: dict[str, type] = {**PARTS, **{tag: cls for cls, tag in TAGS.items()}}

# Fields holding core objects (decoded by their ``kind``); every other field is a plain value.
_NESTED: dict[type, frozenset[str]] = {
    Message: frozenset({"content"}),
    ToolResultPart: frozenset({"content"}),
    Request: frozenset({"messages", "system", "tools", "tool_choice", "reasoning"}),
    Response: frozenset({"content", "usage"}),
    MessageStart: frozenset({"usage"}),
    PartStart: frozenset({"part"}),
    MessageDelta: frozenset({"usage"}),
}


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name != "kind") for cls in {*PARTS.values(), *TAGS}
}
_NAMES: dict[type, frozenset[str]] = {cls: frozenset(names) for cls, names in _FIELDS.items()}
_SCALARS = (str, int, float, bool, type(None))


def to_json(obj: Any) -> Any:
    """A core object (or list of them) as fresh plain JSON values."""
    cls = type(obj)
    names = _FIELDS.get(cls)
    if names is not None:
        out: dict[str, Any] = {"kind": TAGS.get(cls) or obj.kind}
        for name in names:
            out[name] = to_json(getattr(obj, name))
        return out
    if isinstance(obj, GatewayError):
        return {"kind": "gateway_error", "error_kind": obj.kind, "status": obj.status, "message": str(obj)}
    return copy_json(obj)


def from_json(data: Any) -> Any:
    """The core object a :func:`to_json` value stands for (lists element by element).

    Raises ValueError for an unknown ``kind`` or a field the type does not have.
    """
    if isinstance(data, list):
        return [from_json(item) for item in data]
    if not isinstance(data, dict):
        raise ValueError(f"expected a neutral JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    cls = CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None or cls is StreamError:
        raise ValueError(f"unknown neutral kind {kind!r}")
    names = _NAMES[cls]
    nested = _NESTED.get(cls, frozenset())
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "kind":
            continue
        if key not in names:
            raise ValueError(f"{kind} has no field {key!r}")
        if key in nested and value is not None:
            kwargs[key] = from_json(value)
        else:
            kwargs[key] = copy_json(value)
    return cls(**kwargs)


def copy_json(value: Any) -> Any:
    """A deep copy of a plain JSON value (dicts, lists, scalars); core objects are converted."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    return value
