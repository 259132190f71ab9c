"""OpenAI embeddings (``POST /v1/embeddings``): client side and upstream side.

Request: ``input`` is a string, an array of strings, an array of token ids (one input) or an
array of token-id arrays; ``encoding_format`` ``float`` (the default) | ``base64``; ``dimensions``;
``user``. Fields the model does not know are kept (``EmbedRequest.extensions``) and go to an
OpenAI upstream as they came. Response: ``{"object": "list", "data": [{"object": "embedding",
"index", "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}``, each
``embedding`` an array of floats or, with ``base64``, little-endian float32 bytes in base64.

The Responses upstreams (``type: openai-responses``) serve the same endpoint on the same base URL.
"""

from __future__ import annotations

from typing import Any

from ...core.embeddings import (
    EmbedInput,
    EmbedRequest,
    EmbedResponse,
    Vector,
    as_list,
    malformed,
    numbers,
    pack_floats,
    unpack_floats,
)
from ...core.errors import RequestError
from ...core.model import Usage
from ...core.util import optional, require

ENCODINGS = ("float", "base64")
_KNOWN = ("model", "input", "encoding_format", "dimensions", "user")


def parse_embed_request(body: dict[str, Any]) -> EmbedRequest:
    """A client's ``/v1/embeddings`` body -> core (raises RequestError)."""
    model = require(body, "model", str)
    encoding = optional(body, "encoding_format", str) or "float"
    if encoding not in ENCODINGS:
        raise RequestError("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    dimensions = optional(body, "dimensions", int)
    if dimensions is not None and dimensions < 1:
        raise RequestError("'dimensions' must be 1 or more", param="dimensions")
    return EmbedRequest(
        model=model,
        inputs=[EmbedInput(value) for value in _inputs(body.get("input"))],
        dimensions=dimensions,
        encoding=encoding,
        user=optional(body, "user", str),
        extensions={k: v for k, v in body.items() if k not in _KNOWN},
    )


def _inputs(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RequestError(
            "'input' must be a string, an array of strings, an array of token ids or an array of "
            "token-id arrays (not empty)",
            param="input",
        )
    if all(_token_id(v) for v in value):
        return [value]
    for n, item in enumerate(value):
        if isinstance(item, str):
            if not item:
                raise RequestError(f"'input[{n}]' is an empty string", param="input")
        elif not (isinstance(item, list) and item and all(_token_id(v) for v in item)):
            raise RequestError(
                f"'input[{n}]' must be a string or a non-empty array of token ids (integers)", param="input"
            )
    return value


def _token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def build_embed_request(req: EmbedRequest) -> dict[str, Any]:
    """Core -> an OpenAI-compatible upstream's ``/embeddings`` body (Gemini's hints left out:
    OpenAI has no task type or title)."""
    body: dict[str, Any] = {**req.extensions, "model": req.model, "input": [i.value for i in req.inputs]}
    if req.encoding != "float":
        body["encoding_format"] = req.encoding
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    return body


def parse_embed_response(body: dict[str, Any], inputs: int) -> EmbedResponse:
    """An upstream's ``/embeddings`` answer -> core; a vector for each of ``inputs`` inputs, or a 502."""
    data = body.get("data")
    if not isinstance(data, list) or len(data) != inputs:
        raise malformed(f"it holds {len(data) if isinstance(data, list) else 'no'} embeddings for {inputs} inputs")
    vectors: list[Vector | None] = [None] * inputs
    for position, item in enumerate(data):
        index = item.get("index", position) if isinstance(item, dict) else None
        if not isinstance(index, int) or not 0 <= index < inputs or vectors[index] is not None:
            raise malformed("its embeddings' indexes do not match the inputs")
        vectors[index] = _vector(item.get("embedding"))
    usage = body.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return EmbedResponse(
        model=body.get("model") if isinstance(body.get("model"), str) else "",
        vectors=vectors,  # type: ignore[arg-type]  # every slot was filled above
        usage=Usage(input_tokens=tokens) if isinstance(tokens, int) else None,
    )


def _vector(value: Any) -> Vector:
    if isinstance(value, str):
        try:
            return unpack_floats(value)
        except ValueError:
            raise malformed("an embedding is not valid base64 float32") from None
    values = numbers(value)
    if values is None:
        raise malformed("an embedding is neither an array of numbers nor base64")
    return values


def format_embed_response(resp: EmbedResponse, req: EmbedRequest) -> dict[str, Any]:
    """Core -> the client's ``/v1/embeddings`` answer, in the encoding it asked for."""
    pack = req.encoding == "base64"
    tokens = resp.usage.input_tokens if resp.usage is not None else 0
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": n, "embedding": pack_floats(v) if pack else as_list(v)}
            for n, v in enumerate(resp.vectors)
        ],
        "model": resp.model or req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
