"""The gateway under test: its configuration against the mock upstreams, and a runner for the
real server (aiohttp's under uvloop, as ``switchyard serve`` runs it) in a background thread
on a free 127.0.0.1 port.

Provider names: ``oc`` (OpenAI Chat), ``or`` (Responses), ``an`` (Anthropic), ``gm`` (Gemini),
``backup`` (OpenAI Chat), ``faulty`` (OpenAI Chat, two keys), ``dead`` (nothing listens). The
gateway requires the client key ``CLIENT_KEY``.
"""

from __future__ import annotations

import http.client
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop

from switchyard.config import Config, parse_config
from switchyard.server import App
from switchyard.server.aio import Serving

PROTOCOLS = ("openai_chat", "openai_responses", "anthropic", "gemini")
PROVIDER = {"openai_chat": "oc", "openai_responses": "or", "anthropic": "an", "gemini": "gm"}
UPSTREAM_KEY = {
    "openai_chat": "sk-oc-upstream-key-0001",
    "openai_responses": "sk-or-upstream-key-0001",
    "anthropic": "sk-ant-upstream-key-0001",
    "gemini": "gm-upstream-key-0001",
}
CLIENT_KEY = "sy-client-key-for-tests"
OTHER_CLIENT_KEY = "sy-another-teams-key"
MAX_BODY_MB = 1


def gateway_yaml(up: dict[str, Any]) -> str:
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}", "{OTHER_CLIENT_KEY}"]
  max_body_mb: {MAX_BODY_MB}
routing:
  retries: 2
  timeouts: {{first_byte: 1.5, stall: 1.5, request: 20}}
  heartbeat: 0.4
  cooldown: {{base: 0.01, max: 0.05}}
providers:
  oc:
    type: openai
    base_url: {up["openai_chat"].url}/v1
    api_keys: ["{UPSTREAM_KEY["openai_chat"]}"]
  or:
    type: openai-responses
    base_url: {up["openai_responses"].url}/v1
    api_keys: ["{UPSTREAM_KEY["openai_responses"]}"]
  an:
    type: anthropic
    base_url: {up["anthropic"].url}
    api_keys: ["{UPSTREAM_KEY["anthropic"]}"]
    headers: {{x-extra-header: from-config}}
  gm:
    type: gemini
    base_url: {up["gemini"].url}
    api_keys: ["{UPSTREAM_KEY["gemini"]}"]
  backup:
    type: openai
    base_url: {up["backup"].url}/v1
    api_keys: ["sk-backup-key-0001"]
    models: [shared-model, backup-only-model]
  faulty:
    type: openai
    base_url: {up["faulty"].url}/v1
    api_keys: ["sk-faulty-key-0001", "sk-faulty-key-0002"]
    models: [shared-model]
  dead:
    type: openai
    base_url: http://127.0.0.1:{closed_port()}/v1
    api_keys: ["sk-dead-key-0001"]
models:
  group-dead-first: [dead/gpt-dead, backup/gpt-backup]
  group-faulty-first: [faulty/gpt-faulty, backup/gpt-backup]
  group-inband: [an/claude-inband, backup/gpt-backup]
  claude-*: [an/claude-wildcard]
  both: [oc/gpt-both, an/claude-both]
"""


def config_from_yaml(text: str, base_dir: Path | None = None) -> Config:
    return parse_config(text, "test.yaml", {}, base_dir or Path.cwd())


class Gateway:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = App(config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.sock.listen()
        self.server = Serving(self.app)
        self.thread = threading.Thread(target=uvloop.run, args=(self.server.run(self.sock),), daemon=True)

    def start(self) -> Gateway:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started.is_set():
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(10)
        self.sock.close()


@contextmanager
def running(text: str, base_dir: Path) -> Iterator[Gateway]:
    """A gateway configured with YAML ``text`` (``data_dir`` under ``base_dir``), stopped at the end."""
    gw = Gateway(config_from_yaml(text, base_dir=base_dir)).start()
    try:
        yield gw
    finally:
        gw.stop()


def reset_keys(gateway: Gateway) -> None:
    """Every upstream key of ``gateway`` healthy again (no cooldowns, strikes or disabled keys left over)."""
    for pool in gateway.app.pipeline.pools.values():
        for state in pool.keys:
            state.disabled = None
            state.cool_until = 0.0
            state.transient_streak = 0
            state.model_cool_until.clear()
            state.model_strikes.clear()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


def call(
    url: str,
    method: str = "POST",
    body: bytes | dict | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20.0,
) -> HTTPResult:
    """One plain HTTP request (stdlib http.client); the whole answer is read."""
    parts = urlsplit(url)
    raw = orjson.dumps(body) if isinstance(body, dict) else body
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        hdrs = {"content-type": "application/json", **(headers or {})}
        conn.request(method, target, body=raw, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return HTTPResult(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def usage_row(gw: Gateway, where: str, args: tuple[Any, ...], timeout: float = 5.0) -> dict[str, Any]:
    """The one usage-log row matching ``where`` (the writer flushes in the background)."""
    path = gw.config.server.data_dir / "usage.db"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            with sqlite3.connect(path) as conn:
                conn.row_factory = sqlite3.Row
                rows = conn.execute(f"SELECT * FROM requests WHERE {where}", args).fetchall()
            if rows:
                assert len(rows) == 1, "one row per request"
                return dict(rows[0])
        time.sleep(0.05)
    raise AssertionError(f"no usage row where {where} {args}")
