"""Redis for the tests: a server on 127.0.0.1:6379 (override with SWITCHYARD_TEST_REDIS_URL).

When it is absent, tests that need it FAIL with a message saying so; they never skip. Each test
works under its own key prefix (:func:`fresh_prefix`), deleted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("SWITCHYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
        return client
    except redis.RedisError as exc:
        problem = str(exc)
    pytest.fail(
        f"these tests need Redis at {REDIS_URL} and it is not reachable ({problem}); "
        "start redis-server or set SWITCHYARD_TEST_REDIS_URL",
        pytrace=False,
    )


@contextlib.contextmanager
def fresh_prefix() -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted on exit."""
    client = require_redis()
    prefix = f"switchyard-test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
