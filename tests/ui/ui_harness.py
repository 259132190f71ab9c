"""The dashboard tests' gateway configuration and HTTP helpers (a signed-in session, forms)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from gateway_harness import CLIENT_KEY, HTTPResult, call, closed_port, config_from_yaml

from replay_server import Reply
from switchyard.config import Config

ADMIN_KEY = "sy-admin-key-for-dashboard-tests"
REFUSED_KEY = "sk-refused-upstream-key-0001"
OC_KEY = "sk-oc-dashboard-key-0001"
SECRETS = (ADMIN_KEY, CLIENT_KEY, REFUSED_KEY, OC_KEY)
REFUSAL = Reply(b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}', status=401)
"""The ``refusing`` upstream's usual answer: its key is disabled."""


def dashboard_config(data_dir: Path, refusing_url: str) -> Config:
    """Admin and client keys, ``oc`` (OpenAI Chat; nothing listens: for dry runs), ``refusing``
    (answers 401: its key gets disabled), the built-in ``mock-1``; tracing on."""
    return config_from_yaml(
        f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
  admin_keys: ["{ADMIN_KEY}"]
  data_dir: {data_dir}
observability:
  trace: true
governance:
  unpriced: allow
routing:
  retries: 0
providers:
  oc:
    type: openai
    base_url: http://127.0.0.1:{closed_port()}/v1
    api_keys: ["{OC_KEY}"]
    models: [gpt-4o-mini]
  refusing:
    type: openai
    base_url: {refusing_url}/v1
    api_keys: ["{REFUSED_KEY}"]
    models: [refused-model]
models:
  chat-alias: [oc/gpt-4o-mini]
"""
    )


class Session:
    """A signed-in dashboard session over plain HTTP."""

    def __init__(self, url: str, key: str = ADMIN_KEY) -> None:
        self.url = url
        resp = form(url, "/ui/login", {"key": key})
        if resp.status != 303:
            raise AssertionError(f"sign-in answered {resp.status}: {resp.body[:200]!r}")
        self.set_cookie = resp.headers["set-cookie"]
        self.cookie = self.set_cookie.split(";", 1)[0]
        page = self.get("/ui/overview")
        found = re.search(r'<meta name="csrf" content="([^"]+)">', page.body.decode())
        assert found, "the page carries its CSRF token"
        self.csrf = found.group(1)

    def get(self, path: str) -> HTTPResult:
        return call(self.url + path, "GET", headers={"cookie": self.cookie})

    def post(self, path: str, fields: dict[str, str], csrf: bool = True) -> HTTPResult:
        return form(self.url, path, {**fields, "csrf": self.csrf} if csrf else fields, {"cookie": self.cookie})

    def post_json(self, path: str, body: dict[str, Any], csrf: str | None = None) -> HTTPResult:
        headers = {"cookie": self.cookie, "x-csrf-token": self.csrf if csrf is None else csrf}
        return call(self.url + path, "POST", body, headers=headers)


def form(url: str, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> HTTPResult:
    hdrs = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return call(url + path, "POST", urlencode(fields).encode(), headers=hdrs)


def chat(url: str, model: str = "mock-1", key: str = CLIENT_KEY, text: str = "hello") -> HTTPResult:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return call(url + "/v1/chat/completions", body=body, headers={"authorization": f"Bearer {key}"})


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    """Poll ``check()`` until it returns something truthy (the usage log writes every 0.5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
