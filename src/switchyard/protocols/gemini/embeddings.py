"""Gemini embeddings: ``:embedContent`` and ``:batchEmbedContents``, client side and upstream side.

``embedContent`` body: ``{content: {parts: [{text}]}, taskType?, title?, outputDimensionality?}``
-> ``{embedding: {values}}``. ``batchEmbedContents``: ``{requests: [<embedContent body with its
model>]}`` -> ``{embeddings: [{values}]}``, in order. snake_case field names are accepted too.

Mapping rules: one content is one input, its text parts joined with ``"\\n"`` (only text can be
embedded: another part is a 400). Each input keeps its ``taskType`` and ``title``; the requests
of a batch must name the URL's model and ask for the same ``outputDimensionality`` (core has one).
Upstream, the gateway always calls ``:batchEmbedContents`` (one to many inputs); token-id inputs
(OpenAI's) cannot be sent: a 400. An answer's ``usageMetadata.promptTokenCount`` is read when
present.
"""

from __future__ import annotations

from typing import Any

from ...core.embeddings import EmbedInput, EmbedRequest, EmbedResponse, as_list, malformed, numbers
from ...core.errors import RequestError, TranslationError
from ...core.model import Usage
from ...core.util import optional
from .wire import NAME, as_object, model_name


def parse_embed_request(body: dict[str, Any], model: str, batch: bool) -> EmbedRequest:
    """A client's ``:embedContent`` (``batch`` False) or ``:batchEmbedContents`` body -> core."""
    if not batch:
        one = as_object(body, "body")
        return EmbedRequest(model=model, inputs=[_input(one, "")], dimensions=_dimensions(one, ""))
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise RequestError("'requests' must be a non-empty array", param="requests")
    inputs, sizes = [], set()
    for n, raw in enumerate(requests):
        where = f"requests[{n}]."
        item = as_object(raw, f"requests[{n}]")
        named = optional(item, "model", str, where)
        if named is not None and _bare(named) != _bare(model):
            raise RequestError(f"'{where}model' must be the model of the URL ({model})", param=f"{where}model")
        inputs.append(_input(item, where))
        sizes.add(_dimensions(item, where))
    if len(sizes) > 1:
        raise RequestError("every request of a batch must ask for the same outputDimensionality", param="requests")
    return EmbedRequest(model=model, inputs=inputs, dimensions=sizes.pop())


def _bare(model: str) -> str:
    return model.removeprefix("models/")


def _input(item: dict[str, Any], where: str) -> EmbedInput:
    content = as_object(item.get("content"), f"{where}content")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise RequestError(f"'{where}content.parts' must be a non-empty array", param=f"{where}content.parts")
    texts = []
    for n, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str):
            name = f"{where}content.parts[{n}]"
            raise RequestError(f"'{name}' is not a text part: only text can be embedded", param=name)
        texts.append(text)
    return EmbedInput(
        "\n".join(texts),
        task_type=optional(item, "taskType", str, where),
        title=optional(item, "title", str, where),
    )


def _dimensions(item: dict[str, Any], where: str) -> int | None:
    value = optional(item, "outputDimensionality", int, where)
    if value is not None and value < 1:
        name = f"{where}outputDimensionality"
        raise RequestError(f"'{name}' must be 1 or more", param=name)
    return value


def build_embed_request(req: EmbedRequest) -> dict[str, Any]:
    """Core -> an upstream ``:batchEmbedContents`` body (raises TranslationError for token ids)."""
    name = model_name(req.model)
    requests = []
    for item in req.inputs:
        if not isinstance(item.value, str):
            raise TranslationError("input", NAME, "token ids cannot be embedded by a Gemini model: send text")
        one: dict[str, Any] = {"model": name, "content": {"parts": [{"text": item.value}]}}
        if item.task_type is not None:
            one["taskType"] = item.task_type
        if item.title is not None:
            one["title"] = item.title
        if req.dimensions is not None:
            one["outputDimensionality"] = req.dimensions
        requests.append(one)
    return {"requests": requests}


def parse_embed_response(body: dict[str, Any], inputs: int) -> EmbedResponse:
    """An upstream ``:batchEmbedContents`` (or ``:embedContent``) answer -> core; a 502 unless it
    holds a vector for each of ``inputs`` inputs."""
    items = body.get("embeddings")
    if items is None and isinstance(body.get("embedding"), dict):
        items = [body["embedding"]]
    if not isinstance(items, list) or len(items) != inputs:
        count = len(items) if isinstance(items, list) else "no"
        raise malformed(f"it holds {count} embeddings for {inputs} inputs")
    vectors = []
    for item in items:
        values = numbers(item.get("values")) if isinstance(item, dict) else None
        if values is None:
            raise malformed("an embedding has no 'values' array of numbers")
        vectors.append(values)
    meta = body.get("usageMetadata")
    tokens = meta.get("promptTokenCount") if isinstance(meta, dict) else None
    return EmbedResponse(
        model="", vectors=vectors, usage=Usage(input_tokens=tokens) if isinstance(tokens, int) else None
    )


def format_embed_response(resp: EmbedResponse, batch: bool) -> dict[str, Any]:
    """Core -> the client's ``:embedContent`` (one vector) or ``:batchEmbedContents`` answer, with
    ``usageMetadata`` (google-genai reads it into ``usage_metadata``) when the usage is known."""
    body: dict[str, Any] = (
        {"embeddings": [{"values": as_list(v)} for v in resp.vectors]}
        if batch
        else {"embedding": {"values": as_list(resp.vectors[0])}}
    )
    if resp.usage is not None:
        tokens = resp.usage.input_tokens
        body["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    return body
