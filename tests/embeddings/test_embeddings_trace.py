"""The transform trace of an embeddings request: client request, upstream request and response,
client response; no credential in it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from embed_harness import GE_KEY, gateway_yaml, openai_client
from embed_upstreams import EmbedUpstream
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml


@pytest.fixture(scope="module")
def traced(upstream_host: dict[str, EmbedUpstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yaml = gateway_yaml(upstream_host) + "observability:\n  trace: true\n"
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("trace"))).start()
    yield gateway
    gateway.stop()


def test_trace_of_an_embeddings_request(traced: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    raw = openai_client(traced).embeddings.with_raw_response.create(model="ge/gemini-embedding-001", input="traced")
    path = traced.app.tracer.path_for(raw.headers["x-request-id"])
    deadline, stages = time.monotonic() + 5, []
    while "client_response" not in stages and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = path.read_bytes().split(b"\n")[:-1] if path.exists() else []
        stages = [orjson.loads(line)["stage"] for line in lines if line]
    assert stages == ["client_request", "upstream_request", "upstream_response", "client_response"]
    text = path.read_text()
    assert "batchEmbedContents" in text and "traced" in text
    assert GE_KEY not in text and CLIENT_KEY not in text
