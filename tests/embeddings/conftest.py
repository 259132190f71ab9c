"""Fixtures for the embeddings tests: mock embedding upstreams (OpenAI-compatible and Gemini) and
one real gateway configured against them.

Providers: ``oe`` (OpenAI-compatible, two keys), ``ge`` (Gemini), ``spare`` (OpenAI-compatible, the
fallback), ``batched`` (OpenAI-compatible with ``embedding_batch``), ``gb`` (Gemini with
``embedding_batch``), ``an`` (Anthropic: no embeddings endpoint), the built-in ``mock``. Key pools
keep state for the session: tests that make a key fail use their own model name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "server"))  # gateway_harness, mock upstreams

from embed_upstreams import EmbedUpstream
from gateway_harness import CLIENT_KEY, Gateway, closed_port, config_from_yaml
from mock_upstreams import UpstreamHost

OE_KEYS = ("sk-oe-upstream-key-0001", "sk-oe-upstream-key-0002")
GE_KEY = "ge-upstream-key-0001"
MAX_WAIT_MS = 250


def gateway_yaml(ups: dict[str, EmbedUpstream]) -> str:
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
routing:
  retries: 2
  timeouts: {{first_byte: 5, stall: 5, request: 20}}
  cooldown: {{base: 0.01, max: 0.05}}
providers:
  oe:
    type: openai
    base_url: {ups["oe"].url}/v1
    api_keys: ["{OE_KEYS[0]}", "{OE_KEYS[1]}"]
    routing: {{rotation: sequential}}
  ge:
    type: gemini
    base_url: {ups["ge"].url}
    api_keys: ["{GE_KEY}"]
  spare:
    type: openai
    base_url: {ups["spare"].url}/v1
    api_keys: ["sk-spare-upstream-key-0001"]
  batched:
    type: openai
    base_url: {ups["batched"].url}/v1
    api_keys: ["sk-batched-upstream-key-0001"]
    embedding_batch: {{max_inputs: 64, max_wait_ms: {MAX_WAIT_MS}}}
  gb:
    type: gemini
    base_url: {ups["gb"].url}
    api_keys: ["gb-upstream-key-0001"]
    embedding_batch: {{max_inputs: 64, max_wait_ms: {MAX_WAIT_MS}}}
  an:
    type: anthropic
    base_url: http://127.0.0.1:{closed_port()}
    api_keys: ["sk-ant-upstream-key-0001"]
models:
  embed-group: [oe/group-model, spare/text-embedding-3-small]
"""


@pytest.fixture(scope="session")
def upstream_host() -> Iterator[dict[str, EmbedUpstream]]:
    host = UpstreamHost()
    kinds = {"oe": "openai", "ge": "gemini", "spare": "openai", "batched": "openai", "gb": "gemini"}
    ups = {}
    for name, kind in kinds.items():
        ups[name] = EmbedUpstream(kind)
        ups[name].url = host.serve(ups[name].handle)
    yield ups
    host.close()


@pytest.fixture
def upstreams(upstream_host: dict[str, EmbedUpstream]) -> dict[str, EmbedUpstream]:
    for upstream in upstream_host.values():
        upstream.reset()
    return upstream_host


@pytest.fixture(scope="session")
def gateway(upstream_host: dict[str, EmbedUpstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("gateway")
    gw = Gateway(config_from_yaml(gateway_yaml(upstream_host), base_dir=base)).start()
    yield gw
    gw.stop()
