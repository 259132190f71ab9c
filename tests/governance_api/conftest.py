"""Fixtures for the governance API tests: the mock upstreams (tests/server's fixtures), the
module's gateway (``gw``) and its ``state`` backend, and a clock for it that every test leaves as
it found it.

Each test module starts its own gateway (``gov_harness.governance_config``) with its own
``data_dir``, so keys, teams, spend and usage rows do not leak between modules; a module marked
``BOTH_BACKENDS`` runs once with the in-memory counters and once with the Redis counters.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import Gateway
from gov_harness import REDIS_URL, Clock, governance_config
from mock_upstreams import MockUpstream

SERVER_TESTS = Path(__file__).parents[1] / "server"


def _load_server_conftest() -> ModuleType:
    """tests/server/conftest.py under a name of its own: its mock-upstream fixtures are reused
    here (only those assigned below; its session gateway and autouse fixture are not)."""
    spec = importlib.util.spec_from_file_location("server_tests_conftest", SERVER_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_server_conftest = _load_server_conftest()
upstream_host = _server_conftest.upstream_host
upstreams = _server_conftest.upstreams


@pytest.fixture(scope="module")
def state(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The ``state`` config section: SQLite unless a module parametrizes ``state`` with "redis"
    (indirectly, module-scoped); then Redis on 127.0.0.1:6379 under a prefix of its own, whose
    keys are deleted afterwards. Redis must be there: the test fails, it is not skipped."""
    if getattr(request, "param", "sqlite") != "redis":
        yield {"backend": "sqlite"}
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need Redis on {REDIS_URL} (state.backend: redis): {exc}")
    prefix = f"switchyard-test-{uuid.uuid4().hex[:12]}:"
    yield {"backend": "redis", "redis_url": REDIS_URL, "redis_prefix": prefix}
    names = list(client.scan_iter(match=prefix + "*"))
    if names:
        client.delete(*names)
    client.close()
    assert names, "the gateway wrote nothing under its Redis prefix: were the Redis counters used?"


@pytest.fixture(scope="module")
def gw(
    upstream_host: dict[str, MockUpstream], state: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The module's gateway (admin keys, prices for the mock models, its own data_dir)."""
    config = governance_config(upstream_host, tmp_path_factory.mktemp("governance"), state=state)
    gateway = Gateway(config).start()
    yield gateway
    gateway.stop()


@pytest.fixture
def clock(gw: Gateway) -> Iterator[Clock]:
    """The module gateway's governance clock, pinned to the middle of a rate window."""
    pinned = Clock()
    pinned.mid_window(gw.config.governance.rate_window)
    gw.app.governance.clock = pinned
    yield pinned
    gw.app.governance.clock = time.time
