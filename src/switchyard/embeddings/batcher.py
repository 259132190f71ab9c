"""Merging concurrent submissions into one call.

``await batcher.submit(key, item, size)`` adds ``item`` to the batch pending under ``key``. The
batch is flushed — ``flush(items)`` called once, in its own task — when its sizes reach
``max_size``, or ``max_wait`` seconds after its first item, whichever comes first. An item that
would overflow the pending batch flushes it first and starts the next one. Each submitter gets
the flush's result at its item's position, or the flush's exception. A submitter that goes away
(cancelled) leaves the others' batch running.

The caller decides what is worth batching: an item of ``max_size`` or more gains nothing from
waiting and should not be submitted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Pending(Generic[Item, Result]):
    __slots__ = ("futures", "items", "size", "timer")

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.futures: list[asyncio.Future[Result]] = []
        self.size = 0
        self.timer: asyncio.TimerHandle | None = None


class Batcher(Generic[Item, Result]):
    def __init__(self, max_size: int, max_wait: float, flush: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self.max_size = max_size
        self.max_wait = max_wait
        self._flush = flush
        self._pending: dict[Hashable, _Pending[Item, Result]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self.flushes = 0
        """Batches flushed so far."""

    async def submit(self, key: Hashable, item: Item, size: int) -> Result:
        loop = asyncio.get_running_loop()
        pending = self._pending.get(key)
        if pending is not None and pending.size + size > self.max_size:
            self._fire(key, pending)
            pending = None
        if pending is None:
            pending = self._pending[key] = _Pending()
            pending.timer = loop.call_later(self.max_wait, self._fire, key, pending)
        future: asyncio.Future[Result] = loop.create_future()
        pending.items.append(item)
        pending.futures.append(future)
        pending.size += size
        if pending.size >= self.max_size:
            self._fire(key, pending)
        return await future

    def _fire(self, key: Hashable, pending: _Pending[Item, Result]) -> None:
        if self._pending.get(key) is not pending:
            return  # flushed already (full before its timer)
        del self._pending[key]
        if pending.timer is not None:
            pending.timer.cancel()
        self.flushes += 1
        task = asyncio.get_running_loop().create_task(self._run(pending))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, pending: _Pending[Item, Result]) -> None:
        try:
            results = await self._flush(pending.items)
        except BaseException as exc:  # cancelled too (shutdown): no member may wait forever
            for future in pending.futures:
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    future.set_exception(exc)
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for future, result in zip(pending.futures, results, strict=True):
            if not future.done():
                future.set_result(result)
