"""The two state interfaces every backend implements, and the pure helpers they share.

``ResponseStore`` keeps OpenAI Responses objects so ``previous_response_id`` can continue a
conversation and ``GET /v1/responses/{id}[/input_items]`` can answer. ``KVStore`` is a bounded
key-value cache (entries, bytes, TTL) for small shared state such as the field cache.

Invariants every backend keeps (the contract tests in ``tests/state`` check them):

- ``put`` is atomic and durable for its backend when it returns: a reader sees the whole record
  or nothing, never a half-written one. Putting an existing id replaces the record.
- Records are stored as JSON: ``get`` returns a fresh copy, later mutation of the object given to
  ``put`` does not change what is stored, and non-JSON values are rejected at ``put``.
- Every input and output item gets an ``id`` at ``put`` when it has none (deterministic, from
  the response id and the item's position), so ``input_items`` can paginate by item id.
- ``find_item(item_id)`` finds a stored input or output item (and its record) by its id (the Responses
  ``item_reference`` input item names one): each backend indexes every item id at ``put``; an id
  held by several records belongs to the latest one put.
- ``lineage(id)`` is root..id following ``previous_response_id``. When an ancestor is missing
  (deleted), the chain starts at the oldest record still present; the caller sees that
  ``lineage[0].previous_response_id`` is not None and can decide what a broken chain means.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import orjson

from ..core.util import stable_id

MAX_LINEAGE = 10_000
"""Longest chain ``lineage`` follows (a guard against cycles written by a buggy client)."""

MAX_ITEMS_LIMIT = 100
Order = Literal["asc", "desc"]


@dataclass(slots=True)
class StoredResponse:
    """One stored Responses object. Items are plain JSON values in the Responses wire shape.

    ``model``: the model the client asked for; ``served_model``: the one that answered (after
    fallback). ``input_items``: the request's own input (a string input is stored as one user
    message item, see :func:`input_as_items`), not what was inherited. ``instructions``: as sent
    (string or list of items); never inherited by a continuation. ``usage``: the Responses wire
    usage object. ``extra``: other response fields the server wants to return from GET (tools,
    text format, reasoning settings, ...).
    """

    id: str
    created_at: float
    model: str
    served_model: str | None = None
    status: str = "completed"
    input_items: list[dict[str, Any]] = field(default_factory=list)
    instructions: Any = None
    output: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    previous_response_id: str | None = None
    caller: str | None = None
    """The identity of the caller that stored it (the server scopes reads by it)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    def item_ids(self) -> list[str]:
        """The ids of the record's input and output items (those that have one)."""
        return [i["id"] for i in (*self.input_items, *self.output) if isinstance(i.get("id"), str) and i["id"]]

    def item(self, item_id: str) -> dict[str, Any] | None:
        """The output (else input) item with this id."""
        return next((i for i in (*self.output, *self.input_items) if i.get("id") == item_id), None)

    @classmethod
    def from_json(cls, data: bytes | str) -> StoredResponse:
        raw = orjson.loads(data)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass(slots=True)
class ItemsPage:
    """A page of ``GET /v1/responses/{id}/input_items``."""

    data: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    has_more: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": self.data,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "has_more": self.has_more,
        }


class ResponseStore(abc.ABC):
    """Async store of :class:`StoredResponse` records."""

    @abc.abstractmethod
    async def put(self, record: StoredResponse) -> None:
        """Store (or replace) a record atomically; durable for the backend when it returns."""

    @abc.abstractmethod
    async def get(self, response_id: str) -> StoredResponse | None: ...

    @abc.abstractmethod
    async def delete(self, response_id: str) -> bool:
        """Delete a record; True when it existed. Its children keep their parent id."""

    @abc.abstractmethod
    async def lineage(self, response_id: str) -> list[StoredResponse]:
        """Records root..``response_id`` following ``previous_response_id`` ([] if unknown)."""

    @abc.abstractmethod
    async def item_owner(self, item_id: str) -> str | None:
        """The id of the record an item id was last put with (None if unknown)."""

    async def find_item(self, item_id: str) -> tuple[StoredResponse, dict[str, Any]] | None:
        """The record holding the item with this id, and the item (None if unknown, or its record
        was deleted)."""
        owner = await self.item_owner(item_id)
        record = await self.get(owner) if owner is not None else None
        item = record.item(item_id) if record is not None else None
        return (record, item) if record is not None and item is not None else None

    async def input_items(
        self,
        response_id: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
    ) -> ItemsPage | None:
        """A page of the response's input items, inherited ones included (None if unknown).

        Raises ValueError for a bad ``limit`` (1..100), ``order`` or an unknown ``after`` id.
        """
        check_page_args(limit, order)
        chain = await self.lineage(response_id)
        if not chain:
            return None
        return page_items(effective_input(chain), limit=limit, order=order, after=after)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads."""


class KVStore(abc.ABC):
    """Async bounded key-value store: least recently used entries go first when a bound is hit.

    Sizes count ``len(key.encode()) + len(value)``. ``set`` returns False (and stores nothing,
    removing any previous value) when one entry alone is larger than the byte bound.
    ``ttl`` is in seconds; None uses the store's default TTL (None: no expiry).
    """

    max_entries: int
    max_bytes: int
    default_ttl: float | None

    def _bound(self, max_entries: int, max_bytes: int, default_ttl: float | None) -> None:
        """Check and keep the bounds (a store's constructor calls this)."""
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.default_ttl = default_ttl

    @abc.abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def set(self, key: str, value: bytes, ttl: float | None = None) -> bool: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> bool: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads."""


# ---------------------------------------------------------------------------- shared pure helpers


def input_as_items(value: str | Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The Responses ``input`` field as a list of items (a string becomes one user message)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": value}]}]
    return [dict(item) for item in value]


def with_item_ids(record: StoredResponse) -> StoredResponse:
    """A copy of ``record`` whose input and output items all carry an ``id``.

    Missing ids are derived from the response id, the list and the position, so storing the same
    record twice gives the same ids. Items that have an id are left as they are.
    """
    if not isinstance(record.id, str) or not record.id:
        raise ValueError("a stored response needs a non-empty string id")

    def fill(items: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValueError(f"{where}[{i}] is not an object")
            if not item.get("id"):
                prefix = "msg_" if item.get("type", "message") == "message" else "item_"
                rest = {k: v for k, v in item.items() if k != "id"}
                item = {"id": stable_id(prefix, record.id, where, i), **rest}
            out.append(item)
        return out

    return replace(
        record,
        input_items=fill(list(record.input_items), "input"),
        output=fill(list(record.output), "output"),
        previous_response_id=record.previous_response_id or None,
    )


def effective_input(chain: Sequence[StoredResponse]) -> list[dict[str, Any]]:
    """The items the last response of ``chain`` saw as input, oldest first.

    Each ancestor contributes its input then its output; the last record contributes its input.
    Instructions are not items and are not inherited.
    """
    items: list[dict[str, Any]] = []
    for rec in chain[:-1]:
        items.extend(rec.input_items)
        items.extend(rec.output)
    if chain:
        items.extend(chain[-1].input_items)
    return items


def check_page_args(limit: int, order: str) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ITEMS_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_ITEMS_LIMIT}")
    if order not in ("asc", "desc"):
        raise ValueError("order must be 'asc' or 'desc'")


def page_items(items: Sequence[dict[str, Any]], *, limit: int, order: Order, after: str | None) -> ItemsPage:
    """Cursor pagination as OpenAI lists do: ``after`` is the id of the last item already seen."""
    check_page_args(limit, order)
    ordered = list(items) if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        for i, item in enumerate(ordered):
            if item.get("id") == after:
                start = i + 1
                break
        else:
            raise ValueError(f"after: no input item with id '{after}'")
    data = ordered[start : start + limit]
    return ItemsPage(
        data=data,
        first_id=data[0].get("id") if data else None,
        last_id=data[-1].get("id") if data else None,
        has_more=start + limit < len(ordered),
    )
