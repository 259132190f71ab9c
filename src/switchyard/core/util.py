"""Small pure helpers shared by the protocol codecs."""

from __future__ import annotations

import hashlib
from typing import Any

from .errors import RequestError


def split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<mime>;base64,<b64>`` -> (mime, b64); None when ``url`` is not a base64 data URL."""
    if not url.startswith("data:"):
        return None
    header, sep, payload = url[5:].partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return header[: -len(";base64")] or "application/octet-stream", payload


def data_url(media_type: str | None, data: str) -> str:
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"


def stable_id(prefix: str, *seeds: object) -> str:
    """A deterministic id for things the source protocol left unnamed (same input, same id)."""
    digest = hashlib.sha256("\x1f".join(map(str, seeds)).encode()).hexdigest()[:24]
    return f"{prefix}{digest}"


def require(body: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """Fetch a required field and check its JSON type, raising a RequestError naming it."""
    name = f"{where}{key}"
    if key not in body or body[key] is None:
        raise RequestError(f"missing required field '{name}'", param=name)
    value = body[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise RequestError(f"field '{name}' has the wrong type: {_type_name(value)}", param=name)
    return value


def optional(body: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """Fetch an optional field (None when absent or null) and check its JSON type."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        name = f"{where}{key}"
        raise RequestError(f"field '{name}' has the wrong type: {_type_name(value)}", param=name)
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), type(value).__name__
    )
