"""The real coding-agent CLIs signed in with a subscription, through passthrough providers.

Each CLI runs the way ``../shared/tools/run_clis.sh`` runs it (the version it pins — the one the
captured requests in ``fixtures/clients`` come from — installed with npm into
``~/.cache/switchyard-clis`` when missing; a clean environment, a fresh HOME, an empty working
directory, non-interactive), signed in with a fake token, its gateway key in the header the CLI
lets users add. The mock upstream answers only a request bearing that token.

- Claude Code: ``CLAUDE_CODE_OAUTH_TOKEN`` and ``ANTHROPIC_CUSTOM_HEADERS``.
- Codex signed in with ChatGPT: an ``auth.json`` of ChatGPT tokens, a provider with
  ``requires_openai_auth = true`` and ``env_http_headers``; the gateway's provider points at the
  Codex backend path of the mock upstream.

Nothing may leave 127.0.0.0/8: every proxy variable and Codex's ``chatgpt_base_url`` point at a
closed local port. Needs npm's registry when a CLI is not installed yet (marker ``npm``); a CLI
that cannot be installed fails the test.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from gateway_harness import CLIENT_KEY, Gateway, closed_port, config_from_yaml
from mock_upstreams import UpstreamHost, fixture_bytes
from strict_upstreams import sse

PREFIX = Path.home() / ".cache" / "switchyard-clis"
CLAUDE = ("@anthropic-ai/claude-code", "2.1.197", "claude")
CODEX = ("@openai/codex", "0.169.0", "codex")
CLAUDE_TOKEN = "sk-ant-oat01-fake-claude-code-subscription-token-0001"
CLAUDE_MODEL = "claude-sonnet-4-5-20250929"
CLAUDE_ANSWER = "Hello through the passthrough gateway."
CODEX_MODEL = "gpt-6.1-sol"
CODEX_ACCOUNT = "acct-fake-chatgpt-0001"
CODEX_STREAM = "openai_responses/stream_plain_text.sse"
CODEX_ANSWER = "Hello! How can I assist you today?"  # the text of CODEX_STREAM
NOWHERE = f"http://127.0.0.1:{closed_port()}"


def cli_binary(package: str, version: str, name: str) -> Path:
    """The pinned CLI, installed the way run_clis.sh installs it when missing."""
    binary = PREFIX / "node_modules" / ".bin" / name
    installed = PREFIX / "node_modules" / package / "package.json"
    if binary.exists() and installed.exists() and orjson.loads(installed.read_bytes()).get("version") == version:
        return binary
    npm = shutil.which("npm")
    assert npm, f"npm is not installed: it is needed to install {package}"
    PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--loglevel=error", f"{package}@{version}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and binary.exists(), f"could not install {package}@{version}: {done.stderr[-2000:]}"
    return binary


def run_cli(binary: Path, args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a CLI in a clean environment with a fresh HOME and an empty working directory."""
    work = home.parent / "work"
    work.mkdir()
    base = {"PATH": f"{binary.parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TERM": "dumb",
            "NO_COLOR": "1", "LANG": "C.UTF-8", "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}  # fmt: skip
    for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        base[proxy] = NOWHERE  # anything not for 127.0.0.1 goes nowhere
    return subprocess.run(
        [str(binary), *args], cwd=work, env={**base, **env}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


Answer = Callable[[web.Request, bytes], Awaitable[web.StreamResponse]]


class TokenChecking:
    """An upstream that answers (with ``answer``) only a request bearing ``token`` as a Bearer
    token, else 401; records every request's headers and body."""

    def __init__(self, token: str, answer: Answer) -> None:
        self.token = token
        self.answer = answer
        self.seen: list[dict[str, str]] = []
        self.bodies: list[bytes] = []
        self.paths: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw = await request.read()
        self.seen.append(headers)
        self.bodies.append(raw)
        self.paths.append(request.path)
        if headers.get("authorization") != f"Bearer {self.token}":
            error = {"type": "error", "error": {"type": "authentication_error", "message": "invalid token"}}
            return web.json_response(error, status=401)
        return await self.answer(request, raw)

    def check(self, done: subprocess.CompletedProcess, answer: str) -> list[dict[str, str]]:
        """Assert the CLI printed ``answer`` once and every upstream request bore the token."""
        report = f"exit {done.returncode}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-1500:]}"
        assert done.returncode == 0 and done.stdout.count(answer) == 1, report
        assert self.seen and all(h.get("authorization") == f"Bearer {self.token}" for h in self.seen), report
        for headers in self.seen:
            assert "x-switchyard-key" not in headers and CLIENT_KEY not in orjson.dumps(headers).decode()
        return self.seen


async def anthropic_answer(request: web.Request, raw: bytes) -> web.StreamResponse:
    body = orjson.loads(raw)
    usage = {"input_tokens": 12, "output_tokens": 7}
    message = {"id": "msg_pt_cli", "type": "message", "role": "assistant", "model": body["model"],
               "content": [{"type": "text", "text": CLAUDE_ANSWER}], "stop_reason": "end_turn",
               "stop_sequence": None, "usage": usage}  # fmt: skip
    if not body.get("stream"):
        return web.json_response(message)
    events: list[tuple[str | None, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": CLAUDE_ANSWER}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 7}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return web.Response(body=sse(events), content_type="text/event-stream")


async def responses_answer(request: web.Request, raw: bytes) -> web.StreamResponse:
    return web.Response(body=fixture_bytes(CODEX_STREAM), content_type="text/event-stream")


@pytest.fixture(scope="module")
def subscriptions(tmp_path_factory) -> Iterator[tuple[Gateway, TokenChecking, TokenChecking]]:
    host = UpstreamHost()
    anthropic = TokenChecking(CLAUDE_TOKEN, anthropic_answer)
    chatgpt = TokenChecking(chatgpt_token(), responses_answer)
    anthropic_url, chatgpt_url = host.serve(anthropic.handle), host.serve(chatgpt.handle)
    yaml = f"""
server: {{auth_keys: ["{CLIENT_KEY}"]}}
providers:
  sub: {{type: anthropic, base_url: "{anthropic_url}", credentials: passthrough, models: [{CLAUDE_MODEL}]}}
  chatgpt:
    type: openai-responses
    base_url: {chatgpt_url}/backend-api/codex
    credentials: passthrough
    models: [{CODEX_MODEL}]
models:
  "claude-*": [sub/{CLAUDE_MODEL}]
"""
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("subscriptions"))).start()
    yield gateway, anthropic, chatgpt
    gateway.stop()
    host.close()


@pytest.mark.npm
def test_claude_code_cli_with_a_subscription_token_completes_a_turn_through_the_gateway(subscriptions, tmp_path):
    gateway, upstream, _ = subscriptions
    claude = cli_binary(*CLAUDE)
    sent: list[bytes] = []  # the bodies as the gateway received them from Claude Code
    gateway.app.observers.append(lambda ctx: sent.append(ctx.raw))
    home = tmp_path / "home"
    home.mkdir()
    done = run_cli(
        claude,
        ["-p", "Say hello", "--model", CLAUDE_MODEL],
        home,
        ANTHROPIC_BASE_URL=gateway.url,
        CLAUDE_CODE_OAUTH_TOKEN=CLAUDE_TOKEN,
        ANTHROPIC_CUSTOM_HEADERS=f"x-switchyard-key: {CLIENT_KEY}",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
    )
    for headers in upstream.check(done, CLAUDE_ANSWER):
        assert "oauth-2025-04-20" in headers.get("anthropic-beta", ""), headers.get("anthropic-beta")
        assert "x-api-key" not in headers
    assert sent == upstream.bodies  # the model declared by the provider: byte for byte


def chatgpt_token() -> str:
    """A fake ChatGPT sign-in token: a JWT with the account claims Codex reads (unsigned)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    auth = {"chatgpt_account_id": CODEX_ACCOUNT, "chatgpt_plan_type": "plus", "chatgpt_user_id": "user-fake"}
    claims = {"email": "someone@example.com", "exp": 4102444800, "https://api.openai.com/auth": auth}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.ZmFrZS1zaWduYXR1cmU"


@pytest.mark.npm
def test_codex_cli_signed_in_with_chatgpt_completes_a_turn_through_the_gateway(subscriptions, tmp_path):
    gateway, _, upstream = subscriptions
    codex = cli_binary(*CODEX)
    home = tmp_path / "home"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    token = chatgpt_token()
    tokens = {"id_token": token, "access_token": token, "refresh_token": "rt-fake", "account_id": CODEX_ACCOUNT}
    refreshed = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # recent: Codex does not refresh
    auth = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": tokens, "last_refresh": refreshed}
    (codex_home / "auth.json").write_bytes(orjson.dumps(auth))
    (codex_home / "config.toml").write_text(f"""model_provider = "switchyard"
model = "{CODEX_MODEL}"
chatgpt_base_url = "{NOWHERE}/backend-api/"

[model_providers.switchyard]
name = "Switchyard"
base_url = "{gateway.url}/v1"
wire_api = "responses"
requires_openai_auth = true
env_http_headers = {{ "x-switchyard-key" = "SWITCHYARD_KEY" }}

[analytics]
enabled = false
""")
    done = run_cli(
        codex,
        ["exec", "--skip-git-repo-check", "Say hello"],
        home,
        CODEX_HOME=str(codex_home),
        SWITCHYARD_KEY=CLIENT_KEY,
    )
    for headers in upstream.check(done, CODEX_ANSWER):
        assert headers.get("chatgpt-account-id") == CODEX_ACCOUNT
    assert upstream.paths and set(upstream.paths) == {"/backend-api/codex/responses"}
