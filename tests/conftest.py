from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "golden"))
sys.path.insert(0, str(Path(__file__).parent / "protocols"))  # protocol_helpers

from pg_support import pg_database, pg_dsn  # noqa: F401 - fixtures for the PostgreSQL tests
from replay_server import ReplayServer, replay_server


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    """A local HTTP server answering with ``replay.reply`` (set it before calling)."""
    with replay_server() as server:
        yield server
