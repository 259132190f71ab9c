"""Fixtures for the governance tests: counters of each backend (memory, Redis under a fresh
prefix), and real gateway processes sharing a data_dir (and Redis) for the cross-process tests."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redis_support import REDIS_URL, fresh_prefix
from switchyard.governance import Counters, MemoryCounters
from switchyard.governance.redis_counters import RedisCounters
from switchyard.store.redis import connect

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "server"))  # gateway_harness, mock upstreams


class CounterBackend:
    """Makes counters of one kind inside the test's event loop (several Redis clients stand for
    several processes) and closes them at its end."""

    def __init__(self, kind: str, prefix: str | None) -> None:
        self.kind = kind
        self.prefix = prefix or ""
        self._shared: MemoryCounters | None = None
        self._opened: list[Counters] = []

    def counters(self, rate_window: float = 60.0) -> Counters:
        """A view of the counters: in memory the same object each time; in Redis a new client."""
        if self.kind == "memory":
            if self._shared is None:
                self._shared = MemoryCounters()
            return self._shared
        made = RedisCounters(connect(REDIS_URL), prefix=self.prefix, rate_window=rate_window)
        self._opened.append(made)
        return made

    def run(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            try:
                return await fn()
            finally:
                for counters in self._opened:
                    await counters.close()
                self._opened.clear()

        return asyncio.run(main())


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[CounterBackend]:
    if request.param == "memory":
        yield CounterBackend("memory", None)
        return
    with fresh_prefix() as prefix:
        yield CounterBackend("redis", prefix)
