"""Fixtures for the embeddings tests: the mock embedding upstreams (OpenAI-compatible and Gemini)
and one real gateway configured against them (:mod:`embed_harness`). Key pools keep state for the
session: tests that make a key fail use their own model name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "server"))  # gateway_harness, mock upstreams

from embed_harness import gateway_yaml
from embed_upstreams import EmbedUpstream
from gateway_harness import Gateway, config_from_yaml
from mock_upstreams import UpstreamHost


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
