"""The plaintext of a client key (a new one and a rotated one) appears nowhere but in the one
answer that creates it: not in the data_dir (governance, usage, state databases, traces), not in
the gateway's logs, not in /metrics, not in any /admin listing, not upstream. Only its hash is
stored."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_harness import Gateway, call
from gov_harness import ADMIN_KEY, KEYS, TEAMS, Admin, bearer, chat, governance_config, model
from mock_upstreams import Reply
from sdk_clients import client

from switchyard.governance import key_hash


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(name)s %(message)s").format(record))  # with any traceback


@pytest.fixture
def logs() -> Iterator[Collect]:
    """Every record of the ``switchyard`` loggers, DEBUG and up, while the test runs."""
    handler = Collect()
    logger = logging.getLogger("switchyard")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def use(gateway: Gateway, upstreams, key: str) -> None:
    """Present ``key`` every way a client can, in requests that succeed, fail upstream and fail
    validation, streamed and not."""
    for protocol in ("openai_chat", "anthropic", "gemini"):
        for stream in (False, True):
            client(protocol, gateway.url, key).ask(model(protocol), "hello", stream=stream)
    gemini = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    resp = call(f"{gateway.url}/v1beta/models/gm/gov-priced:generateContent?key={key}", "POST", gemini)
    assert resp.status == 200
    upstreams["openai_chat"].queue(Reply(status=500, body=b'{"error": {"message": "boom", "type": "server_error"}}'))
    assert chat(gateway, key).status >= 500  # logged as a failed request
    assert call(gateway.url + "/v1/chat/completions", "POST", b"{oops", bearer(key)).status == 400


def test_the_plaintext_of_a_client_key_appears_nowhere(upstream_host, upstreams, tmp_path, logs):
    config = governance_config(upstream_host, tmp_path, observability={"trace": True}, routing={"retries": 0})
    gateway = Gateway(config).start()
    shown: list[bytes] = []
    try:
        admin = Admin(gateway)
        admin.create_team("secret-team", budget={"usd": 100, "window": "1d"})
        created = admin.create_key("secret-keeper", team="secret-team", budget={"usd": 10, "window": "1d"})
        use(gateway, upstreams, created["key"])
        rotated = admin.ok("POST", f"{KEYS}/{created['id']}/rotate", status=201)
        assert chat(gateway, created["key"]).status == 401
        use(gateway, upstreams, rotated["key"])
        for path in (KEYS, f"{KEYS}/{created['id']}", TEAMS, f"{TEAMS}/secret-team"):
            shown.append(admin("GET", path).body)
        shown.append(admin("PATCH", f"{KEYS}/{created['id']}", {"metadata": {"k": "v"}}).body)
        metrics = call(gateway.url + "/metrics", "GET", headers=bearer(ADMIN_KEY))
        assert metrics.status == 200 and b"switchyard" in metrics.body
        shown.append(metrics.body)
    finally:
        gateway.stop()  # writes every pending usage row, trace entry and ledger batch

    files = {p: p.read_bytes() for p in Path(config.server.data_dir).rglob("*") if p.is_file()}
    names = {p.name for p in files}
    assert {"governance.db", "usage.db"} <= names and any(p.suffix == ".jsonl" for p in files), names
    stored = b"".join(files.values())
    log_text = "\n".join(logs.lines)
    assert "failed after" in log_text, "the logs were captured (the upstream 500 is logged)"
    upstream_seen = b"".join(
        r.body + r.query.encode() + str(r.headers).encode() for u in upstreams.values() for r in u.requests
    )
    for secret in (created["key"], rotated["key"]):
        for form in (secret, secret.removeprefix("sk-sy-")):
            assert form.encode() not in stored, "a client key was written to the data_dir"
            assert form not in log_text, "a client key was logged"
            assert not any(form.encode() in body for body in shown), "a client key in an /admin answer or /metrics"
            assert form.encode() not in upstream_seen, "a client key was sent upstream"
    assert key_hash(rotated["key"]).encode() in stored, "the key's hash is what is stored"
    assert not any(key_hash(s).encode() in body for s in (created["key"], rotated["key"]) for body in shown)
