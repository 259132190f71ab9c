"""The built-in adapters (the reasoning one lives in :mod:`.reasoning`).

=========================  ==================================================================
``model_override``         ``{model: X}`` sends every request as model X; ``{map: {a: b}}``
                           renames listed models only.
``rename_field``           ``{from: path, to: path}`` moves a value inside the neutral request
                           (dotted keys: ``metadata.user``, ``extensions.seed``); a core field
                           moved away is reset to its default. Extensions are wire fields that a
                           builder of the request's own protocol sends as they are.
``drop_params``            ``{params: [top_k, extensions.seed, ...]}`` resets core fields to their
                           defaults and removes extension (wire) fields; ``native_only`` entries
                           for a dropped field go too, so it no longer blocks a translation.
``developer_to_system``    ``developer`` messages become ``system`` messages (servers that do not
                           know the developer role).
``max_tokens_clamp``       ``{max: N, default: M?}`` lowers ``max_tokens`` above N; sets M when the
                           client gave none.
``drop_empty_text``        removes text parts that are empty or only whitespace (Anthropic rejects
                           them), in messages, tool results and the system prompt, and messages
                           left with no content. Opaque parts (``_raw_part``) are kept.
=========================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, fields, replace
from typing import Any

from ..core.model import Message, Part, Request, TextPart, ToolResultPart
from ..fieldcache.neutral import CLASSES, from_json, to_json
from ..fieldcache.paths import PathError, parse
from .base import Adapter, AdapterError, Params, check_keys, positive_int, register, text, text_list

_REQUEST_FIELDS = {f.name for f in fields(Request)}


def field_default(cls: type, name: str) -> Any:
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
    raise KeyError(name)


def _key_path(value: str, what: str) -> list[str]:
    try:
        steps = parse(value)
    except PathError as exc:
        raise AdapterError(f"'{what}': {exc}") from None
    if not steps or any(step[0] != "key" for step in steps):
        raise AdapterError(f"'{what}' must be dotted field names (like extensions.seed), not {value!r}")
    return [step[1] for step in steps]


def _core_class(doc: Any) -> type | None:
    return CLASSES.get(doc.get("kind")) if isinstance(doc, dict) else None


def _parent(doc: dict[str, Any], keys: list[str], create: bool) -> dict[str, Any] | None:
    """The object holding ``keys[-1]``; with ``create``, missing plain objects on the way (and
    null core fields such as ``metadata``) are made."""
    node: Any = doc
    for key in keys[:-1]:
        if not isinstance(node, dict):
            return None
        nxt = node.get(key)
        if nxt is None and create and (_core_class(node) is None or key in node):
            nxt = node[key] = {}
        node = nxt
    return node if isinstance(node, dict) else None


def _remove(doc: dict[str, Any], keys: list[str]) -> tuple[bool, Any]:
    """Take the value at ``keys`` out of ``doc`` (a core field is reset to its default)."""
    parent = _parent(doc, keys, create=False)
    last = keys[-1]
    if parent is None or last not in parent:
        return False, None
    cls = _core_class(parent)
    value = parent[last]
    if cls is not None and last != "kind":
        parent[last] = to_json(field_default(cls, last))
    elif cls is None:
        del parent[last]
    else:
        return False, None
    return True, value


# ---------------------------------------------------------------- model_override


def _model_params(raw: Mapping[str, Any]) -> Params:
    check_keys(raw, (), ("model", "map"))
    if ("model" in raw) == ("map" in raw):
        raise AdapterError("give exactly one of 'model' or 'map'")
    if "model" in raw:
        return {"model": text(raw, "model")}
    mapping = raw["map"]
    if not isinstance(mapping, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise AdapterError("'map' must map model names to model names")
    return {"map": dict(mapping)}


def _model_override(req: Request, params: Params, protocol: str) -> Request:
    model = params["model"] if "model" in params else params["map"].get(req.model, req.model)
    return req if model == req.model else replace(req, model=model)


# ---------------------------------------------------------------- rename_field


def _rename_params(raw: Mapping[str, Any]) -> Params:
    check_keys(raw, ("from", "to"))
    src, dst = _key_path(text(raw, "from"), "from"), _key_path(text(raw, "to"), "to")
    if src == dst:
        raise AdapterError("'from' and 'to' name the same field")
    return {"from": src, "to": dst}


def _rename_field(req: Request, params: Params, protocol: str) -> Request:
    doc = to_json(req)
    found, value = _remove(doc, params["from"])
    if not found or value is None:
        return req
    parent = _parent(doc, params["to"], create=True)
    last = params["to"][-1]
    cls = _core_class(parent)
    if parent is None or (cls is not None and last not in {f.name for f in fields(cls)}):
        return req
    parent[last] = value
    try:
        return from_json(doc)
    except (TypeError, ValueError):
        return req


# ---------------------------------------------------------------- drop_params


def _drop_params(raw: Mapping[str, Any]) -> Params:
    check_keys(raw, ("params",))
    names = text_list(raw, "params")
    for name in names:
        _key_path(name, "params")
    return {"params": names}


def _drop(req: Request, params: Params, protocol: str) -> Request:
    top: dict[str, Any] = {}
    dotted: list[list[str]] = []
    extensions = req.extensions
    for name in params["params"]:
        if "." in name:
            dotted.append(name.split("."))
        elif name in _REQUEST_FIELDS and name not in ("model", "messages", "protocol", "extensions", "native_only"):
            top[name] = field_default(Request, name)
        if "." not in name and name in extensions:
            extensions = {k: v for k, v in extensions.items() if k != name}
    dropped = tuple(params["params"])
    native = [p for p in req.native_only if not any(p == d or p.startswith((f"{d}.", f"{d}[")) for d in dropped)]
    changes = {k: v for k, v in top.items() if getattr(req, k) != v}
    if extensions is not req.extensions:
        changes["extensions"] = extensions
    if native != req.native_only:
        changes["native_only"] = native
    out = replace(req, **changes) if changes else req
    if dotted:
        doc = to_json(out)
        hit = False
        for keys in dotted:
            hit |= _remove(doc, keys)[0]
        if hit:
            out = from_json(doc)
    return out


# ---------------------------------------------------------------- developer_to_system


def _developer_to_system(req: Request, params: Params, protocol: str) -> Request:
    if not any(m.role == "developer" for m in req.messages):
        return req
    return replace(req, messages=[replace(m, role="system") if m.role == "developer" else m for m in req.messages])


# ---------------------------------------------------------------- max_tokens_clamp


def _clamp_params(raw: Mapping[str, Any]) -> Params:
    check_keys(raw, ("max",), ("default",))
    out = {"max": positive_int(raw, "max")}
    if raw.get("default") is not None:
        out["default"] = positive_int(raw, "default")
        if out["default"] > out["max"]:
            raise AdapterError("'default' is larger than 'max'")
    return out


def _clamp(req: Request, params: Params, protocol: str) -> Request:
    if req.max_tokens is None:
        return replace(req, max_tokens=params["default"]) if "default" in params else req
    return replace(req, max_tokens=params["max"]) if req.max_tokens > params["max"] else req


# ---------------------------------------------------------------- drop_empty_text


def _blank(part: Part) -> bool:
    return isinstance(part, TextPart) and not part.text.strip() and "_raw_part" not in part.extensions


def _without_blank(parts: list[Part]) -> list[Part]:
    out: list[Part] = []
    changed = False
    for part in parts:
        if _blank(part):
            changed = True
            continue
        if isinstance(part, ToolResultPart) and any(_blank(p) for p in part.content):
            part = replace(part, content=[p for p in part.content if not _blank(p)])
            changed = True
        out.append(part)
    return out if changed else parts


def _drop_empty_text(req: Request, params: Params, protocol: str) -> Request:
    messages: list[Message] = []
    changed = False
    for msg in req.messages:
        content = _without_blank(msg.content)
        if content is not msg.content:
            changed = True
            if not content:
                continue
            msg = replace(msg, content=content)
        messages.append(msg)
    system = _without_blank(req.system)
    if not changed and system is req.system:
        return req
    return replace(req, messages=messages, system=system)


MODEL_OVERRIDE = register(Adapter("model_override", request=_model_override, params=_model_params))
RENAME_FIELD = register(Adapter("rename_field", request=_rename_field, params=_rename_params))
DROP_PARAMS = register(Adapter("drop_params", request=_drop, params=_drop_params))
DEVELOPER_TO_SYSTEM = register(Adapter("developer_to_system", request=_developer_to_system))
MAX_TOKENS_CLAMP = register(Adapter("max_tokens_clamp", request=_clamp, params=_clamp_params))
DROP_EMPTY_TEXT = register(Adapter("drop_empty_text", request=_drop_empty_text))
