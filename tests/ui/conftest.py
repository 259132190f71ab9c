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
from ui_harness import dashboard_config

from replay_server import Reply, replay_server


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    refusing = Reply(
        b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}', status=401
    )
    with replay_server() as upstream:
        upstream.reply = refusing
        gateway = Gateway(dashboard_config(tmp_path_factory.mktemp("ui"), upstream.url)).start()
        try:
            yield gateway
        finally:
            gateway.stop()
