"""Embeddings with clients' own credentials (``credentials: passthrough``): each client's
credential goes upstream, and batching never merges two clients' credentials into one call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest
from embed_upstreams import EmbedUpstream, vector
from gateway_harness import CLIENT_KEY, Gateway, config_from_yaml

CREDENTIALS = ("sk-proj-first-clients-own-key-0001", "sk-proj-second-clients-own-key-0002")


@pytest.fixture(scope="module")
def own(upstream_host: dict[str, EmbedUpstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yaml = f"""
server:
  auth_keys: ["{CLIENT_KEY}"]
providers:
  own:
    type: openai
    base_url: {upstream_host["spare"].url}/v1
    credentials: passthrough
    embedding_batch: {{max_inputs: 64, max_wait_ms: 100}}
"""
    gateway = Gateway(config_from_yaml(yaml, base_dir=tmp_path_factory.mktemp("passthrough"))).start()
    yield gateway
    gateway.stop()


def test_each_clients_credential_goes_upstream_in_its_own_batch(
    own: Gateway, upstreams: dict[str, EmbedUpstream]
) -> None:
    async def main() -> list[list[str]]:
        clients = [
            openai.AsyncOpenAI(
                base_url=own.url + "/v1", api_key=key, default_headers={"x-switchyard-key": CLIENT_KEY}, max_retries=0
            )
            for key in CREDENTIALS
        ]
        calls = [
            clients[n % 2].embeddings.create(model="own/text-embedding-3-small", input=f"client {n % 2} text {n}")
            for n in range(20)
        ]
        try:
            answers = await asyncio.gather(*calls)
        finally:
            for client in clients:
                await client.close()
        return [a.data[0].embedding for a in answers]

    vectors = asyncio.run(main())
    assert vectors == [vector(f"client {n % 2} text {n}") for n in range(20)]
    requests = upstreams["spare"].requests
    assert len(requests) < 20
    for rec in requests:
        owner = CREDENTIALS.index(rec.headers["authorization"].removeprefix("Bearer "))
        assert all(text.startswith(f"client {owner} ") for text in rec.json["input"])  # never mixed
        assert CLIENT_KEY not in str(rec.headers)
