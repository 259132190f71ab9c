"""Opt-in batching (``embedding_batch``) through the gateway: concurrent single-input requests
become far fewer upstream calls, every client gets exactly its own vectors and its own usage row,
and an upstream error fails every member in its own client's shape."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import orjson
import pytest
from embed_harness import genai_client, openai_client
from embed_upstreams import EmbedUpstream, vector
from gateway_harness import Gateway, usage_row
from google.genai import errors as gerrors
from mock_upstreams import Reply

CLIENTS = 100


def inputs_per_call(upstream: EmbedUpstream) -> list[int]:
    counts = []
    for rec in upstream.requests:
        body = rec.json
        counts.append(len(body["input"]) if "input" in body else len(body["requests"]))
    return counts


def test_100_concurrent_requests_make_few_upstream_calls(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    texts = [f"client {n} says {'word ' * (n % 7)}".strip() for n in range(CLIENTS)]

    async def main() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=openai_client(gateway).api_key) as client:
            calls = (
                client.embeddings.with_raw_response.create(model="batched/text-embedding-3-small", input=t)
                for t in texts
            )
            return await asyncio.gather(*calls)

    raws = asyncio.run(main())
    counts = inputs_per_call(upstreams["batched"])
    print(
        f"\nbatching: {CLIENTS} requests -> {len(counts)} upstream calls {counts}, {CLIENTS / len(counts):.1f} inputs per call"
    )
    assert len(counts) <= 10
    assert sum(counts) == CLIENTS
    for text, raw in zip(texts, raws, strict=True):
        assert raw.parse().data[0].embedding == vector(text)  # its own vector, nobody else's
    rows = [usage_row(gateway, "request_id = ?", (raw.headers["x-request-id"],)) for raw in raws]
    upstream_tokens = sum(len(t.split()) for t in texts)  # what the mock upstream reports, all calls together
    assert sum(row["input_tokens"] for row in rows) == upstream_tokens
    assert all(row["provider"] == "batched" and row["status"] == 200 for row in rows)
    assert sum(raw.parse().usage.prompt_tokens for raw in raws) == upstream_tokens


def test_gemini_clients_are_batched_too(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    texts = [f"document {n}" for n in range(20)]
    client = genai_client(gateway)

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(client.aio.models.embed_content(model="gb/gemini-embedding-001", contents=t) for t in texts)
        )

    answers = asyncio.run(main())
    assert len(upstreams["gb"].requests) < len(texts)
    assert [a.embeddings[0].values for a in answers] == [vector(t) for t in texts]


def test_an_upstream_error_fails_every_member_in_its_own_shape(
    gateway: Gateway, upstreams: dict[str, EmbedUpstream]
) -> None:
    """OpenAI clients asking for floats and Gemini clients share one batch toward ``gb``."""
    error = {"error": {"code": 500, "message": "embedding backend down", "status": "INTERNAL"}}
    upstreams["gb"].queue(*[Reply(status=500, body=orjson.dumps(error))] * 3)
    oa = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=openai_client(gateway).api_key, max_retries=0)
    gm = genai_client(gateway)

    async def main() -> list[Any]:
        calls = [
            oa.embeddings.create(model="gb/failing-model", input=f"o{n}", encoding_format="float") for n in range(5)
        ]
        calls += [gm.aio.models.embed_content(model="gb/failing-model", contents=f"g{n}") for n in range(5)]
        try:
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await oa.close()

    results = asyncio.run(main())
    assert len(upstreams["gb"].requests) == 3  # one batch, three attempts (retries: 2)
    for result in results[:5]:
        assert isinstance(result, openai.InternalServerError)
        assert "embedding backend down" in result.message
    for result in results[5:]:
        assert isinstance(result, gerrors.ServerError)
        assert result.code == 500
        assert "embedding backend down" in result.message


@pytest.mark.parametrize("inputs", [64, 65])
def test_a_request_as_large_as_a_batch_goes_on_its_own(
    gateway: Gateway, upstreams: dict[str, EmbedUpstream], inputs: int
) -> None:
    texts = [f"t{n}" for n in range(inputs)]
    resp = openai_client(gateway).embeddings.create(model="batched/text-embedding-3-small", input=texts)
    assert [d.embedding for d in resp.data] == [vector(t) for t in texts]
    assert inputs_per_call(upstreams["batched"]) == [inputs]
