"""The dashboard without a browser: its JSON endpoints, forms and security, over real HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml
from ui_harness import ADMIN_KEY, OC_KEY, REFUSAL, REFUSED_KEY, SECRETS, Session, chat, form, wait_for

from replay_server import ReplayServer, Reply
from switchyard import ui
from switchyard.store import MemoryKVStore
from switchyard.ui.queries import percentile
from switchyard.ui.sessions import SessionStore

CLAUDE_CODE = Path(__file__).parents[1] / "server" / "fixtures" / "clients" / "claude_code" / "hello"
PAGES = ("/ui/overview", "/ui/requests", "/ui/keys", "/ui/client-keys", "/ui/translate", "/ui/usage", "/ui/config")
API = ("/ui/api/overview", "/ui/api/requests", "/ui/api/keys", "/ui/api/client-keys", "/ui/api/usage", "/ui/usage.csv")
ACTIONS = ("/ui/keys/enable", "/ui/keys/clear", "/ui/client-keys", "/ui/translate", "/ui/logout", "/ui/api/translate")


@pytest.fixture(scope="module")
def traffic(gw: Gateway) -> dict[str, str]:
    """Requests in three protocols and one refused; returns request ids by kind."""
    ok = chat(gw.url)
    assert ok.status == 200, ok.body
    messages = call(
        gw.url + "/v1/messages",
        body={"model": "mock-1", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": CLIENT_KEY},
    )
    assert messages.status == 200, messages.body
    gemini = call(
        gw.url + "/v1beta/models/mock-1:generateContent",
        body={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": CLIENT_KEY},
    )
    assert gemini.status == 200, gemini.body
    missing = chat(gw.url, model="no-such-model")
    assert missing.status == 404
    ids = {"chat": ok.headers["x-request-id"], "missing": missing.headers["x-request-id"]}
    session = Session(gw.url)
    assert wait_for(lambda: len(session_json(session, "/ui/api/requests?range=1h")["data"]) >= 4)
    return ids


def session_json(session: Session, path: str) -> dict:
    resp = session.get(path)
    assert resp.status == 200, resp.body
    return resp.json


def test_every_ui_path_without_a_session_redirects_or_answers_401(gw: Gateway) -> None:
    for path in (*PAGES, "/ui", "/ui/requests/anything"):
        resp = call(gw.url + path, "GET")
        assert (resp.status, resp.headers.get("location")) == (303, "/ui/login"), path
    for path in API:
        assert call(gw.url + path, "GET").status == 401, path
    for path in ACTIONS:
        assert form(gw.url, path, {"provider": "oc", "key": "x"}).status == 401, path
    stale = {"cookie": "switchyard_session=forged-token"}
    assert call(gw.url + "/ui/api/overview", "GET", headers=stale).status == 401


def test_a_client_key_cannot_sign_in(gw: Gateway) -> None:
    for key in (CLIENT_KEY, "not-a-key", ""):
        resp = form(gw.url, "/ui/login", {"key": key})
        assert resp.status == 401 and "set-cookie" not in resp.headers, key


def test_session_cookie_is_httponly_samesite_strict_and_not_the_key(gw: Gateway) -> None:
    session = Session(gw.url)
    flags = [part.strip() for part in session.set_cookie.split(";")]
    assert "HttpOnly" in flags and "SameSite=Strict" in flags and "Path=/ui" in flags
    assert ADMIN_KEY not in session.set_cookie
    assert len(session.cookie.split("=", 1)[1]) >= 32


def test_sign_out_ends_the_session(gw: Gateway) -> None:
    session = Session(gw.url)
    assert session.post("/ui/logout", {}).status == 303
    assert session.get("/ui/api/keys").status == 401


def test_csrf_token_is_checked_on_every_action(gw: Gateway) -> None:
    session = Session(gw.url)
    for path in ACTIONS:
        assert session.post(path, {"provider": "oc", "key": "x"}, csrf=False).status == 403, path
        assert session.post(path, {"provider": "oc", "key": "x", "csrf": "wrong"}, csrf=False).status == 403, path
    assert session.post_json("/ui/api/translate", {}, csrf="wrong").status == 403
    other = Session(gw.url)  # a token is bound to its own session
    assert session.post_json("/ui/api/translate", {}, csrf=other.csrf).status == 403


def test_overview_json_counts_the_requests(gw: Gateway, traffic: dict[str, str]) -> None:
    data = session_json(Session(gw.url), "/ui/api/overview?range=1h")
    totals = data["totals"]
    assert totals["requests"] >= 4 and totals["errors"] >= 1
    assert totals["p50"] is not None and totals["ttfb_p95"] is not None
    assert {"mock-1", "no-such-model"} <= {row["name"] for row in data["top"]["model"]}
    assert len(data["times"]) == len(data["series"]["rps"]) == 61
    assert sum(data["series"]["rps"]) * 60 == pytest.approx(totals["requests"], rel=0.01)


def test_overview_refuses_an_unknown_range(gw: Gateway) -> None:
    assert Session(gw.url).get("/ui/api/overview?range=2y").status == 400


def test_request_log_filters_by_status_and_model(gw: Gateway, traffic: dict[str, str]) -> None:
    session = Session(gw.url)
    errors = session_json(session, "/ui/api/requests?range=1h&status=error")["data"]
    assert traffic["missing"] in {r["request_id"] for r in errors}
    assert all(r["status"] >= 400 or r["error"] for r in errors)
    mock = session_json(session, "/ui/api/requests?range=1h&model=mock-1")["data"]
    assert {r["client_protocol"] for r in mock} >= {"openai_chat", "anthropic", "gemini"}
    assert traffic["missing"] not in {r["request_id"] for r in mock}
    assert session.get("/ui/api/requests?status=bad").status == 400


def test_request_detail_has_attempts_usage_and_trace(gw: Gateway, traffic: dict[str, str]) -> None:
    detail = session_json(Session(gw.url), f"/ui/api/requests/{traffic['chat']}")
    assert detail["request"]["status"] == 200 and detail["request"]["output_tokens"] > 0
    assert detail["attempts"][0]["target"] == "mock/mock-1" and detail["attempts"][0]["error"] is None
    stages = [entry["stage"] for entry in detail["trace"]]
    assert stages[0] == "client_request" and "client_response" in stages
    page = Session(gw.url).get(f"/ui/requests/{traffic['chat']}").body.decode()
    assert 'id="trace-client"' in page and "mock/mock-1" in page
    assert Session(gw.url).get("/ui/api/requests/no-such-id").status == 404


def test_a_disabled_upstream_key_is_re_enabled(gw: Gateway) -> None:
    refused = chat(gw.url, model="refused-model")
    assert refused.status == 502  # the upstream refused the key
    session = Session(gw.url)
    request_id = refused.headers["x-request-id"]
    assert wait_for(lambda: session.get(f"/ui/api/requests/{request_id}").status == 200)
    detail = session_json(session, f"/ui/api/requests/{request_id}")
    assert detail["attempts"][0]["status"] == 401 and detail["attempts"][0]["error"] == "authentication"
    (sent,) = [entry["data"] for entry in detail["trace"] if entry["stage"] == "upstream_request"]
    assert sent["url"].endswith("/v1/chat/completions") and sent["headers"]["authorization"] != f"Bearer {REFUSED_KEY}"
    page = session.get(f"/ui/requests/{request_id}").body.decode()
    assert 'id="trace-upstream_request"' in page and "refused-model" in page and REFUSED_KEY not in page
    (key,) = session_json(session, "/ui/api/keys")["refusing"]
    assert key["status"] == "disabled" and key["disabled_reason"]
    assert "Re-enable" in session.get("/ui/keys").body.decode()
    assert session.post("/ui/keys/enable", {"provider": "refusing", "key": key["key"]}).status == 303
    assert session_json(session, "/ui/api/keys")["refusing"][0]["status"] == "healthy"
    assert session.post("/ui/keys/enable", {"provider": "refusing", "key": "nope"}).status == 404


def test_a_cooling_upstream_key_is_cleared(gw: Gateway, refusing: ReplayServer) -> None:
    refusing.reply = Reply(
        b'{"error": {"message": "slow down", "type": "rate_limit"}}', status=429, headers={"retry-after": "600"}
    )
    try:
        assert chat(gw.url, model="refused-model").status == 429
    finally:
        refusing.reply = REFUSAL
    session = Session(gw.url)
    (key,) = session_json(session, "/ui/api/keys")["refusing"]
    assert key["status"].startswith("cooling") and key["cooling_models_s"]["refused-model"] > 500
    assert "Clear cooldown" in session.get("/ui/keys").body.decode()
    assert session.post("/ui/keys/clear", {"provider": "refusing", "key": key["key"]}).status == 303
    (key,) = session_json(session, "/ui/api/keys")["refusing"]
    assert key["status"] == "healthy" and key["cooling_models_s"] == {}


def test_client_key_created_once_used_and_revoked(gw: Gateway) -> None:
    session = Session(gw.url)
    created = session.post("/ui/client-keys", {"name": "dash-key", "budget_usd": "5", "budget_window": "30d"})
    assert created.status == 200
    page = created.body.decode()
    start = page.index('<output id="new-key">') + len('<output id="new-key">')
    secret = page[start : page.index("</output>", start)]
    assert secret.startswith("sk-") or len(secret) > 20
    assert secret not in session.get("/ui/client-keys").body.decode()  # shown once
    assert chat(gw.url, key=secret).status == 200
    (key,) = [k for k in session_json(session, "/ui/api/client-keys")["data"] if k["name"] == "dash-key"]
    assert key["budget"] == {"usd": 5.0, "window": "30d"} and "spend" in key
    edited = session.post(f"/ui/client-keys/{key['id']}/edit", {"models": "mock-1", "rpm": "100", "budget_usd": ""})
    assert edited.status == 303
    (key,) = [k for k in session_json(session, "/ui/api/client-keys")["data"] if k["name"] == "dash-key"]
    assert key["models"] == ["mock-1"] and key["limits"]["rpm"] == 100 and key["budget"] is None
    assert session.post(f"/ui/client-keys/{key['id']}/revoke", {}).status == 303
    assert chat(gw.url, key=secret).status == 401
    refused = session.post("/ui/client-keys", {"name": "bad", "rpm": "many"})
    assert refused.status == 400 and "form-error" in refused.body.decode()


def test_translate_claude_code_request_for_openai_chat(gw: Gateway) -> None:
    body = orjson.loads((CLAUDE_CODE / "02_v1_messages.body.json").read_bytes())
    session = Session(gw.url)
    resp = session.post_json("/ui/api/translate", {"protocol": "anthropic", "target": "chat-alias", "body": body})
    assert resp.status == 200, resp.body
    result = resp.json
    assert result["target"] == "oc/gpt-4o-mini" and result["provider_protocol"] == "openai_chat"
    assert result["path"].endswith("/v1/chat/completions") and result["fast"] is False
    upstream = result["body"]
    assert upstream["model"] == "gpt-4o-mini" and upstream["stream"] is True
    assert upstream["messages"][0]["role"] == "system" and upstream["tools"]
    assert OC_KEY not in resp.body.decode() and result["headers"]["authorization"] != f"Bearer {OC_KEY}"
    bad = session.post_json("/ui/api/translate", {"protocol": "anthropic", "target": "chat-alias", "body": {}})
    assert bad.status == 400 and "model" in bad.json["error"]


def test_translate_and_send_answers_in_the_client_protocol_and_is_logged(gw: Gateway) -> None:
    session = Session(gw.url)
    body = {"model": "claude-x", "max_tokens": 32, "messages": [{"role": "user", "content": "run me"}]}
    resp = session.post_json(
        "/ui/api/translate", {"protocol": "anthropic", "target": "mock-1", "body": body, "run": True}
    )
    assert resp.status == 200, resp.body
    result = resp.json
    assert result["target"] == "mock/mock-1" and result["path"].endswith("/v1/chat/completions")  # the mock speaks Chat
    answer = result["answer"]
    assert answer["status"] == 200 and orjson.loads(answer["body"])["type"] == "message"
    logged = wait_for(lambda: session.get(f"/ui/api/requests/{answer['request_id']}").status == 200)
    assert logged
    detail = session_json(session, f"/ui/api/requests/{answer['request_id']}")
    assert detail["request"]["client_protocol"] == "anthropic" and detail["request"]["client_key_id"] is None
    assert detail["trace"][0]["stage"] == "client_request"
    failed = session.post_json(
        "/ui/api/translate",
        {
            "protocol": "openai_chat",
            "target": "refused-model",
            "run": True,
            "body": {"model": "x", "messages": [{"role": "user", "content": "hi"}]},
        },
    )
    assert failed.status == 200 and failed.json["answer"]["status"] == 502
    assert orjson.loads(failed.json["answer"]["body"])["error"]["message"]
    headers = {"cookie": session.cookie, "x-csrf-token": session.csrf}
    assert call(gw.url + "/ui/api/translate", "POST", b'["not", "an", "object"]', headers=headers).status == 400


def test_usage_groups_and_csv(gw: Gateway, traffic: dict[str, str]) -> None:
    session = Session(gw.url)
    rows = session_json(session, "/ui/api/usage?range=24h&by=model")
    mock = next(r for r in rows if r["group"] == "mock-1")
    assert mock["requests"] >= 3 and mock["output_tokens"] > 0
    exported = session.get("/ui/usage.csv?range=24h&by=provider")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.body.decode())))
    assert "mock" in {r["group"] for r in table}
    assert session.get("/ui/api/usage?by=nothing").status == 400


def test_no_secret_in_any_page_or_json(gw: Gateway, traffic: dict[str, str]) -> None:
    session = Session(gw.url)
    for path in (*PAGES, *API, "/ui/api/config", f"/ui/requests/{traffic['chat']}"):
        resp = session.get(path)
        assert resp.status == 200, path
        text = resp.body.decode()
        for secret in SECRETS:
            assert secret not in text, (path, secret)
    config = session.get("/ui/config").body.decode()
    assert "configuration OK" in config and "refusing" in config and REFUSED_KEY[-4:] in config


def test_pages_send_a_strict_content_security_policy(gw: Gateway) -> None:
    resp = Session(gw.url).get("/ui/overview")
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")
    assert resp.headers["x-frame-options"] == "DENY"


def test_static_assets_are_served_from_the_package(gw: Gateway) -> None:
    assert call(gw.url + "/ui/static/uPlot.iife.min.js", "GET").status == 200
    assert call(gw.url + "/ui/static/app.js", "GET").headers["content-type"].startswith("text/javascript")
    assert call(gw.url + "/ui/static/../dashboard.py", "GET").status in (303, 404)


def test_ui_is_on_only_with_admin_keys_unless_configured(tmp_path: Path) -> None:
    assert not ui.enabled(config_from_yaml("server: {auth_keys: [a-client-key-0001]}"))
    assert ui.enabled(config_from_yaml("server: {admin_keys: [an-admin-key-0001]}"))
    assert not ui.enabled(config_from_yaml("server: {admin_keys: [an-admin-key-0001]}\nui: {enabled: false}"))
    off = Gateway(config_from_yaml(f"server: {{data_dir: {tmp_path}}}")).start()
    try:
        assert call(off.url + "/ui/overview", "GET").status == 404
    finally:
        off.stop()


def test_sessions_expire_and_end() -> None:
    async def main() -> None:
        now = [1000.0]
        kv = MemoryKVStore()
        store = SessionStore(lambda: kv, lifetime=60, clock=lambda: now[0])
        session = await store.create()
        assert await store.get(session.token) == session
        assert session.token not in str(kv.__dict__)  # only its hash is a key
        now[0] += 61
        assert await store.get(session.token) is None
        other = await store.create()
        await store.end(other.token)
        assert await store.get(other.token) is None

    asyncio.run(main())


def test_percentile_interpolates_within_a_bin() -> None:
    assert percentile({}, 0.5) is None
    assert percentile({6: 10}, 0.5) == pytest.approx(87.5)  # bin 6 is [75, 100)
