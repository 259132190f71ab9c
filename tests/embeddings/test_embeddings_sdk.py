"""Embeddings through the gateway with the official SDKs: the ``openai`` SDK and ``google-genai``
against OpenAI-compatible and Gemini mock upstreams, both directions, float and base64; retries,
fallback, errors in each client's shape; usage rows with cost."""

from __future__ import annotations

from typing import Any

import openai
import orjson
import pytest
from embed_harness import BUDGET_KEY, GE_KEY, OE_KEYS, genai_client, openai_client
from embed_upstreams import EmbedUpstream, vector, words
from gateway_harness import CLIENT_KEY, Gateway, call, usage_row
from google.genai import errors as gerrors
from google.genai import types as gtypes
from mock_upstreams import Reply

from switchyard.core.embeddings import unpack_floats

TEXTS = ["the quick brown fox", "jumps over", "the lazy dog"]
OPENAI_PRICE = 0.02  # text-embedding-3-small, USD per million input tokens (data/pricing.yaml)
GEMINI_PRICE = 0.15  # gemini-embedding-001


def openai_error(status: int, message: str) -> Reply:
    body = {"error": {"message": message, "type": "server_error" if status >= 500 else "rate_limit_error"}}
    return Reply(status=status, body=orjson.dumps(body))


def genai_error(gateway: Gateway, kind: type[gerrors.APIError], model: str, contents: Any) -> gerrors.APIError:
    """The error google-genai raises for an embed_content call."""
    client = genai_client(gateway)  # held: a Client closes its connection when collected
    with pytest.raises(kind) as err:
        client.models.embed_content(model=model, contents=contents)
    return err.value


def test_openai_sdk_to_openai_upstream_base64(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    raw = openai_client(gateway).embeddings.with_raw_response.create(model="oe/text-embedding-3-small", input=TEXTS)
    resp = raw.parse()
    assert [d.embedding for d in resp.data] == [vector(t) for t in TEXTS]
    sent = upstreams["oe"].last
    assert sent.path == "/v1/embeddings"
    assert sent.json == {"model": "text-embedding-3-small", "input": TEXTS, "encoding_format": "base64"}
    assert sent.headers["authorization"] == f"Bearer {OE_KEYS[0]}"
    tokens = sum(words(t) for t in TEXTS)
    assert resp.usage.prompt_tokens == tokens
    row = usage_row(gateway, "request_id = ?", (raw.headers["x-request-id"],))
    assert (row["provider"], row["model_served"], row["status"]) == ("oe", "text-embedding-3-small", 200)
    assert (row["input_tokens"], row["output_tokens"], row["usage_estimated"]) == (tokens, 0, 0)
    assert row["cost"] == pytest.approx(tokens * OPENAI_PRICE / 1e6)


def test_openai_sdk_float_and_dimensions(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    resp = openai_client(gateway).embeddings.create(
        model="oe/text-embedding-3-small", input="hello", encoding_format="float", dimensions=5, user="u-1"
    )
    assert resp.data[0].embedding == vector("hello", 5)
    assert upstreams["oe"].last.json == {
        "model": "text-embedding-3-small",
        "input": ["hello"],
        "dimensions": 5,
        "user": "u-1",
    }


def test_openai_sdk_token_ids(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    resp = openai_client(gateway).embeddings.create(model="oe/text-embedding-3-small", input=[[1, 2, 3], [42]])
    assert [d.embedding for d in resp.data] == [vector("1 2 3"), vector("42")]
    assert upstreams["oe"].last.json["input"] == [[1, 2, 3], [42]]


@pytest.mark.parametrize("encoding", [openai.NOT_GIVEN, "float", "base64"])
def test_openai_sdk_to_gemini_upstream(gateway: Gateway, upstreams: dict[str, EmbedUpstream], encoding: Any) -> None:
    """Not given: the SDK asks for base64 and decodes it itself; asked for explicitly, it does not."""
    raw = openai_client(gateway).embeddings.with_raw_response.create(
        model="ge/gemini-embedding-001", input=TEXTS, dimensions=6, encoding_format=encoding
    )
    resp = raw.parse()
    vectors = [unpack_floats(d.embedding).tolist() if encoding == "base64" else d.embedding for d in resp.data]
    assert vectors == [vector(t, 6) for t in TEXTS]
    sent = upstreams["ge"].last
    assert sent.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent.headers["x-goog-api-key"] == GE_KEY
    assert sent.json == {
        "requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}, "outputDimensionality": 6}
            for t in TEXTS
        ]
    }
    row = usage_row(gateway, "request_id = ?", (raw.headers["x-request-id"],))
    assert row["usage_estimated"] == 1  # Gemini reports no usage: the gateway's estimate
    assert row["input_tokens"] == resp.usage.prompt_tokens > 0
    assert row["cost"] == pytest.approx(row["input_tokens"] * GEMINI_PRICE / 1e6)


def test_genai_to_gemini_upstream_single_and_batch(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    client = genai_client(gateway)
    config = gtypes.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", title="Doc", output_dimensionality=4)
    one = client.models.embed_content(model="ge/gemini-embedding-001", contents="a text", config=config)
    assert [e.values for e in one.embeddings] == [vector("a text", 4)]
    sent = upstreams["ge"].last.json["requests"]
    assert sent == [
        {
            "model": "models/gemini-embedding-001",
            "content": {"parts": [{"text": "a text"}]},
            "taskType": "RETRIEVAL_DOCUMENT",
            "title": "Doc",
            "outputDimensionality": 4,
        }
    ]
    many = client.models.embed_content(model="ge/gemini-embedding-001", contents=TEXTS)
    assert [e.values for e in many.embeddings] == [vector(t) for t in TEXTS]
    assert many.usage_metadata.prompt_token_count > 0


def test_genai_to_openai_upstream(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    client = genai_client(gateway)
    config = gtypes.EmbedContentConfig(task_type="RETRIEVAL_QUERY", output_dimensionality=3)
    resp = client.models.embed_content(model="oe/text-embedding-3-small", contents=TEXTS, config=config)
    assert [e.values for e in resp.embeddings] == [vector(t, 3) for t in TEXTS]
    # OpenAI has no task type: it is left out; the dimensions carry over
    assert upstreams["oe"].last.json == {"model": "text-embedding-3-small", "input": TEXTS, "dimensions": 3}
    assert resp.usage_metadata.prompt_token_count == sum(words(t) for t in TEXTS)
    request_id = resp.sdk_http_response.headers["x-request-id"]
    row = usage_row(gateway, "request_id = ?", (request_id,))
    assert (row["client_protocol"], row["provider"]) == ("gemini", "oe")


def test_gemini_single_endpoint_by_plain_http(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    """``:embedContent`` (google-genai always calls the batch method on the Gemini API)."""
    body = {"content": {"parts": [{"text": "one"}, {"text": "two"}]}, "outputDimensionality": 3}
    res = call(
        f"{gateway.url}/v1beta/models/oe/text-embedding-3-small:embedContent",
        body=body,
        headers={"x-goog-api-key": CLIENT_KEY},
    )
    assert res.status == 200, res.body
    assert res.json["embedding"]["values"] == vector("one\ntwo", 3)


def test_429_retries_on_the_other_key(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    upstreams["oe"].queue(openai_error(429, "slow down"))
    raw = openai_client(gateway).embeddings.with_raw_response.create(model="oe/retry-model", input="x")
    assert raw.parse().data[0].embedding == vector("x")
    keys = [r.headers["authorization"] for r in upstreams["oe"].requests]
    assert keys == [f"Bearer {OE_KEYS[0]}", f"Bearer {OE_KEYS[1]}"]
    row = usage_row(gateway, "request_id = ?", (raw.headers["x-request-id"],))
    assert row["attempts"] == 2
    assert row["status"] == 200


def test_500_falls_back_to_the_next_target(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    upstreams["oe"].queue(*[openai_error(500, "boom")] * 2)
    raw = openai_client(gateway).embeddings.with_raw_response.create(model="embed-group", input=["x", "y"])
    assert [d.embedding for d in raw.parse().data] == [vector("x"), vector("y")]
    assert raw.headers["x-switchyard-upstream"] == "spare/text-embedding-3-small"
    assert upstreams["spare"].last.json["model"] == "text-embedding-3-small"


def test_gemini_429_falls_back_for_a_gemini_client(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    quota = {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}
    upstreams["ge"].queue(Reply(status=429, body=orjson.dumps(quota)))
    client = genai_client(gateway)
    # (no "gemini" in the name: google-genai sends the contents of such a model as one content)
    resp = client.models.embed_content(model="embed-fallback", contents=["x", "y"])
    assert [e.values for e in resp.embeddings] == [vector("x"), vector("y")]
    assert resp.sdk_http_response.headers["x-switchyard-upstream"] == "spare/text-embedding-3-small"
    assert len(upstreams["ge"].requests) == 1


def test_upstream_500_everywhere_in_each_clients_shape(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    upstreams["oe"].queue(*[openai_error(500, "the upstream broke")] * 6)
    with pytest.raises(openai.InternalServerError) as err:
        openai_client(gateway).embeddings.create(model="oe/broken-model", input="x")
    assert "the upstream broke" in err.value.message
    gerr = genai_error(gateway, gerrors.ServerError, "oe/broken-model", "x")
    assert gerr.code == 500
    assert "the upstream broke" in gerr.message


def test_bad_input_in_each_clients_shape(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(gateway).embeddings.create(model="oe/text-embedding-3-small", input=[])
    assert err.value.body["param"] == "input"
    image = gtypes.Content(parts=[gtypes.Part.from_bytes(data=b"\x89PNG", mime_type="image/png")])
    gerr = genai_error(gateway, gerrors.ClientError, "ge/gemini-embedding-001", image)
    assert (gerr.code, gerr.status) == (400, "INVALID_ARGUMENT")
    assert "only text can be embedded" in gerr.message
    assert not upstreams["oe"].requests and not upstreams["ge"].requests


def test_token_ids_to_gemini_are_a_400(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(gateway).embeddings.create(model="ge/gemini-embedding-001", input=[[1, 2, 3]])
    assert "token ids cannot be embedded by a Gemini model" in err.value.message
    assert not upstreams["ge"].requests


def test_gemini_upstream_error_relayed_to_gemini_client(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    error = {"error": {"code": 400, "message": "text too long", "status": "INVALID_ARGUMENT"}}
    upstreams["ge"].queue(Reply(status=400, body=orjson.dumps(error)))
    gerr = genai_error(gateway, gerrors.ClientError, "ge/gemini-embedding-001", "x")
    assert gerr.code == 400
    assert "text too long" in gerr.message


def test_gemini_upstream_error_reaches_an_openai_client_in_its_shape(
    gateway: Gateway, upstreams: dict[str, EmbedUpstream]
) -> None:
    error = {"error": {"code": 400, "message": "text too long", "status": "INVALID_ARGUMENT"}}
    upstreams["ge"].queue(Reply(status=400, body=orjson.dumps(error)))
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(gateway).embeddings.create(model="ge/gemini-embedding-001", input="x")
    assert err.value.body["type"] == "invalid_request_error"
    assert "text too long" in err.value.message


def test_a_provider_without_embeddings_is_a_400(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        openai_client(gateway).embeddings.create(model="an/claude-sonnet-4-5", input="x")
    assert "has no embeddings endpoint" in err.value.message


def test_governance_admits_and_bills_client_keys(gateway: Gateway, upstreams: dict[str, EmbedUpstream]) -> None:
    client = openai_client(gateway, BUDGET_KEY)
    raw = client.embeddings.with_raw_response.create(model="oe/text-embedding-3-small", input="billed text")
    row = usage_row(gateway, "request_id = ?", (raw.headers["x-request-id"],))
    assert row["client_key_name"] == "embedder"
    assert row["cost"] == pytest.approx(words("billed text") * OPENAI_PRICE / 1e6)
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="spare/text-embedding-3-small", input="x")
    assert not upstreams["spare"].requests
