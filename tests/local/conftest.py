"""A real inference server for the tests: llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server``) serving the tiny model this suite writes itself
(:mod:`tinymodel`), and a Switchyard gateway in front of it.

llama-cpp-python is in the test extras (``pip install -e '.[test]'`` builds it from source once;
``.ci/run`` keeps the built wheel per version). Without it these tests fail and say how to get
it: they are never skipped.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "server"))  # gateway_harness

from gateway_harness import Gateway, call, config_from_yaml
from tinymodel import MODEL, write_model

LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
N_CTX = 32768
"""Room for the coding CLIs' prompts (in this model's small vocabulary: Codex about 21,000 tokens, the
Gemini CLI about 24,000, Claude Code about 10,000)."""


def require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(
            f"{what} is not installed, and the local inference tests need it. Install the test extras: "
            "python3 -m pip install -e '.[test]' (the first time builds llama.cpp from source, about 7 minutes; "
            ".ci/run keeps the built wheel under ~/.cache/switchyard/wheels)",
            pytrace=False,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LlamaServer:
    url: str
    log: Path
    proc: subprocess.Popen
    n_ctx: int

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require("gguf", "gguf")
    return write_model(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's server on a free port, one request at a time, never interrupted by a queued one."""
    require("llama_cpp", LLAMA_CPP)
    require("sse_starlette", LLAMA_CPP)
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(tiny_model), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(N_CTX), "--n_threads", "1",
        "--interrupt_requests", "False",  # its default cuts a running stream off when another request queues
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    server = LlamaServer(f"http://127.0.0.1:{port}", log, proc, N_CTX)
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp's server exited ({proc.returncode}):\n{server.output()[-3000:]}", pytrace=False)
            try:
                if call(server.url + "/v1/models", "GET", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp's server did not start:\n{server.output()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def local_gateway_yaml(llama_url: str) -> str:
    """The README's llama.cpp configuration, with the aliases that catch each CLI's model names."""
    return f"""
routing:
  timeouts: {{first_byte: 60, stall: 60, request: 300}}
providers:
  llama:
    type: openai
    base_url: {llama_url}/v1
    models: [{MODEL}]
models:
  "claude-*": llama/{MODEL}
  "gpt-*": llama/{MODEL}
  "gemini-*": llama/{MODEL}
"""


@pytest.fixture(scope="session")
def gateway(llama: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("gateway")
    gw = Gateway(config_from_yaml(local_gateway_yaml(llama.url), base_dir=base)).start()
    yield gw
    gw.stop()
