"""In-memory backends: for tests, single-process use, and the default field cache.

Nothing here awaits between reading and writing its structures, so each call is atomic with
respect to other tasks on the same event loop.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from collections.abc import Callable

from .base import MAX_LINEAGE, KVStore, ResponseStore, StoredResponse, with_item_ids


class MemoryResponseStore(ResponseStore):
    """Records kept as JSON bytes in a dict (so stored copies never alias the caller's objects)."""

    def __init__(self) -> None:
        self._records: dict[str, bytes] = {}
        self._parents: dict[str, str | None] = {}
        self._items: dict[str, str] = {}

    async def put(self, record: StoredResponse) -> None:
        rec = with_item_ids(record)
        data = rec.to_json()
        self._records[rec.id] = data
        self._parents[rec.id] = rec.previous_response_id
        self._items.update(dict.fromkeys(rec.item_ids(), rec.id))

    async def item_owner(self, item_id: str) -> str | None:
        return self._items.get(item_id)

    async def get(self, response_id: str) -> StoredResponse | None:
        data = self._records.get(response_id)
        return StoredResponse.from_json(data) if data is not None else None

    async def delete(self, response_id: str) -> bool:
        self._parents.pop(response_id, None)
        return self._records.pop(response_id, None) is not None

    async def lineage(self, response_id: str) -> list[StoredResponse]:
        chain: list[bytes] = []
        current: str | None = response_id
        while current and len(chain) < MAX_LINEAGE:
            data = self._records.get(current)
            if data is None:
                break
            chain.append(data)
            current = self._parents.get(current)
        return [StoredResponse.from_json(d) for d in reversed(chain)]


class MemoryKVStore(KVStore):
    """An LRU dict bounded by entries and bytes, with per-entry TTL.

    Expired entries are dropped lazily (on access) and by a heap of expiry times checked on every
    call, so they never hold a bound hostage. ``clock`` is monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        default_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bound(max_entries, max_bytes, default_ttl)
        self._clock = clock
        self._data: OrderedDict[str, tuple[bytes, float | None, int]] = OrderedDict()
        self._expiries: list[tuple[float, str]] = []
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._data)

    def _drop(self, key: str) -> None:
        entry = self._data.pop(key, None)
        if entry is not None:
            self.bytes -= entry[2]

    def _purge_expired(self, now: float) -> None:
        heap = self._expiries
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            entry = self._data.get(key)
            if entry is not None and entry[1] == at:
                self._drop(key)
        if len(heap) > 2 * len(self._data) + 64:  # drop stale heap entries of replaced keys
            self._expiries = [(at, k) for at, k in heap if k in self._data and self._data[k][1] == at]
            heapq.heapify(self._expiries)

    async def get(self, key: str) -> bytes | None:
        self._purge_expired(self._clock())
        entry = self._data.get(key)
        if entry is None:
            return None
        self._data.move_to_end(key)
        return entry[0]

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError("KVStore values are bytes")
        value = bytes(value)
        now = self._clock()
        self._purge_expired(now)
        self._drop(key)
        size = len(key.encode()) + len(value)
        if size > self.max_bytes:
            return False
        ttl = self.default_ttl if ttl is None else ttl
        expires = now + ttl if ttl is not None else None
        self._data[key] = (value, expires, size)
        self.bytes += size
        if expires is not None:
            heapq.heappush(self._expiries, (expires, key))
        while len(self._data) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._data)))
        return True

    async def delete(self, key: str) -> bool:
        self._purge_expired(self._clock())
        existed = key in self._data
        self._drop(key)
        return existed
