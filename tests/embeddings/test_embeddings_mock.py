"""The built-in mock provider's embeddings: the pure ``mock.embed``, and ``mock-1`` through the
gateway with both SDKs."""

from __future__ import annotations

import math

import openai
import pytest
from embed_harness import genai_client, openai_client
from gateway_harness import Gateway, usage_row
from google.genai import types as gtypes

from switchyard import mock


def test_embed_is_deterministic_unit_and_text_dependent() -> None:
    first, again, other = mock.embed(["same text", "same text", "other text"])
    assert first == again != other
    assert len(first) == mock.EMBED_DIMENSIONS
    assert math.isclose(math.fsum(v * v for v in first), 1.0)


def test_embed_honours_dimensions_as_a_renormalised_prefix() -> None:
    (full,) = mock.embed(["text"])
    (short,) = mock.embed(["text"], 16)
    assert len(short) == 16
    assert math.isclose(math.fsum(v * v for v in short), 1.0)
    scale = math.sqrt(math.fsum(v * v for v in full[:16]))
    assert all(math.isclose(s * scale, f) for s, f in zip(short, full[:16], strict=True))


def test_mock_1_with_the_openai_sdk(gateway: Gateway) -> None:
    raw = openai_client(gateway).embeddings.with_raw_response.create(
        model="mock-1", input=["hello mock world", "again"], dimensions=32
    )
    resp = raw.parse()
    expected = mock.embed(["hello mock world", "again"], 32)
    got = [d.embedding for d in resp.data]  # base64 float32: equal to float32 precision
    assert all(
        math.isclose(g, e, abs_tol=1e-6)
        for gv, ev in zip(got, expected, strict=True)
        for g, e in zip(gv, ev, strict=True)
    )
    assert resp.usage.prompt_tokens == 4  # the mock counts words
    row = usage_row(gateway, "request_id = ?", (raw.headers["x-request-id"],))
    assert (row["provider"], row["model_served"], row["input_tokens"]) == ("mock", "mock-1", 4)


def test_mock_1_float_and_token_ids(gateway: Gateway) -> None:
    resp = openai_client(gateway).embeddings.create(model="mock-1", input=[[7, 8]], encoding_format="float")
    assert resp.data[0].embedding == mock.embed(["7 8"])[0]


def test_mock_1_with_google_genai(gateway: Gateway) -> None:
    client = genai_client(gateway)
    config = gtypes.EmbedContentConfig(output_dimensionality=8)
    resp = client.models.embed_content(model="mock-1", contents=["one", "two"], config=config)
    assert [e.values for e in resp.embeddings] == mock.embed(["one", "two"], 8)


def test_mock_1_refuses_huge_dimensions(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(gateway).embeddings.create(model="mock-1", input="x", dimensions=mock.MAX_EMBED_DIMENSIONS + 1)
    assert err.value.body["param"] == "dimensions"
