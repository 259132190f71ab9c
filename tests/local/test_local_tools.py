"""The real coding CLIs — Claude Code, Codex and the Gemini CLI — complete a turn through Switchyard
against the llama.cpp server and its tiny model (which answers every prompt with its sentence).
This file runs after ``test_local_sdks.py`` (file order), so the CLIs' long prompts and background
calls cannot delay the timed SDK tests.

They run with the workplace's runner, ``../shared/tools/run_clis.sh`` beside the repository (or
``$SWITCHYARD_RUN_CLIS``), which installs the pinned CLIs with npm on first use and runs each once,
non-interactively, in a clean environment; a CLI passes when it exits 0 and prints the expected
text exactly once. The gateway's aliases (``claude-*``, ``gpt-*``, ``gemini-*``) catch the model
names the CLIs send, as in the README's local-model configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from tinymodel import SENTENCE

ROOT = Path(__file__).resolve().parents[2]


def runner() -> Path:
    path = Path(os.environ.get("SWITCHYARD_RUN_CLIS") or ROOT.parent / "shared" / "tools" / "run_clis.sh")
    if not path.is_file():
        pytest.fail(
            f"the CLI runner is not at {path}: these tests need the workplace's shared/tools/run_clis.sh beside "
            "the repository (or SWITCHYARD_RUN_CLIS naming it)",
            pytrace=False,
        )
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to install the coding CLIs (apt-get install npm)", pytrace=False)
    return path


@pytest.mark.timeout(900)
@pytest.mark.parametrize("cli", ["claude", "codex", "gemini"])
def test_cli_completes_a_turn(gateway, tmp_path, cli):
    env = {**os.environ, "EXPECT": SENTENCE, "PROMPT": "Say hello", "CLI_TIMEOUT": "300", "LOG_DIR": str(tmp_path)}
    if cli == "gemini":
        # Named, so the CLI skips its model router: that side call asks for a JSON-schema answer, which
        # llama-cpp-python's server refuses (it takes only text and json_object response formats)
        env["GEMINI_MODEL"] = "gemini-2.5-pro"
    done = subprocess.run(
        ["bash", str(runner()), gateway.url, cli], env=env, capture_output=True, text=True, timeout=840
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-2000:]}"
    assert f"PASS {cli}" in done.stdout
    idle(gateway)


def idle(gateway, timeout: float = 120.0) -> None:
    """Wait until requests a CLI left behind (its background calls) have ended."""
    pool = gateway.app.pipeline.pools["llama"]
    deadline = time.monotonic() + timeout
    while any(key.in_flight for key in pool.keys) and time.monotonic() < deadline:
        time.sleep(0.2)
