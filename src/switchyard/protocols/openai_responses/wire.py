"""Small helpers shared by the Responses codec modules: the protocol name, extension splitting,
namespaced tool names and the ids the gateway mints.

Namespaces (``{"type": "namespace", "name": "crm", "tools": [...]}``) do not exist in the other
protocols, so a namespaced tool is flattened into the core with the name ``<namespace>__<tool>``
(OpenAI names allow ``[a-zA-Z0-9_-]``); calls carry the same flat name in the core and get their
``namespace`` field back when they are written for a Responses client or upstream.

Ids the source did not supply are minted with :func:`switchyard.core.util.stable_id` from the
response id and the output index, in the native prefixes (``resp_``, ``msg_``, ``fc_``, ``ctc_``,
``rs_``), so the same answer always gets the same ids.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import RequestError
from ...core.util import stable_id

NAME = "openai_responses"

NS_SEP = "__"


def flat_name(namespace: str | None, name: str) -> str:
    """The core name of a (possibly namespaced) tool."""
    return f"{namespace}{NS_SEP}{name}" if namespace else name


def split_name(name: str, namespace: str | None) -> str:
    """The bare tool name inside ``namespace`` (the inverse of :func:`flat_name`)."""
    prefix = f"{namespace}{NS_SEP}" if namespace else ""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def public(ext: dict[str, Any]) -> dict[str, Any]:
    """Extension entries that are wire fields (not ``_``-prefixed codec hints)."""
    return {k: v for k, v in ext.items() if not k.startswith("_")}


def rest(obj: dict[str, Any], handled: frozenset[str] | tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``obj`` a parser did not model (they go into ``extensions``)."""
    return {k: v for k, v in obj.items() if k not in handled}


def as_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(f"field '{where}' must be an object", param=where)
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RequestError(f"field '{where}' must be an array", param=where)
    return value


def string(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    """``obj[key]`` as a string (RequestError naming ``where.key`` when missing or not a string)."""
    value = obj.get(key)
    name = f"{where}.{key}" if where else key
    if value is None:
        if required:
            raise RequestError(f"missing required field '{name}'", param=name)
        return None
    if not isinstance(value, str):
        raise RequestError(f"field '{name}' must be a string", param=name)
    return value


def response_id(raw: str | None, *seeds: object) -> str:
    """A Responses id (``resp_...``) for a response of any protocol."""
    if raw and raw.startswith("resp_"):
        return raw
    if raw:
        return f"resp_{raw}"
    return stable_id("resp_", *seeds)


def item_id(prefix: str, response: str, index: int) -> str:
    """A stable id for the output item at ``index`` of ``response``."""
    return stable_id(prefix, response, index)
