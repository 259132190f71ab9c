"""The command line as a user runs it: ``switchyard serve`` in a subprocess with no config, and
``switchyard check`` on good and bad configs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gateway_harness import call, closed_port

CLI = [sys.executable, "-m", "switchyard.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any provider credentials or config path."""
    env = {k: v for k, v in os.environ.items() if "_API_KEY" not in k and "_API_BASE" not in k}
    env.pop("SWITCHYARD_CONFIG", None)
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=60, check=False
    )


def test_version_still_works(tmp_path):
    out = run_cli("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("switchyard ")


def test_serve_without_config_answers_a_chat_completion_through_the_mock(tmp_path):
    port = closed_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if call(url + "/health", "GET", timeout=1).status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "switchyard serve did not come up"
            time.sleep(0.1)
        body = {"model": "mock-1", "messages": [{"role": "user", "content": "hi there"}]}
        resp = call(url + "/v1/chat/completions", "POST", body)
        assert resp.status == 200, resp.body
        answer = resp.json
        assert answer["object"] == "chat.completion"
        assert answer["choices"][0]["message"]["content"] == "Hello from Switchyard mock. You said: hi there"
        assert resp.headers["x-switchyard-upstream"] == "mock/mock-1"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "Traceback" not in output


GOOD = """
server:
  port: 4321
  auth_keys: ["${SY_TEST_CLIENT_KEY}"]
providers:
  openai:
    type: openai
    api_keys: ["sk-secret-openai-1111", "sk-secret-openai-2222"]
    models: [gpt-4.1]
  claude:
    type: anthropic
    api_key: sk-ant-secret-3333
models:
  smart: [claude/claude-opus-4-8, openai/gpt-4.1]
  "gpt-*": openai/gpt-4.1
"""

BAD = """
server:
  port: 99999
providers:
  openai:
    type: openai
    api_keys: ["sk-secret-openai-1111"]
  weird:
    type: nonsense
models:
  smart: [nowhere/model-x]
"""


def test_check_summarises_a_good_config_without_secrets(tmp_path):
    (tmp_path / "switchyard.yaml").write_text(GOOD)
    out = run_cli("check", "--config", "switchyard.yaml", cwd=tmp_path, env=clean_env(SY_TEST_CLIENT_KEY="client-zzz"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "openai" in text and "type=openai" in text and "keys=2" in text
    assert "claude" in text and "type=anthropic" in text and "keys=1" in text
    assert "mock" in text
    assert "smart -> claude/claude-opus-4-8, openai/gpt-4.1" in text
    assert "gpt-* -> openai/gpt-4.1" in text
    for secret in ("sk-secret-openai-1111", "sk-secret-openai-2222", "sk-ant-secret-3333", "client-zzz"):
        assert secret not in text and secret not in out.stderr


def test_check_reports_each_problem_with_its_location(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    out = run_cli("check", "--config", "bad.yaml", cwd=tmp_path)
    assert out.returncode == 1
    err = out.stderr
    assert "bad.yaml:3: server.port" in err
    assert "bad.yaml:9: providers.weird.type" in err and "nonsense" in err
    assert "bad.yaml:11: models.smart.0" in err and "nowhere" in err
    assert "sk-secret-openai-1111" not in err + out.stdout


def test_check_reports_an_unset_variable(tmp_path):
    (tmp_path / "switchyard.yaml").write_text(GOOD)
    out = run_cli("check", "--config", "switchyard.yaml", cwd=tmp_path)
    assert out.returncode == 1
    assert "SY_TEST_CLIENT_KEY" in out.stderr


def test_check_without_a_file_uses_the_environment(tmp_path):
    out = run_cli("check", cwd=tmp_path, env=clean_env(OPENAI_API_KEY="sk-env-secret-4444"))
    assert out.returncode == 0
    assert "openai" in out.stdout and "keys=1" in out.stdout and "mock" in out.stdout
    assert "sk-env-secret-4444" not in out.stdout


@pytest.mark.parametrize("args", [["serve", "--config", "missing.yaml"], ["check", "--config", "missing.yaml"]])
def test_a_missing_config_file_is_reported(tmp_path, args):
    out = run_cli(*args, cwd=tmp_path)
    assert out.returncode == 1
    assert "missing.yaml" in out.stderr and "cannot read" in out.stderr


def test_check_shows_what_a_local_server_is_sent(tmp_path):
    from switchyard.cli import summary
    from switchyard.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(
        'providers:\n  llama: {type: openai, base_url: "http://127.0.0.1:8080/v1"}\n  openai: {type: openai}\n'
    )
    text = summary(load_config(path, env={}))
    llama = next(line for line in text.splitlines() if line.strip().startswith("llama"))
    openai = next(line for line in text.splitlines() if line.strip().startswith("openai"))
    assert "max_tokens_field=max_tokens" in llama and "unsupported_params=reasoning" in llama
    assert "max_tokens_field=max_completion_tokens" in openai and "unsupported_params" not in openai
