"""The real Claude Code CLI signed in with a subscription token, through a passthrough provider.

Claude Code runs the way ``../shared/tools/run_clis.sh`` runs it (the version it pins, the one the
captured requests in ``fixtures/clients`` come from, installed with npm into
``~/.cache/switchyard-clis`` when missing; a clean environment, a fresh HOME, an
empty working directory, ``-p``), with ``CLAUDE_CODE_OAUTH_TOKEN`` set to a fake token and its
gateway key in ``ANTHROPIC_CUSTOM_HEADERS``. The mock Anthropic upstream answers only a request
bearing that token. Needs npm's registry when the CLI is not installed yet (marker ``npm``); a
CLI that cannot be installed fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml
from mock_upstreams import UpstreamHost
from test_server_fieldcache import sse

CLAUDE_VERSION = "2.1.197"
PREFIX = Path.home() / ".cache" / "switchyard-clis"
TOKEN = "sk-ant-oat01-fake-claude-code-subscription-token-0001"
MODEL = "claude-sonnet-4-5-20250929"
ANSWER = "Hello through the passthrough gateway."


def claude_binary() -> Path:
    """The pinned Claude Code CLI, installed the way run_clis.sh installs it when missing."""
    binary = PREFIX / "node_modules" / ".bin" / "claude"
    installed = PREFIX / "node_modules" / "@anthropic-ai" / "claude-code" / "package.json"
    if binary.exists() and orjson.loads(installed.read_bytes()).get("version") == CLAUDE_VERSION:
        return binary
    npm = shutil.which("npm")
    assert npm, "npm is not installed: it is needed to install the Claude Code CLI"
    PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--loglevel=error",
         f"@anthropic-ai/claude-code@{CLAUDE_VERSION}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and binary.exists(), f"could not install the Claude Code CLI: {done.stderr[-2000:]}"
    return binary


class TokenCheckingAnthropic:
    """Answers a Messages request (streamed or not) with ``ANSWER`` when it bears ``TOKEN`` as a
    Bearer token, else 401 as Anthropic does; records each request's headers."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.bodies: list[bytes] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append(headers)
        if headers.get("authorization") != f"Bearer {TOKEN}":
            error = {"type": "error", "error": {"type": "authentication_error", "message": "invalid token"}}
            return web.json_response(error, status=401)
        raw = await request.read()
        self.bodies.append(raw)
        body = orjson.loads(raw)
        usage = {"input_tokens": 12, "output_tokens": 7}
        message = {"id": "msg_pt_cli", "type": "message", "role": "assistant", "model": body["model"],
                   "content": [{"type": "text", "text": ANSWER}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}  # fmt: skip
        if not body.get("stream"):
            return web.json_response(message)
        events: list[tuple[str | None, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ANSWER}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": 7}}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        return web.Response(body=sse(events), content_type="text/event-stream")


@pytest.fixture(scope="module")
def subscription_gateway(tmp_path_factory) -> Iterator[tuple[Gateway, TokenCheckingAnthropic]]:
    host = UpstreamHost()
    upstream = TokenCheckingAnthropic()
    url = host.serve(upstream.handle)
    yaml = f"""
server: {{auth_keys: ["{CLIENT_KEY}"]}}
providers:
  sub: {{type: anthropic, base_url: "{url}", credentials: passthrough, models: [{MODEL}]}}
models:
  "claude-*": [sub/{MODEL}]
"""
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("claude-cli"))).start()
    yield gateway, upstream
    gateway.stop()
    host.close()


@pytest.mark.npm
def test_claude_code_cli_with_a_subscription_token_completes_a_turn_through_the_gateway(subscription_gateway, tmp_path):
    gateway, upstream = subscription_gateway
    claude = claude_binary()
    sent: list[bytes] = []  # the bodies as the gateway received them from Claude Code
    gateway.app.observers.append(lambda ctx: sent.append(ctx.raw))
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {
        "PATH": f"{claude.parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "dumb",
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": gateway.url,
        "CLAUDE_CODE_OAUTH_TOKEN": TOKEN,
        "ANTHROPIC_CUSTOM_HEADERS": f"x-switchyard-key: {CLIENT_KEY}",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    done = subprocess.run(
        [str(claude), "-p", "Say hello", "--model", MODEL],
        cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    report = f"exit {done.returncode}\nstdout: {done.stdout[-1500:]}\nstderr: {done.stderr[-1500:]}"
    assert done.returncode == 0 and done.stdout.count(ANSWER) == 1, report
    turns = [h for h in upstream.seen if h.get("authorization") == f"Bearer {TOKEN}"]
    assert turns and len(turns) == len(upstream.seen), "every upstream request bore the subscription token"
    for headers in turns:
        assert "oauth-2025-04-20" in headers.get("anthropic-beta", ""), headers.get("anthropic-beta")
        assert "x-api-key" not in headers and "x-switchyard-key" not in headers
        assert CLIENT_KEY not in orjson.dumps(headers).decode()
    assert sent == upstream.bodies  # the model declared by the provider: byte for byte
