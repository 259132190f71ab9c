"""Fixtures for the dashboard tests: one gateway per module (``gw``) with the dashboard on, the
built-in mock model, a provider that refuses its key (to disable it), and tracing on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import Gateway
from ui_harness import REFUSAL, dashboard_config

from replay_server import ReplayServer, replay_server


@pytest.fixture(scope="module")
def refusing() -> Iterator[ReplayServer]:
    """The ``refusing`` provider's upstream: answers 401 (a test may change ``reply`` and put it back)."""
    with replay_server() as upstream:
        upstream.reply = REFUSAL
        yield upstream


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, refusing: ReplayServer) -> Iterator[Gateway]:
    gateway = Gateway(dashboard_config(tmp_path_factory.mktemp("ui"), refusing.url)).start()
    try:
        yield gateway
    finally:
        gateway.stop()
