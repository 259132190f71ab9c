"""Quotas through a running gateway, with the official SDKs as clients.

The upstream counts the requests each key sends; the gateway's quota clock is injected
(``app.quotas.wall``) to move past a window without waiting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import openai
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml
from gateway_process import SOURCE
from google import genai
from google.genai import types as gtypes
from quota_upstream import QuotaUpstream
from test_quota_learned import gemini_quota_error

ADMIN = "sy-admin-key-for-quota-tests"
KEYS = ["sk-quota-key-0001", "sk-quota-key-0002", "sk-quota-key-0003"]
BACKUP = "sk-quota-backup-0001"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def gateway_yaml(url: str, ptype: str = "openai", keys: list[str] = KEYS, quotas: str = "[]") -> str:
    base = f"{url}/v1" if ptype == "openai" else url
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
  admin_keys: ["{ADMIN}"]
routing:
  retries: 3
providers:
  up:
    type: {ptype}
    base_url: {base}
    api_keys: {keys}
    quotas: {quotas}
  backup:
    type: openai
    base_url: {url}/v1
    api_keys: ["{BACKUP}"]
models:
  with-fallback: [up/gpt-q, backup/gpt-backup]
"""


@pytest.fixture
def start(upstream: QuotaUpstream, tmp_path: Path) -> Iterator:
    running: list[Gateway] = []

    def make(text: str) -> tuple[Gateway, Clock]:
        upstream.reset()
        gw = Gateway(config_from_yaml(text, base_dir=tmp_path))
        clock = Clock()
        gw.app.quotas.wall = clock
        running.append(gw.start())
        return gw, clock

    yield make
    for gw in running:
        gw.stop()


def chat(gw: Gateway, model: str = "up/gpt-q") -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def admin_keys(gw: Gateway) -> dict:
    result = call(gw.url + "/admin/keys", "GET", headers={"authorization": f"Bearer {ADMIN}"})
    assert result.status == 200
    return result.json


FIVE_PER_MINUTE = "[{requests: 5, window: 1m}]"


def test_the_sixteenth_request_is_refused_without_an_upstream_call(upstream: QuotaUpstream, start) -> None:
    gw, clock = start(gateway_yaml(upstream.url, quotas=FIVE_PER_MINUTE))
    for _ in range(15):
        assert chat(gw).choices[0].message.content.startswith("hello from")
    assert [upstream.seen[k] for k in KEYS] == [5, 5, 5]
    with pytest.raises(openai.RateLimitError) as caught:
        chat(gw)
    assert upstream.total == 15  # refused by the gateway: no 429 round trip
    assert caught.value.status_code == 429
    assert "exhausted quota" in caught.value.message
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    # the window ends: every key is offered again
    clock.now += 61
    chat(gw)
    assert upstream.total == 16


def test_the_sixteenth_request_falls_back_when_a_group_has_another_target(upstream: QuotaUpstream, start) -> None:
    gw, _ = start(gateway_yaml(upstream.url, quotas=FIVE_PER_MINUTE))
    for _ in range(15):
        chat(gw, "with-fallback")
    assert upstream.seen[BACKUP] == 0
    answer = chat(gw, "with-fallback")
    assert answer.choices[0].message.content == "hello from 0001" and upstream.seen[BACKUP] == 1
    assert sum(upstream.seen[k] for k in KEYS) == 15


def test_admin_keys_and_the_cli_show_used_left_and_reset(upstream: QuotaUpstream, start, tmp_path: Path) -> None:
    rule = "[{requests: 5, window: 1d, reset: '00:00 America/Los_Angeles'}, {tokens: 1000, window: 1h}]"
    text = gateway_yaml(upstream.url, quotas=rule)
    gw, clock = start(text)
    for _ in range(4):
        chat(gw)
    for index, expected in enumerate((18, 9, 9)):
        tokens_used(gw, expected, index)
    keys = admin_keys(gw)["up"]
    first = keys[0]
    assert first["key"] not in KEYS and first["key"].endswith(KEYS[0][-4:])  # masked, as everywhere
    requests, tokens = first["quotas"]
    midnight = _next_midnight_los_angeles(clock.now)
    assert requests == {
        "quota": "5 requests / 1d from 00:00 America/Los_Angeles",
        "models": ["*"],
        "metric": "requests",
        "limit": 5,
        "used": 2,
        "left": 3,
        "resets_at": midnight,
    }
    assert (tokens["metric"], tokens["limit"], tokens["used"], tokens["left"]) == ("tokens", 1000, 18, 982)
    assert [k["quotas"][0]["used"] for k in keys] == [2, 1, 1]
    config = tmp_path / "switchyard.yaml"
    config.write_text(text)
    out = subprocess.run(
        [sys.executable, "-m", "switchyard.cli", "keys", "--config", str(config), "--url", gw.url],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE},
        timeout=30,
        check=True,
    ).stdout
    assert (
        f"5 requests / 1d from 00:00 America/Los_Angeles [*]: requests used 2 of 5, left 3, resets at {midnight}" in out
    )
    assert "1000 tokens / 1h [*]: tokens used 18 of 1000, left 982, resets at" in out
    assert KEYS[0] not in out


def _next_midnight_los_angeles(now: float) -> str:
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(now, ZoneInfo("America/Los_Angeles"))
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ZoneInfo("America/Los_Angeles"))
    return midnight.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_openai_headers_saying_nothing_is_left_hold_the_key_back(upstream: QuotaUpstream, start) -> None:
    gw, _ = start(gateway_yaml(upstream.url, keys=KEYS[:2]))
    upstream.headers[KEYS[0]] = {
        "x-ratelimit-limit-requests": "200",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2h0m0s",
    }
    for _ in range(4):
        chat(gw)
    assert (upstream.seen[KEYS[0]], upstream.seen[KEYS[1]]) == (1, 3)
    learned = [q for q in admin_keys(gw)["up"][0]["quotas"] if q["quota"] == "learned (headers)"]
    assert [(q["metric"], q["limit"], q["used"], q["left"]) for q in learned] == [("requests", 200, 200, 0)]


def test_anthropic_headers_saying_nothing_is_left_hold_the_key_back(upstream: QuotaUpstream, start) -> None:
    gw, _ = start(gateway_yaml(upstream.url, "anthropic", KEYS[:2]))
    reset = (datetime.now(UTC) + timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    upstream.headers[KEYS[0]] = {
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": reset,
    }
    client = anthropic.Anthropic(base_url=gw.url, api_key=CLIENT_KEY, max_retries=0, timeout=20)
    for _ in range(4):
        client.messages.create(model="up/claude-q", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert (upstream.seen[KEYS[0]], upstream.seen[KEYS[1]]) == (1, 3)
    held = [q for q in admin_keys(gw)["up"][0]["quotas"] if q["metric"] == "held back"]
    assert held[0]["quota"] == "upstream: 0 input-tokens left" and held[0]["left"] == 0


def test_a_gemini_quota_error_holds_the_key_back_and_names_the_quota(upstream: QuotaUpstream, start) -> None:
    gw, clock = start(gateway_yaml(upstream.url, "gemini", KEYS[:2]))
    clock.now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC).timestamp()  # 05:00 in Los Angeles
    error = gemini_quota_error("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "30s")
    upstream.errors[KEYS[0]] = (
        429,
        {"error": {"code": 429, "message": error.message, "status": "RESOURCE_EXHAUSTED", "details": error.details}},
    )
    client = genai.Client(
        api_key=CLIENT_KEY,
        http_options=gtypes.HttpOptions(
            base_url=gw.url, api_version="v1beta", timeout=20_000, retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    for _ in range(3):
        answer = client.models.generate_content(model="up/gemini-2.5-pro", contents="hi")
        assert answer.text == "hello from 0002"
    assert (upstream.seen[KEYS[0]], upstream.seen[KEYS[1]]) == (1, 3)
    learned = [q for q in admin_keys(gw)["up"][0]["quotas"] if q["quota"].startswith("learned")]
    assert learned[0]["quota"] == "learned (GenerateRequestsPerDayPerProjectPerModel-FreeTier)"
    assert (learned[0]["limit"], learned[0]["left"]) == (50, 0)
    assert learned[0]["resets_at"] == "2026-07-02T07:00:00Z"


def test_a_token_quota_counts_streamed_usage_and_stops_the_key(upstream: QuotaUpstream, start) -> None:
    gw, _ = start(gateway_yaml(upstream.url, keys=KEYS[:1], quotas="[{tokens: 20, window: 1h}]"))
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=20)

    def stream() -> None:
        chunks = client.chat.completions.create(
            model="up/gpt-q",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        assert any(c.usage is not None and c.usage.total_tokens == 9 for c in chunks)

    for used in (9, 18, 27):  # 9 tokens each; a window below its limit takes one more request
        stream()
        tokens_used(gw, used)
    with pytest.raises(openai.RateLimitError):
        stream()
    assert upstream.total == 3


def tokens_used(gw: Gateway, expected: int, key: int = 0) -> None:
    """Wait until a key's token quota shows ``expected`` (counted once the exchange is over)."""
    deadline = time.monotonic() + 5
    while True:
        used = [q["used"] for q in admin_keys(gw)["up"][key]["quotas"] if q["metric"] == "tokens"]
        if used == [expected] or time.monotonic() > deadline:
            assert used == [expected]
            return
        time.sleep(0.05)
