"""Clients' own credentials (``credentials: passthrough | either``) through a running gateway.

The mock upstreams record what they receive: the client's own credential in the provider's
scheme, the headers that belong to it, and never the gateway key or its header. The gateway key
travels in ``x-switchyard-key`` (the gateway requires one: ``CLIENT_KEY``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml
from mock_upstreams import FIXTURES, MockUpstream, Reply, UpstreamHost
from strict_upstreams import StrictAnthropic
from test_server_fieldcache import WEATHER_OPENAI
from test_server_usage import row

from switchyard.keys.passthrough import SECRET_FILE, CredentialIds, installation_secret

CLIENTS = FIXTURES / "clients"  # real CLI requests (copies of ../shared/protocols/clients)
GATEWAY_HEADER = "x-switchyard-key"
LIMITED_KEY = "sy-limited-passthrough-key"
POOL_KEY = "sk-ant-gateway-pool-key-0001"
OAUTH_TOKEN = "sk-ant-oat01-fake-subscription-token-for-tests-0001"
ANTHROPIC_KEY = "sk-ant-api03-clients-own-anthropic-key-0001"
OPENAI_KEY = "sk-proj-clients-own-openai-key-0001"
GEMINI_KEY = "AIzaSyClientsOwnGeminiKey000000000001"
CHATGPT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJjaGF0Z3B0IjoidGVzdCJ9.ZmFrZS1zaWduYXR1cmU"
CODEX_BACKEND = "/backend-api/codex"
"""Where Codex signed in with ChatGPT sends its requests (``https://chatgpt.com/backend-api/codex``)."""
OAUTH_BETA = "oauth-2025-04-20,claude-code-20250219,interleaved-thinking-2025-05-14"
CLAUDE_CODE_MODELS = ("claude-opus-4-8", "claude-sonnet-4-5-20250929")
ANTHROPIC_STREAM = "anthropic/stream_plain_text.sse"


def gateway_config(up: dict[str, MockUpstream], strict_url: str) -> str:
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}", {{key: "{LIMITED_KEY}", name: limited-pt, limits: {{rpm: 1}}}}]
observability: {{trace: true}}
routing:
  retries: 1
  timeouts: {{first_byte: 3, stall: 3, request: 20}}
  cooldown: {{base: 0.01, max: 0.05}}
providers:
  anp:
    type: anthropic
    base_url: {up["anthropic"].url}
    credentials: passthrough
    models: [{", ".join(CLAUDE_CODE_MODELS)}]
  ane:
    type: anthropic
    base_url: {up["anthropic"].url}
    credentials: either
    api_keys: ["{POOL_KEY}"]
  codex:
    type: openai-responses
    base_url: {up["openai_responses"].url}{CODEX_BACKEND}
    credentials: passthrough
    models: [gpt-6.1-sol]
  ocp: {{type: openai, base_url: "{up["openai_chat"].url}/v1", credentials: passthrough}}
  gmp: {{type: gemini, base_url: "{up["gemini"].url}", credentials: passthrough}}
  strict-pt: {{type: anthropic, base_url: "{strict_url}", credentials: passthrough}}
"""


@pytest.fixture(scope="module")
def strict() -> Iterator[tuple[StrictAnthropic, str]]:
    host = UpstreamHost()
    upstream = StrictAnthropic()
    yield upstream, host.serve(upstream.handle)
    host.close()


@pytest.fixture(scope="module")
def pt(upstream_host, strict, tmp_path_factory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("passthrough")
    gateway = Gateway(config_from_yaml(gateway_config(upstream_host, strict[1]), base_dir=base)).start()
    yield gateway
    gateway.stop()


def own(credential_header: dict[str, str], **more: str) -> dict[str, str]:
    """Request headers: the client's own credential, its gateway key, and ``more``."""
    return {**credential_header, GATEWAY_HEADER: CLIENT_KEY, **more}


def assert_no_gateway_key(headers: dict[str, str]) -> None:
    assert GATEWAY_HEADER not in headers
    assert not any(CLIENT_KEY in value for value in headers.values())


# ---------------------------------------------------------------------------- what goes upstream


def test_anthropic_sdk_own_key_goes_upstream_as_x_api_key(pt, upstreams):
    sdk = anthropic.Anthropic(
        base_url=pt.url, api_key=ANTHROPIC_KEY, max_retries=0, default_headers={GATEWAY_HEADER: CLIENT_KEY}
    )
    answer = sdk.beta.messages.create(
        model="anp/claude-x",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        betas=["files-api-2025-04-14"],
    )
    assert answer.content
    rec = upstreams["anthropic"].last
    assert rec.headers["x-api-key"] == ANTHROPIC_KEY and "authorization" not in rec.headers
    assert rec.headers["anthropic-beta"] == "files-api-2025-04-14"
    assert_no_gateway_key(rec.headers)


def claude_code_bodies() -> list[Path]:
    return sorted(CLIENTS.glob("claude_code/*/*_v1_messages.body.json"))


@pytest.mark.parametrize("compact", [False, True], ids=["as-captured", "compact"])
@pytest.mark.parametrize("path", claude_code_bodies(), ids=lambda p: f"{p.parent.name}/{p.name[:2]}")
def test_claude_code_subscription_request_reaches_the_upstream_byte_for_byte(pt, upstreams, path, compact):
    raw = path.read_bytes()
    if compact:  # Claude Code sends compact JSON; the capture is pretty-printed: both must pass untouched
        raw = orjson.dumps(orjson.loads(raw))
    body = orjson.loads(raw)
    assert body["model"] in CLAUDE_CODE_MODELS
    headers = own(
        {"authorization": f"Bearer {OAUTH_TOKEN}"},
        **{"anthropic-beta": OAUTH_BETA, "anthropic-version": "2023-06-01", "x-app": "cli"},
    )
    resp = call(pt.url + "/v1/messages?beta=true", "POST", raw, headers)
    assert resp.status == 200, resp.body
    rec = upstreams["anthropic"].last
    assert rec.body == raw  # byte for byte: nothing added, removed or reordered
    assert rec.headers["authorization"] == f"Bearer {OAUTH_TOKEN}" and "x-api-key" not in rec.headers
    assert rec.headers["anthropic-beta"] == OAUTH_BETA
    assert_no_gateway_key(rec.headers)


def test_claude_code_body_with_a_routed_model_keeps_every_other_byte(pt, upstreams):
    captured = CLIENTS / "claude_code/tool_call/03_v1_messages.body.json"
    raw = captured.read_bytes().replace(b'"model": "claude-opus-4-8"', b'"model": "anp/claude-opus-4-8"', 1)
    headers = own({"authorization": f"Bearer {OAUTH_TOKEN}"}, **{"anthropic-beta": OAUTH_BETA})
    assert call(pt.url + "/v1/messages?beta=true", "POST", raw, headers).status == 200
    assert upstreams["anthropic"].last.body == captured.read_bytes()  # only the model's value changed


def test_claude_code_token_count_goes_upstream_with_the_subscription_token(pt, upstreams):
    upstreams["anthropic"].queue(Reply(body=b'{"input_tokens": 42}'))
    body = {"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}]}
    headers = own({"authorization": f"Bearer {OAUTH_TOKEN}"}, **{"anthropic-beta": OAUTH_BETA})
    resp = call(pt.url + "/v1/messages/count_tokens?beta=true", "POST", body, headers)
    assert resp.status == 200 and resp.json == {"input_tokens": 42}
    rec = upstreams["anthropic"].last
    assert rec.path == "/v1/messages/count_tokens" and rec.headers["authorization"] == f"Bearer {OAUTH_TOKEN}"
    assert_no_gateway_key(rec.headers)


def test_codex_chatgpt_sign_in_reaches_the_codex_backend_with_its_headers(pt, upstreams):
    raw = (CLIENTS / "codex/hello/01_v1_responses.body.json").read_bytes()
    account = {
        "chatgpt-account-id": "acct-test-0001",
        "openai-organization": "org-test",
        "openai-project": "proj-test",
        "originator": "codex_exec",
        "session_id": "01a20665-60af-7143-a655-51273edf2b67",
    }
    resp = call(pt.url + "/v1/responses", "POST", raw, own({"authorization": f"Bearer {CHATGPT_TOKEN}"}, **account))
    assert resp.status == 200, resp.body
    rec = upstreams["openai_responses"].last
    assert rec.path == CODEX_BACKEND + "/responses"
    assert rec.body == raw
    assert rec.headers["authorization"] == f"Bearer {CHATGPT_TOKEN}"
    assert {name: rec.headers.get(name) for name in account} == account
    assert_no_gateway_key(rec.headers)


def test_openai_sdk_own_key_goes_with_its_organization_and_project(pt, upstreams):
    sdk = openai.OpenAI(
        base_url=pt.url + "/v1",
        api_key=OPENAI_KEY,
        organization="org-own",
        project="proj-own",
        max_retries=0,
        default_headers={GATEWAY_HEADER: CLIENT_KEY},
    )
    sdk.chat.completions.create(model="ocp/gpt-own", messages=[{"role": "user", "content": "hi"}])
    rec = upstreams["openai_chat"].last
    assert rec.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert rec.headers["openai-organization"] == "org-own" and rec.headers["openai-project"] == "proj-own"
    assert_no_gateway_key(rec.headers)


@pytest.mark.parametrize("in_query", [False, True], ids=["x-goog-api-key", "key-parameter"])
def test_gemini_own_key_goes_upstream_as_x_goog_api_key(pt, upstreams, in_query):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    path = "/v1beta/models/gmp/gemini-own:generateContent"
    sent = own({"x-goog-user-project": "own-project"} if in_query else {"x-goog-api-key": GEMINI_KEY})
    resp = call(pt.url + path + (f"?key={GEMINI_KEY}" if in_query else ""), "POST", body, sent)
    assert resp.status == 200, resp.body
    rec = upstreams["gemini"].last
    assert rec.headers["x-goog-api-key"] == GEMINI_KEY and rec.path.endswith("/gemini-own:generateContent")
    assert GEMINI_KEY not in rec.query and rec.headers.get("x-goog-user-project") == sent.get("x-goog-user-project")
    assert_no_gateway_key(rec.headers)


def test_anthropic_token_crosses_protocols_to_an_anthropic_upstream(pt, upstreams):
    sdk = openai.OpenAI(
        base_url=pt.url + "/v1", api_key=OAUTH_TOKEN, max_retries=0, default_headers={GATEWAY_HEADER: CLIENT_KEY}
    )
    answer = sdk.chat.completions.create(model="anp/claude-x", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    rec = upstreams["anthropic"].last
    assert rec.path == "/v1/messages" and rec.json["messages"][0]["role"] == "user"
    assert rec.headers["authorization"] == f"Bearer {OAUTH_TOKEN}"
    assert_no_gateway_key(rec.headers)


def test_anthropic_token_is_refused_for_an_openai_upstream(pt, upstreams):
    resp = call(
        pt.url + "/v1/chat/completions",
        "POST",
        {"model": "ocp/gpt-own", "messages": [{"role": "user", "content": "hi"}]},
        own({"authorization": f"Bearer {ANTHROPIC_KEY}"}),
    )
    assert resp.status == 401
    assert "not one for provider 'ocp'" in resp.json["error"]["message"]
    assert not upstreams["openai_chat"].requests


def test_either_uses_the_pool_without_a_client_credential_and_the_clients_own_with_one(pt, upstreams):
    body = {"model": "ane/claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    assert call(pt.url + "/v1/messages", "POST", body, {"x-api-key": CLIENT_KEY}).status == 200
    assert upstreams["anthropic"].last.headers["x-api-key"] == POOL_KEY
    assert call(pt.url + "/v1/messages", "POST", body, own({"x-api-key": ANTHROPIC_KEY})).status == 200
    assert upstreams["anthropic"].last.headers["x-api-key"] == ANTHROPIC_KEY


# ---------------------------------------------------------------------------- refusals


MISSING = {
    "anthropic": ("/v1/messages", {"model": "anp/c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
    "openai_chat": ("/v1/chat/completions", {"model": "ocp/g", "messages": [{"role": "user", "content": "x"}]}),
    "openai_responses": ("/v1/responses", {"model": "codex/gpt-6.1-sol", "input": "x"}),
    "gemini": ("/v1beta/models/gmp/g:generateContent", {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}),
}


@pytest.mark.parametrize("protocol", MISSING)
def test_passthrough_without_a_credential_is_401_in_the_clients_shape(pt, upstreams, protocol):
    path, body = MISSING[protocol]
    resp = call(pt.url + path, "POST", body, {"x-api-key": CLIENT_KEY})  # the gateway key alone
    assert resp.status == 401
    error = resp.json["error"]
    if protocol == "anthropic":
        assert resp.json["type"] == "error" and error["type"] == "authentication_error"
    elif protocol == "gemini":
        assert error["status"] == "UNAUTHENTICATED" and error["code"] == 401
    else:
        assert error["type"] in ("authentication_error", "invalid_request_error")
    message = error["message"]
    assert "none was sent" in message and "'Authorization: Bearer <credential>'" in message
    assert GATEWAY_HEADER in message
    assert not any(up.requests for up in upstreams.values())


def test_a_credential_without_the_gateway_key_is_refused_and_told_where_the_key_goes(pt, upstreams):
    path, body = MISSING["anthropic"]
    resp = call(pt.url + path, "POST", body, {"authorization": f"Bearer {OAUTH_TOKEN}"})
    assert resp.status == 401
    message = resp.json["error"]["message"]
    assert "invalid API key" in message and GATEWAY_HEADER in message and OAUTH_TOKEN not in resp.body.decode()
    assert not upstreams["anthropic"].requests


def test_an_upstream_refusal_of_the_clients_credential_is_its_401_and_does_not_disable_it(pt, upstreams):
    refusal = {
        "type": "error",
        "error": {"type": "authentication_error", "message": f"invalid x-api-key {ANTHROPIC_KEY}"},
    }
    upstreams["anthropic"].queue(Reply(status=401, body=orjson.dumps(refusal)))
    path, body = MISSING["anthropic"]
    first = call(pt.url + path, "POST", body, own({"x-api-key": ANTHROPIC_KEY}))
    assert first.status == 401 and first.json["error"]["type"] == "authentication_error"
    assert ANTHROPIC_KEY not in first.body.decode() and "[REDACTED]" in first.json["error"]["message"]
    second = call(pt.url + path, "POST", body, own({"x-api-key": ANTHROPIC_KEY}))
    assert second.status == 200 and len(upstreams["anthropic"].requests) == 2  # not disabled


# ---------------------------------------------------------------------------- isolation


def test_two_clients_with_different_credentials_never_share_cooldowns(pt, upstreams):
    a, b = "sk-ant-api03-client-a-cooling-0001", "sk-ant-api03-client-b-healthy-0001"
    body = {"model": "anp/claude-cool", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    limited = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    upstreams["anthropic"].queue(Reply(status=429, body=orjson.dumps(limited), headers={"retry-after": "30"}))
    assert call(pt.url + "/v1/messages", "POST", body, own({"x-api-key": a})).status == 429
    again = call(pt.url + "/v1/messages", "POST", body, own({"x-api-key": a}))
    assert again.status == 429 and len(upstreams["anthropic"].requests) == 1  # A cools: not sent
    assert call(pt.url + "/v1/messages", "POST", body, own({"x-api-key": b})).status == 200
    assert [r.headers["x-api-key"] for r in upstreams["anthropic"].requests] == [a, b]


def chat_turn(gateway: Gateway, credential: str, messages: list[dict[str, Any]]) -> Any:
    sdk = openai.OpenAI(
        base_url=gateway.url + "/v1",
        api_key=credential,
        max_retries=0,
        default_headers={GATEWAY_HEADER: CLIENT_KEY, "x-session-id": "one-shared-session"},
    )
    return (
        sdk.chat.completions.create(
            model="strict-pt/claude-strict", messages=messages, tools=[WEATHER_OPENAI], reasoning_effort="medium"
        )
        .choices[0]
        .message
    )


def test_two_clients_with_different_credentials_never_share_field_cache_state(pt, strict):
    """The strict upstream refuses an assistant tool turn without the thinking it was issued with:
    the gateway restores it from the field cache for the credential it was issued to only."""
    upstream, _ = strict
    a, b = "sk-ant-api03-client-a-fieldcache-0001", "sk-ant-api03-client-b-fieldcache-0001"
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris please"}]
    answer = chat_turn(pt, a, messages)
    call_ = answer.tool_calls[0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call_.model_dump()]},
        {"role": "tool", "tool_call_id": call_.id, "content": "sunny"},
    ]
    with pytest.raises(openai.BadRequestError):  # B, same session: nothing of A's is injected
        chat_turn(pt, b, messages)
    sent = [block for m in upstream.bodies[-1]["messages"] if isinstance(m["content"], list) for block in m["content"]]
    assert sent and not any(block.get("type") == "thinking" for block in sent)
    assert chat_turn(pt, a, messages) is not None  # A gets its own thinking back: accepted


# ---------------------------------------------------------------------------- governance and secrets


def test_client_key_limits_apply_to_passthrough_requests(pt, upstreams):
    path, body = MISSING["anthropic"]
    headers = {"x-api-key": ANTHROPIC_KEY, GATEWAY_HEADER: LIMITED_KEY}
    first = call(pt.url + path, "POST", body, headers)
    assert first.status == 200
    second = call(pt.url + path, "POST", body, headers)
    assert second.status == 429 and second.json["error"]["type"] == "rate_limit_error"
    assert len(upstreams["anthropic"].requests) == 1
    logged = row(pt, first.headers["x-request-id"])
    assert logged["client_key_name"] == "limited-pt"
    assert logged["key_id"] == CredentialIds(installation_secret(pt.config.server.data_dir))(ANTHROPIC_KEY).id


def test_secrets_scan_finds_the_credential_only_in_the_upstream_request(pt, upstreams, caplog):
    canary = "pt-canary-Zq8vWm3Kx7Rb2Tn5Ly9Hd4"  # no provider's key pattern: only exact redaction catches it
    caplog.set_level(logging.DEBUG)
    path, _ = MISSING["anthropic"]
    pasted = f"is my key {canary} still valid?"  # a user pasting it: the trace of the request must not keep it
    body = {"model": "anp/c", "max_tokens": 5, "messages": [{"role": "user", "content": pasted}]}
    echo = {"type": "error", "error": {"type": "permission_error", "message": f"{canary} may not use this model"}}
    upstreams["anthropic"].queue(
        Reply(status=403, body=orjson.dumps(echo)),
        Reply(
            status=529, body=orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": canary}})
        ),
    )
    answers = [call(pt.url + path, "POST", body, own({"x-api-key": canary})) for _ in range(3)]
    stream = {**body, "stream": True}
    answers.append(call(pt.url + path, "POST", stream, own({"authorization": f"Bearer {canary}"})))
    assert [a.status for a in answers] == [403, 200, 200, 200]  # the 529 was retried
    assert all(r.headers["x-api-key"] == canary for r in upstreams["anthropic"].requests[:3])
    metrics = call(pt.url + "/metrics", "GET", headers={"authorization": f"Bearer {CLIENT_KEY}"})
    keys = call(pt.url + "/admin/keys", "GET", headers={"authorization": f"Bearer {CLIENT_KEY}"})
    for rid in {a.headers["x-request-id"] for a in answers}:
        assert row(pt, rid)["key_id"].startswith("pt-")
    pt.app.tracer.flush_sync()
    seen = [a.body + orjson.dumps(a.headers) for a in (*answers, metrics, keys)]
    seen += [p.read_bytes() for p in pt.config.server.data_dir.rglob("*") if p.is_file()]
    seen.append(caplog.text.encode())
    assert (pt.config.server.data_dir / "traces").is_dir()
    assert not [s[:200] for s in seen if canary.encode() in s]


def test_installation_secret_is_private_stable_and_keys_the_ids(tmp_path):
    secret = installation_secret(tmp_path)
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert installation_secret(tmp_path) == secret
    ids = CredentialIds(secret)
    other = CredentialIds(installation_secret(tmp_path / "another-installation"))
    assert ids("sk-one").id == ids("sk-one").id != ids("sk-two").id
    assert ids("sk-one").id != other("sk-one").id and ids("sk-one").id.startswith("pt-")
    assert "sk-one" not in repr(ids("sk-one"))
