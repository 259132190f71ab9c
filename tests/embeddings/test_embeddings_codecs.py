"""The embeddings codecs (pure): OpenAI and Gemini, client side and upstream side."""

from __future__ import annotations

import pytest

from switchyard.core.embeddings import EmbedInput, EmbedRequest, EmbedResponse, as_list, pack_floats, unpack_floats
from switchyard.core.errors import GatewayError, RequestError, TranslationError
from switchyard.core.model import Usage
from switchyard.protocols.gemini import embeddings as gemini
from switchyard.protocols.openai_chat import embeddings as openai


def texts(req: EmbedRequest) -> list[str | list[int]]:
    return [i.value for i in req.inputs]


@pytest.mark.parametrize(
    ("value", "inputs"),
    [
        ("one text", ["one text"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([[1, 2], [3]], [[1, 2], [3]]),
    ],
)
def test_openai_input_shapes(value: object, inputs: list) -> None:
    assert texts(openai.parse_embed_request({"model": "m", "input": value})) == inputs


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [""]}, "input"),
        ({"model": "m", "input": [[1, "x"]]}, "input"),
        ({"model": "m", "input": [True]}, "input"),
        ({"model": "m", "input": [[]]}, "input"),
        ({"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": "8"}, "dimensions"),
    ],
)
def test_openai_bad_requests(body: dict, param: str) -> None:
    with pytest.raises(RequestError) as err:
        openai.parse_embed_request(body)
    assert err.value.param == param


def test_openai_same_protocol_keeps_unknown_fields() -> None:
    body = {"model": "m", "input": ["a"], "encoding_format": "base64", "dimensions": 4, "user": "u", "extra": {"x": 1}}
    req = openai.parse_embed_request(body)
    assert openai.build_embed_request(req) == body


def test_openai_float_default_is_not_sent() -> None:
    req = openai.parse_embed_request({"model": "m", "input": "a", "encoding_format": "float"})
    assert "encoding_format" not in openai.build_embed_request(req)


def test_base64_round_trip_is_float32_little_endian() -> None:
    values = [0.5, -1.25, 3.0]
    assert pack_floats(values) == "AAAAPwAAoL8AAEBA"
    assert unpack_floats(pack_floats(values)).tolist() == values
    assert pack_floats(unpack_floats(pack_floats(values))) == pack_floats(values)  # an array packs as it is


def test_openai_response_in_index_order_and_base64_decoded() -> None:
    body = {
        "data": [
            {"index": 1, "embedding": pack_floats([1.0, 2.0])},
            {"index": 0, "embedding": [0.5, 0.25]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }
    resp = openai.parse_embed_response(body, 2)
    assert [as_list(v) for v in resp.vectors] == [[0.5, 0.25], [1.0, 2.0]]
    assert resp.usage == Usage(input_tokens=7)


@pytest.mark.parametrize(
    "body",
    [
        {"data": [{"index": 0, "embedding": [1.0]}]},
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]},
        {"data": [{"index": 0, "embedding": "not base64!"}, {"index": 1, "embedding": [1.0]}]},
        {"data": [{"index": 0, "embedding": [1.0, "x"]}, {"index": 1, "embedding": [1.0]}]},
        {"error": {"message": "x"}},
    ],
)
def test_openai_malformed_answers_are_502(body: dict) -> None:
    with pytest.raises(GatewayError) as err:
        openai.parse_embed_response(body, 2)
    assert err.value.status == 502


def test_openai_format_float_and_base64() -> None:
    resp = EmbedResponse("served", [[0.5], [1.5]], Usage(input_tokens=3))
    as_float = openai.format_embed_response(resp, EmbedRequest("m", [EmbedInput("a"), EmbedInput("b")]))
    assert as_float == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5]},
            {"object": "embedding", "index": 1, "embedding": [1.5]},
        ],
        "model": "served",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    req = EmbedRequest("m", [EmbedInput("a"), EmbedInput("b")], encoding="base64")
    packed = openai.format_embed_response(resp, req)
    assert [unpack_floats(d["embedding"]).tolist() for d in packed["data"]] == [[0.5], [1.5]]


def test_gemini_single_and_batch_requests() -> None:
    single = gemini.parse_embed_request(
        {
            "content": {"parts": [{"text": "a"}, {"text": "b"}]},
            "task_type": "RETRIEVAL_QUERY",
            "outputDimensionality": 8,
        },
        "gemini-embedding-001",
        batch=False,
    )
    assert texts(single) == ["a\nb"]
    assert single.inputs[0].task_type == "RETRIEVAL_QUERY"
    assert single.dimensions == 8
    batch = gemini.parse_embed_request(
        {
            "requests": [
                {
                    "model": "models/g",
                    "content": {"parts": [{"text": "x"}]},
                    "taskType": "RETRIEVAL_DOCUMENT",
                    "title": "T",
                },
                {"model": "g", "content": {"parts": [{"text": "y"}]}},
            ]
        },
        "g",
        batch=True,
    )
    assert texts(batch) == ["x", "y"]
    assert (batch.inputs[0].task_type, batch.inputs[0].title) == ("RETRIEVAL_DOCUMENT", "T")


@pytest.mark.parametrize(
    ("body", "batch", "param"),
    [
        (
            {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}},
            False,
            "content.parts[0]",
        ),
        ({"content": {"parts": []}}, False, "content.parts"),
        ({"requests": []}, True, "requests"),
        ({"requests": [{"model": "models/other", "content": {"parts": [{"text": "x"}]}}]}, True, "requests[0].model"),
        (
            {
                "requests": [
                    {"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 4},
                    {"content": {"parts": [{"text": "y"}]}, "outputDimensionality": 8},
                ]
            },
            True,
            "requests",
        ),
    ],
)
def test_gemini_bad_requests(body: dict, batch: bool, param: str) -> None:
    with pytest.raises(RequestError) as err:
        gemini.parse_embed_request(body, "g", batch)
    assert err.value.param == param


def test_gemini_upstream_body_keeps_hints_per_input() -> None:
    req = EmbedRequest("g", [EmbedInput("x", task_type="RETRIEVAL_DOCUMENT", title="T"), EmbedInput("y")], dimensions=4)
    assert gemini.build_embed_request(req) == {
        "requests": [
            {
                "model": "models/g",
                "content": {"parts": [{"text": "x"}]},
                "taskType": "RETRIEVAL_DOCUMENT",
                "title": "T",
                "outputDimensionality": 4,
            },
            {"model": "models/g", "content": {"parts": [{"text": "y"}]}, "outputDimensionality": 4},
        ]
    }


def test_token_ids_cannot_go_to_gemini() -> None:
    with pytest.raises(TranslationError) as err:
        gemini.build_embed_request(EmbedRequest("g", [EmbedInput([1, 2])]))
    assert err.value.status == 400
    assert err.value.param == "input"


def test_gemini_response_count_must_match() -> None:
    assert gemini.parse_embed_response({"embeddings": [{"values": [1.0]}]}, 1).vectors == [[1.0]]
    with pytest.raises(GatewayError) as err:
        gemini.parse_embed_response({"embeddings": [{"values": [1.0]}]}, 2)
    assert err.value.status == 502


def test_gemini_format_single_batch_and_usage() -> None:
    resp = EmbedResponse("g", [[0.5]], Usage(input_tokens=2))
    assert gemini.format_embed_response(resp, batch=False) == {
        "embedding": {"values": [0.5]},
        "usageMetadata": {"promptTokenCount": 2, "totalTokenCount": 2},
    }
    assert gemini.format_embed_response(EmbedResponse("g", [[0.5], [1.0]]), batch=True) == {
        "embeddings": [{"values": [0.5]}, {"values": [1.0]}]
    }


def test_a_base64_answer_goes_to_a_base64_client_unchanged() -> None:
    packed = pack_floats([0.1, 0.2, 0.3])
    resp = openai.parse_embed_response({"data": [{"index": 0, "embedding": packed}]}, 1)
    req = EmbedRequest("m", [EmbedInput("a")], encoding="base64")
    assert openai.format_embed_response(resp, req)["data"][0]["embedding"] == packed


def test_gemini_values_must_be_numbers() -> None:
    with pytest.raises(GatewayError) as err:
        gemini.parse_embed_response({"embeddings": [{"values": [1.0, None]}]}, 1)
    assert err.value.status == 502
