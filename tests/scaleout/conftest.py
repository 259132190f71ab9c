"""Scale-out tests: several real gateway processes sharing Redis (and a data_dir)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "governance"))  # gateway_procs
sys.path.insert(0, str(HERE.parent / "server"))  # test_server_keys' fault-injecting upstream
