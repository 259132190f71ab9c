"""Quota tests: the gateway harness and the fault upstream's answers live with the server tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # redis_support
sys.path.insert(0, str(HERE.parent / "server"))  # gateway_harness, gateway_process, test_server_keys

from quota_upstream import QuotaUpstream  # noqa: E402 - after the path is set


@pytest.fixture(scope="module")
def upstream() -> Iterator[QuotaUpstream]:
    up = QuotaUpstream()
    yield up
    up.close()
