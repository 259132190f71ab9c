"""Fixtures for the gateway tests: four mock upstreams (one per protocol, plus a backup and
spares for fault tests) and one real gateway configured against them.

The gateway's configuration is :func:`gateway_harness.gateway_yaml`. Key pools keep state for
the whole session, so tests that make an upstream fail with 401/429 use their own provider or
model name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import PROTOCOLS, Gateway, config_from_yaml, gateway_yaml, reset_keys
from mock_upstreams import MockUpstream, UpstreamHost


@pytest.fixture(scope="session")
def upstream_host() -> Iterator[dict[str, MockUpstream]]:
    host = UpstreamHost()
    ups = {p: host.add(p) for p in PROTOCOLS}
    ups["backup"] = host.add("openai_chat")
    ups["faulty"] = host.add("openai_chat")
    yield ups
    host.close()


@pytest.fixture
def upstreams(upstream_host: dict[str, MockUpstream]) -> dict[str, MockUpstream]:
    for upstream in upstream_host.values():
        upstream.reset()
    return upstream_host


@pytest.fixture(scope="session")
def gateway(upstream_host: dict[str, MockUpstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("gateway")  # data_dir (usage log) outside the work tree
    gw = Gateway(config_from_yaml(gateway_yaml(upstream_host), base_dir=base)).start()
    yield gw
    gw.stop()


@pytest.fixture(autouse=True)
def fresh_keys(request: pytest.FixtureRequest) -> None:
    """Tests that share the session gateway start with every key healthy (no cooldowns left over)."""
    if "gateway" not in request.fixturenames:
        return
    reset_keys(request.getfixturevalue("gateway"))
