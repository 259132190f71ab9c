"""Adapters: named, pure transforms of core requests, responses and stream events.

An :class:`Adapter` has up to three functions, each taking the object, the stage's validated
parameters and the provider protocol, and returning a new object (inputs are never mutated):

- ``request(req, params, protocol) -> Request``
- ``response(resp, params, protocol) -> Response``
- ``event(params, protocol) -> EventTransform``: a factory of one small state machine per
  stream, ``feed(event) -> list[Event]`` and ``finish() -> list[Event]`` (most adapters need
  none; a transform that changes nothing returns ``[event]`` with the same object).

``params(raw) -> dict`` validates a stage's configuration once, at start-up, raising
:class:`AdapterError` with a message naming the field. Adapters register by name in
:data:`ADAPTERS`; a chain stage is an adapter plus its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.events import Event
from ..core.model import Request, Response

Params = dict[str, Any]


class AdapterError(ValueError):
    """A chain spec that is not valid (the message names the stage and the field)."""


class EventTransform(Protocol):
    def feed(self, event: Event) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


def _no_params(raw: Mapping[str, Any]) -> Params:
    if raw:
        raise AdapterError(f"takes no parameters (got {', '.join(sorted(raw))})")
    return {}


@dataclass(frozen=True, slots=True)
class Adapter:
    name: str
    request: Callable[[Request, Params, str], Request] | None = None
    response: Callable[[Response, Params, str], Response] | None = None
    event: Callable[[Params, str], EventTransform] | None = None
    params: Callable[[Mapping[str, Any]], Params] = _no_params
    doc: str = ""


ADAPTERS: dict[str, Adapter] = {}
"""Every known adapter by name (the built-ins register on import of the package)."""


def register(adapter: Adapter) -> Adapter:
    """Add ``adapter`` to :data:`ADAPTERS` (a name can be registered once)."""
    if adapter.name in ADAPTERS or adapter.name == "field_cache":
        raise ValueError(f"an adapter named {adapter.name!r} exists already")
    ADAPTERS[adapter.name] = adapter
    return adapter


# ---------------------------------------------------------------- parameter helpers


def check_keys(raw: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    missing = [k for k in required if k not in raw]
    if missing:
        raise AdapterError(f"missing parameter(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - set(required) - set(optional))
    if unknown:
        raise AdapterError(f"unknown parameter(s) {', '.join(unknown)}")


def positive_int(raw: Mapping[str, Any], key: str) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AdapterError(f"'{key}' must be a positive integer, not {value!r}")
    return value


def text(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value:
        raise AdapterError(f"'{key}' must be non-empty text, not {value!r}")
    return value


def text_list(raw: Mapping[str, Any], key: str) -> list[str]:
    value = raw[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise AdapterError(f"'{key}' must be a non-empty list of names")
    return list(value)


def flag(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise AdapterError(f"'{key}' must be true or false")
    return value
