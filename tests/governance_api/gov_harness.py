"""Helpers for the governance API tests: a gateway configured with admin keys and prices for the
mock models, the admin API as plain HTTP, and a clock the tests move.

The gateway is :func:`gateway_harness.gateway_yaml` (four mock upstreams, the client key
``CLIENT_KEY``) plus ``server.admin_keys``, a config-declared key with limits and the price of
:data:`PRICED` (served by every provider: ``oc/gov-priced``, ``an/gov-priced`` …).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from gateway_harness import CLIENT_KEY, PROVIDER, Gateway, HTTPResult, call, config_from_yaml, gateway_yaml
from mock_upstreams import MockUpstream, fixture_reply

from switchyard.config import Config

ADMIN_KEY = "sy-admin-key-for-governance-tests"
CONFIG_LIMITED_KEY = "sy-config-key-with-limits-0001"
CONFIG_LIMITED_NAME = "cfg-limited"
PRICED = "gov-priced"
PRICES = {PRICED: {"input": 10.0, "output": 100.0, "max_output": 50}}
"""USD per million tokens: a byte of prompt reserves $0.00001, a token of output $0.0001."""
KEYS = "/admin/client-keys"
TEAMS = "/admin/teams"
CHAT_PATH = "/v1/chat/completions"
REDIS_URL = "redis://127.0.0.1:6379/0"
BOTH_BACKENDS = pytest.mark.parametrize("state", ["sqlite", "redis"], indirect=True, scope="module")
"""``pytestmark = BOTH_BACKENDS``: the module runs against the in-memory counters (SQLite state)
and against the Redis counters (see the ``state`` fixture)."""


def governance_yaml(up: dict[str, Any], **sections: Any) -> str:
    """The gateway's config file; ``sections`` are merged into the top-level sections of the same name
    (a value of None removes an entry: ``server={"admin_keys": None}`` leaves admin keys out)."""
    raw = yaml.safe_load(gateway_yaml(up))
    raw["server"]["admin_keys"] = [ADMIN_KEY]
    raw["server"]["auth_keys"] = [
        CLIENT_KEY,
        {"key": CONFIG_LIMITED_KEY, "name": CONFIG_LIMITED_NAME, "limits": {"rpm": 2}},
    ]
    raw["pricing"] = PRICES
    for name, entries in sections.items():
        section = raw.setdefault(name, {})
        section.update(entries)
        for entry in [k for k, v in entries.items() if v is None]:
            del section[entry]
    return yaml.safe_dump(raw)


def governance_config(up: dict[str, Any], base_dir: Any, **sections: Any) -> Config:
    """:func:`governance_yaml` read as if it were a file in ``base_dir`` (the data_dir is under it)."""
    return config_from_yaml(governance_yaml(up, **sections), base_dir=base_dir)


def model(protocol: str, name: str = PRICED) -> str:
    """``name`` at the provider that speaks ``protocol`` (so the request takes the fast path)."""
    return f"{PROVIDER[protocol]}/{name}"


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


class Admin:
    """The admin API of one gateway, as plain HTTP with an admin key."""

    def __init__(self, gw: Gateway, key: str = ADMIN_KEY) -> None:
        self.gw = gw
        self.key = key

    def __call__(self, method: str, path: str, body: Any = None) -> HTTPResult:
        return call(self.gw.url + path, method, body, bearer(self.key))

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        resp = self(method, path, body)
        assert resp.status == status, (resp.status, resp.body)
        return resp.json

    def create_key(self, name: str, **fields: Any) -> dict[str, Any]:
        return self.ok("POST", KEYS, {"name": name, **fields}, status=201)

    def create_team(self, name: str, **fields: Any) -> dict[str, Any]:
        return self.ok("POST", TEAMS, {"name": name, **fields}, status=201)

    def show_key(self, key_id: str) -> dict[str, Any]:
        return self.ok("GET", f"{KEYS}/{key_id}")

    def settled(self, path: str, timeout: float = 5.0) -> dict[str, Any]:
        """``GET path`` (a key or a team) once nothing is in flight or reserved: a request is
        settled just after its answer has gone to the client."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.ok("GET", path)
            if shown["in_flight"] == 0 and shown["reserved_usd"] == 0:
                return shown
            assert time.monotonic() < deadline, f"still held after {timeout} s: {shown}"
            time.sleep(0.02)


def chat(gw: Gateway, key: str, name: str = "oc/gov-priced", **extra: Any) -> HTTPResult:
    """One OpenAI Chat request with ``key`` (a short prompt; ``extra`` adds or, with None, removes
    body fields)."""
    body = {"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, **extra}
    return call(gw.url + CHAT_PATH, "POST", {k: v for k, v in body.items() if v is not None}, bearer(key))


@contextmanager
def in_flight(gw: Gateway, upstream: MockUpstream, key: str) -> Iterator[None]:
    """One Chat request of ``key`` in flight while the block runs (``upstream``, the OpenAI Chat
    mock, trickles its answer out over about 3 s); the request must end with a 200."""
    upstream.queue(fixture_reply("openai_chat/response_plain_text.json", chunk_size=50, delay=0.2))
    statuses: list[int] = []
    thread = threading.Thread(target=lambda: statuses.append(chat(gw, key).status))
    thread.start()
    try:
        while not upstream.requests:
            assert thread.is_alive(), statuses
            time.sleep(0.01)
        yield
    finally:
        thread.join(15)
    assert statuses == [200]


class Clock:
    """A clock the test sets (``now``), installed as the gateway's governance clock."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def mid_window(self, seconds: float = 60.0) -> None:
        """Move to the middle of a rate window, so a burst of requests stays in one window."""
        self.now = (self.now // seconds + 1) * seconds + seconds / 2
