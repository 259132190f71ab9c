"""Quota tests: the gateway harness and the fault upstream's answers live with the server tests."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # redis_support
sys.path.insert(0, str(HERE.parent / "server"))  # gateway_harness, gateway_process, test_server_keys
