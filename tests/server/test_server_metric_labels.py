"""Issue 13 item 13 — unbounded metric labels.

The model name a client sends used to become a ``/metrics`` label value, so any client could grow
the series without bound. The label is now the resolved target's model when the config names it,
a ``<provider>/<name>`` outside the config only once the upstream served it (a few per provider,
then ``other``), and a fixed ``unresolved`` for names that resolve to nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from gateway_harness import CLIENT_KEY, Gateway, call, config_from_yaml, gateway_yaml
from mock_upstreams import Reply, fixture_reply
from prometheus_client.parser import text_string_to_metric_families

from switchyard.server.observers import MAX_LEARNED_MODELS

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
MISSING = Reply(status=404, body=b'{"error":{"message":"The model does not exist","type":"invalid_request_error"}}')


@pytest.fixture(scope="module")
def gw(upstream_host, tmp_path_factory) -> Iterator[Gateway]:
    yaml = gateway_yaml(upstream_host)
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("labels"))).start()
    yield gateway
    gateway.stop()


def chat(gw: Gateway, model: str) -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return call(gw.url + "/v1/chat/completions", "POST", body, AUTH).status


def model_labels(gw: Gateway) -> set[str]:
    text = call(gw.url + "/metrics", "GET", None, AUTH).body.decode()
    return {
        s.labels["model"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "model" in s.labels
    }


def wait_for(gw: Gateway, label: str) -> set[str]:
    deadline = time.monotonic() + 3
    while label not in (labels := model_labels(gw)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return labels


def test_client_model_names_do_not_grow_the_metric_labels(gw, upstreams):
    made_up = [f"no-such-model-{uuid.uuid4().hex}" for _ in range(30)]
    for name in made_up:
        assert chat(gw, name) == 404  # resolves to nothing
    upstreams["openai_chat"].queue(*[MISSING] * 30)
    through_provider = [f"oc/ghost-{uuid.uuid4().hex}" for _ in range(30)]
    for name in through_provider:
        assert chat(gw, name) == 404  # resolves to a provider, but the upstream has no such model
    labels = wait_for(gw, "unresolved")
    assert "unresolved" in labels
    leaked = {name.split("/")[-1] for name in made_up + through_provider} & labels
    assert not leaked, leaked


def test_configured_and_served_models_keep_their_label(gw, upstreams):
    upstreams["anthropic"].queue(fixture_reply("anthropic/response_plain_text.json"))
    assert chat(gw, "claude-anything") == 200  # the wildcard alias -> an/claude-wildcard
    upstreams["openai_chat"].queue(fixture_reply("openai_chat/response_plain_text.json"))
    assert chat(gw, "oc/gpt-served") == 200  # outside the config, but the upstream served it
    labels = wait_for(gw, "gpt-served")
    assert {"claude-wildcard", "gpt-served"} <= labels
    assert "claude-anything" not in labels


def test_an_upstream_that_serves_any_name_is_still_bounded(gw, upstreams):
    names = [f"mock/anything-{uuid.uuid4().hex}" for _ in range(MAX_LEARNED_MODELS + 30)]
    for name in names:
        assert chat(gw, name) == 200  # the mock answers whatever model it is asked for
    labels = wait_for(gw, "other")
    assert "other" in labels
    learned = {name.split("/", 1)[1] for name in names} & labels
    assert len(learned) <= MAX_LEARNED_MODELS
