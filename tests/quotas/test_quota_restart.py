"""Quota state survives a restart of a real gateway process: SQLite on one machine, Redis when
several processes share it (where the count is also shared: 15 requests over two processes)."""

from __future__ import annotations

import signal
from pathlib import Path

import openai
from gateway_harness import CLIENT_KEY
from gateway_process import GatewayProcess
from quota_upstream import QuotaUpstream

from redis_support import REDIS_URL, fresh_prefix

KEYS = ["sk-restart-key-0001", "sk-restart-key-0002", "sk-restart-key-0003"]


def config(url: str, data_dir: Path, state: str) -> str:
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
  data_dir: {data_dir}
{state}
providers:
  up:
    type: openai
    base_url: {url}/v1
    api_keys: {KEYS}
    quotas: [{{requests: 5, window: 1d}}]
"""


def chat(gateway: GatewayProcess) -> str:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    answer = client.chat.completions.create(model="up/gpt-q", messages=[{"role": "user", "content": "hi"}])
    return answer.choices[0].message.content or ""


def refused(gateway: GatewayProcess) -> bool:
    try:
        chat(gateway)
    except openai.RateLimitError:
        return True
    return False


def test_sqlite_counts_survive_a_restart(upstream: QuotaUpstream, tmp_path: Path) -> None:
    upstream.reset()
    path = tmp_path / "switchyard.yaml"
    path.write_text(config(upstream.url, tmp_path / "data", "state: {backend: sqlite}"))
    gateway = GatewayProcess(path).start()
    try:
        for _ in range(10):
            chat(gateway)
        gateway.stop()
        assert gateway.wait(30) in (0, -signal.SIGTERM)  # a graceful shutdown writes what is pending
        gateway = GatewayProcess(path).start()
        for _ in range(5):
            chat(gateway)
        assert [upstream.seen[k] for k in KEYS] == [5, 5, 5]
        assert refused(gateway) and upstream.total == 15
    finally:
        gateway.kill()


def test_redis_counts_are_shared_and_survive_a_restart(upstream: QuotaUpstream, tmp_path: Path) -> None:
    upstream.reset()
    with fresh_prefix() as prefix:
        state = f"state: {{backend: redis, redis_url: '{REDIS_URL}', redis_prefix: '{prefix}'}}"
        path = tmp_path / "switchyard.yaml"
        path.write_text(config(upstream.url, tmp_path / "data", state))
        first = GatewayProcess(path, log=tmp_path / "first.log").start()
        second = GatewayProcess(path, log=tmp_path / "second.log").start()
        try:
            for i in range(15):
                chat(first if i % 2 else second)
            assert [upstream.seen[k] for k in KEYS] == [5, 5, 5]
            assert refused(first) and refused(second) and upstream.total == 15
            first.stop()
            first = GatewayProcess(path, log=tmp_path / "first.log").start()
            assert refused(first) and upstream.total == 15
        finally:
            first.kill()
            second.kill()
