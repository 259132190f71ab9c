"""Fixtures for the governance API tests: the mock upstreams (a host per session), and a clock
for the module's gateway (``gw``) that every test leaves as it found it.

Each test module starts its own gateway (``gov_harness.governance_config``) with its own
``data_dir``, so keys, teams, spend and usage rows do not leak between modules.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import PROTOCOLS, Gateway
from gov_harness import Clock, governance_config
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


@pytest.fixture(scope="module")
def gw(upstream_host: dict[str, MockUpstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The module's gateway (admin keys, prices for the mock models, its own data_dir)."""
    gateway = Gateway(governance_config(upstream_host, tmp_path_factory.mktemp("governance"))).start()
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
