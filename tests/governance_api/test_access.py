"""Who may call what: admin keys for /admin/*, client and config keys for the model endpoints;
missing, unknown, revoked and expired keys are 401 before anything else happens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from gateway_harness import CLIENT_KEY, Gateway, call
from gov_harness import ADMIN_KEY, BOTH_BACKENDS, CHAT_PATH, KEYS, TEAMS, Admin, bearer, chat, governance_config

pytestmark = BOTH_BACKENDS

EXPIRED_CONFIG_KEY = "sy-config-key-expired-0001"
ADMIN_PATHS = [("GET", KEYS), ("POST", KEYS), ("GET", TEAMS), ("POST", TEAMS), ("GET", f"{KEYS}/ck_1/rotate")]
MESSAGES = {"model": "an/gov-priced", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
GEMINI_PATH = "/v1beta/models/gm/gov-priced:generateContent"


@pytest.fixture(scope="module")
def no_admin(upstream_host, state, tmp_path_factory) -> Iterator[Gateway]:
    """A gateway without admin keys; a config key with a past expiry."""
    expired = {"key": EXPIRED_CONFIG_KEY, "name": "cfg-expired", "expires_at": "2020-01-01T00:00:00Z"}
    server = {"admin_keys": None, "auth_keys": [CLIENT_KEY, expired]}
    config = governance_config(upstream_host, tmp_path_factory.mktemp("no-admin"), server=server, state=state)
    gateway = Gateway(config).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def open_gateway(upstream_host, state, tmp_path_factory) -> Iterator[Gateway]:
    """A gateway with no key at all (client auth off)."""
    server = {"admin_keys": None, "auth_keys": []}
    config = governance_config(upstream_host, tmp_path_factory.mktemp("open"), server=server, state=state)
    gateway = Gateway(config).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def admin(gw) -> Admin:
    return Admin(gw)


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
def test_without_admin_keys_the_admin_api_is_403(no_admin, open_gateway, method, path):
    for gateway, headers in ((no_admin, bearer(CLIENT_KEY)), (open_gateway, {})):
        resp = call(gateway.url + path, method, {"name": "x"}, headers)
        assert resp.status == 403, resp.body
        assert "server.admin_keys" in resp.json["error"]["message"]


@pytest.mark.parametrize(("method", "path"), [*ADMIN_PATHS, ("GET", "/admin/keys")])
def test_a_client_key_gets_403_on_the_admin_api(admin, gw, method, path):
    key = admin.create_key("access-client")["key"]
    resp = call(gw.url + path, method, {"name": "x"}, bearer(key))
    assert resp.status == 403, resp.body
    assert resp.json["error"]["type"] == "permission_error"
    assert "admin key" in resp.json["error"]["message"]


@pytest.mark.parametrize(("method", "path"), [*ADMIN_PATHS, ("GET", "/admin/keys")])
def test_a_config_auth_key_gets_403_on_the_admin_api(gw, method, path):
    resp = call(gw.url + path, method, {"name": "x"}, bearer(CLIENT_KEY))
    assert resp.status == 403, resp.body
    assert "admin key" in resp.json["error"]["message"]


def test_a_client_key_gets_403_on_metrics_and_an_admin_key_reads_them(admin, gw):
    key = admin.create_key("access-metrics")["key"]
    assert call(gw.url + "/metrics", "GET", headers=bearer(key)).status == 403
    assert call(gw.url + "/metrics", "GET", headers=bearer(ADMIN_KEY)).status == 200


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (CHAT_PATH, {"model": "oc/gov-priced", "messages": [{"role": "user", "content": "hi"}]}, {}),
        ("/v1/messages", MESSAGES, {"anthropic-version": "2023-06-01"}),
        (GEMINI_PATH, GEMINI, {}),
    ],
)
def test_an_admin_key_gets_403_on_the_model_endpoints(gw, upstreams, path, body, headers):
    resp = call(gw.url + path, "POST", body, {**bearer(ADMIN_KEY), **headers})
    assert resp.status == 403, resp.body
    error = resp.json["error"]
    assert error.get("type", error.get("status")) in ("permission_error", "PERMISSION_DENIED")
    assert "/admin" in error["message"]
    assert not any(u.requests for u in upstreams.values())


@pytest.mark.parametrize("path", [CHAT_PATH, KEYS])
def test_a_missing_key_is_401(gw, path):
    resp = call(gw.url + path, "POST", {"model": "oc/gov-priced", "messages": []})
    assert resp.status == 401
    assert "missing API key" in resp.json["error"]["message"]


@pytest.mark.parametrize("path", [CHAT_PATH, KEYS])
def test_an_unknown_key_is_401(gw, path):
    resp = call(gw.url + path, "POST", {"name": "x"}, bearer("sk-sy-" + "A" * 43))
    assert resp.status == 401 and resp.json["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("where", "path", "body"),
    [
        ("authorization", CHAT_PATH, None),
        ("x-api-key", "/v1/messages", MESSAGES),
        ("x-goog-api-key", GEMINI_PATH, GEMINI),
        ("query", GEMINI_PATH, GEMINI),
    ],
)
def test_a_client_key_is_accepted_wherever_sdks_send_it(admin, gw, upstreams, where, path, body):
    key = admin.create_key(f"access-{where}")["key"]
    headers = {"anthropic-version": "2023-06-01"}
    if where == "authorization":
        resp = chat(gw, key)
    elif where == "query":
        resp = call(f"{gw.url}{path}?key={key}", "POST", body, headers)
    else:
        resp = call(gw.url + path, "POST", body, {**headers, where: key})
    assert resp.status == 200, resp.body


def test_a_revoked_key_is_401_on_the_next_request(admin, gw):
    created = admin.create_key("access-revoked")
    assert chat(gw, created["key"]).status == 200
    admin.ok("DELETE", f"{KEYS}/{created['id']}")
    resp = chat(gw, created["key"])
    assert resp.status == 401 and "revoked" in resp.json["error"]["message"]
    gemini = call(f"{gw.url}{GEMINI_PATH}?key={created['key']}", "POST", GEMINI)
    assert gemini.status == 401 and gemini.json["error"]["status"] == "UNAUTHENTICATED"


def test_a_key_whose_expiry_is_past_is_401(admin, gw, upstreams):
    created = admin.create_key("access-expired", expires_at="2020-01-01T00:00:00Z")
    resp = chat(gw, created["key"])
    assert resp.status == 401 and "expired at 2020-01-01T00:00:00Z" in resp.json["error"]["message"]
    assert not upstreams["openai_chat"].requests


def test_a_key_expires_when_the_clock_passes_its_expiry(admin, gw, clock):
    created = admin.create_key("access-expiring", expires_at="2099-06-01T00:00:00+02:00")
    assert created["expires_at"] == "2099-05-31T22:00:00Z"
    expiry = datetime(2099, 5, 31, 22, tzinfo=UTC).timestamp()
    clock.now = expiry - 1
    assert chat(gw, created["key"]).status == 200
    clock.now = expiry
    assert chat(gw, created["key"]).status == 401


def test_a_config_key_whose_expiry_is_past_is_401(no_admin, upstreams):
    resp = chat(no_admin, EXPIRED_CONFIG_KEY)
    assert resp.status == 401 and "expired" in resp.json["error"]["message"]
    assert not upstreams["openai_chat"].requests
    assert chat(no_admin, CLIENT_KEY).status == 200


def test_count_tokens_of_a_model_the_key_may_not_use_is_403(admin, gw, upstreams):
    key = admin.create_key("access-count-tokens", models=["oc/*"])["key"]
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    body = {"messages": [{"role": "user", "content": "hi"}]}
    refused = call(gw.url + "/v1/messages/count_tokens", "POST", {**body, "model": "an/gov-priced"}, headers)
    assert refused.status == 403 and refused.json["error"]["type"] == "permission_error"
    assert "'an/gov-priced'" in refused.json["error"]["message"]
    assert not upstreams["anthropic"].requests
    allowed = call(gw.url + "/v1/messages/count_tokens", "POST", {**body, "model": "oc/gov-priced"}, headers)
    assert allowed.status == 200 and allowed.json["input_tokens"] > 0
