"""Fixtures for the prompt-caching tests: one Anthropic mock upstream (tests/server's) behind a
real gateway whose providers and aliases turn automatic prompt caching on and off.

Providers, all on the same mock upstream: ``an`` (``prompt_cache: auto``), ``an1h`` (auto with
``ttl: 1h``), ``plain`` (off: the default). Aliases: ``cached`` (auto, over ``plain``) and
``uncached`` (off, over ``an``): an alias's setting wins over its provider's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))

from gateway_harness import CLIENT_KEY, Gateway, running
from mock_upstreams import MockUpstream, UpstreamHost

UPSTREAM_KEY = "sk-ant-upstream-key-pcache"


def gateway_yaml(url: str) -> str:
    provider = f"type: anthropic\n    base_url: {url}\n    api_keys: [{UPSTREAM_KEY}]"
    return f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
providers:
  an:
    {provider}
    prompt_cache: auto
  an1h:
    {provider}
    prompt_cache: {{mode: auto, ttl: 1h}}
  plain:
    {provider}
models:
  cached: {{targets: [plain/claude-sonnet-4-5-by-alias], prompt_cache: auto}}
  uncached: {{targets: [an/claude-sonnet-4-5-by-alias], prompt_cache: off}}
"""


@pytest.fixture(scope="module")
def upstream_host() -> Iterator[MockUpstream]:
    host = UpstreamHost()
    yield host.add("anthropic")
    host.close()


@pytest.fixture
def upstream(upstream_host: MockUpstream) -> MockUpstream:
    upstream_host.reset()
    return upstream_host


@pytest.fixture(scope="module")
def gateway(upstream_host: MockUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running(gateway_yaml(upstream_host.url), tmp_path_factory.mktemp("pcache")) as gw:
        yield gw
