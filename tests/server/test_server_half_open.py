"""Issue 13 item 9 — recovery after transient failures (the half-open probe).

Three 5xx in a row on the only key of the only target cool it (cooldowns here are long: 30 s).
The next request used to be refused with a 429 "cooling down after rate limits" — a guaranteed
failure with a wrong cause, even with the upstream healthy again. Now, when every candidate key
is cooling only because of transient failures, the request goes to the key whose cooldown ends
first; a success clears the run of failures, a failure cools the key again and the client gets
the upstream's real error. Rate limits are not probed. Messages name the real cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml
from mock_upstreams import Reply, fixture_reply

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
BUSY = Reply(status=503, body=b'{"error":{"message":"upstream busy","type":"server_error"}}')


@pytest.fixture(scope="module")
def solo(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    yaml = f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
routing:
  retries: 2
  timeouts: {{first_byte: 5, stall: 5, request: 20}}
  cooldown: {{base: 30, max: 300}}
providers:
  solo:
    type: openai
    base_url: {upstream_host["faulty"].url}/v1
    api_keys: ["sk-solo-key-0001"]
  pair:
    type: openai
    base_url: {upstream_host["faulty"].url}/v1
    api_keys: ["sk-pair-key-0001", "sk-pair-key-0002"]
  backup:
    type: openai
    base_url: {upstream_host["backup"].url}/v1
    api_keys: ["sk-backup-key-0001"]
models:
  group: [solo/gpt-x, backup/gpt-b]
"""
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("half_open"))).start()
    yield gateway
    gateway.stop()


@pytest.fixture
def fresh(solo, upstreams) -> Gateway:
    for pool in solo.app.pipeline.pools.values():
        for state in pool.keys:
            state.disabled, state.cool_until, state.transient_streak, state.probing = None, 0.0, 0, False
            state.model_cool_until.clear()
            state.model_strikes.clear()
    return solo


def chat(gateway: Gateway, model: str = "solo/gpt-x"):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return call(gateway.url + "/v1/chat/completions", "POST", body, AUTH)


def key_state(gateway: Gateway, provider: str = "solo") -> dict:
    return gateway.app.pipeline.pools[provider].snapshot()[0]


def cool_by_three_5xx(gateway: Gateway, upstreams) -> None:
    upstreams["faulty"].queue(BUSY, BUSY, BUSY)
    resp = chat(gateway)
    assert resp.status == 503 and "upstream busy" in resp.json["error"]["message"]
    assert key_state(gateway)["status"] == "cooling"
    upstreams["faulty"].reset()


def test_half_open_probe_after_three_5xx_reaches_the_recovered_upstream(fresh, upstreams):
    cool_by_three_5xx(fresh, upstreams)
    resp = chat(fresh)  # the upstream is healthy again: the probe succeeds
    assert resp.status == 200, resp.body
    assert len(upstreams["faulty"].requests) == 1
    state = key_state(fresh)
    assert state["status"] == "healthy" and state["cooling_for_s"] == 0  # the failure run is cleared
    assert chat(fresh).status == 200 and len(upstreams["faulty"].requests) == 2


def test_half_open_probe_that_fails_gives_the_real_error_and_cools_longer(fresh, upstreams):
    cool_by_three_5xx(fresh, upstreams)
    first_cooldown = key_state(fresh)["cooling_for_s"]
    upstreams["faulty"].queue(BUSY)
    resp = chat(fresh)
    assert resp.status == 503
    message = resp.json["error"]["message"]
    assert "upstream busy" in message and "rate limit" not in message
    assert len(upstreams["faulty"].requests) == 1  # one probe: the key is not hammered
    assert key_state(fresh)["cooling_for_s"] > first_cooldown


def test_while_a_probe_is_in_flight_others_hear_the_real_cause(fresh, upstreams):
    cool_by_three_5xx(fresh, upstreams)
    upstreams["faulty"].queue(
        Reply(body=fixture_reply("openai_chat/response_plain_text.json").body, wait_before_headers=1)
    )
    results = {}
    probe = threading.Thread(target=lambda: results.setdefault("probe", chat(fresh)))
    probe.start()
    deadline = time.monotonic() + 5
    while not upstreams["faulty"].requests:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    other = chat(fresh)
    probe.join(10)
    assert results["probe"].status == 200
    assert other.status == 503, other.body
    message = other.json["error"]["message"]
    assert "upstream failures" in message and "rate limits" not in message, message
    assert int(other.headers["retry-after"]) >= 1


def test_rate_limited_keys_are_not_probed(fresh, upstreams):
    limited = Reply(status=429, body=b'{"error":{"message":"slow down","type":"rate_limit_error"}}',
                    headers={"retry-after": "60"})  # fmt: skip
    upstreams["faulty"].queue(limited, limited)
    assert chat(fresh, "pair/gpt-x").status == 429
    upstreams["faulty"].reset()
    resp = chat(fresh, "pair/gpt-x")
    assert resp.status == 429
    assert "cooling down after rate limits" in resp.json["error"]["message"]
    assert not upstreams["faulty"].requests


def test_a_healthy_fallback_target_is_preferred_to_a_probe(fresh, upstreams):
    cool_by_three_5xx(fresh, upstreams)
    resp = chat(fresh, "group")
    assert resp.status == 200
    assert resp.headers["x-switchyard-upstream"] == "backup/gpt-b"
    assert not upstreams["faulty"].requests


def test_probe_across_a_pool_picks_the_key_whose_cooldown_ends_first(fresh, upstreams):
    pool = fresh.app.pipeline.pools["pair"]
    now = time.monotonic()
    first, second = pool.keys
    first.cool_until, first.transient_streak = now + 100, 3
    second.cool_until, second.transient_streak = now + 40, 3
    resp = chat(fresh, "pair/gpt-x")
    assert resp.status == 200, resp.body
    assert upstreams["faulty"].last.headers["authorization"] == "Bearer sk-pair-key-0002"
    assert second.cool_until == 0 and first.cool_until > now
    assert orjson.loads(resp.body)["choices"]
