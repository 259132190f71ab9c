"""The built-in ``mock`` provider as an upstream: :mod:`switchyard.mock`'s answers on the wire.

The mock is an OpenAI-compatible server reached at :data:`BASE_URL`, which the transport answers
in-process (no socket): a request to it goes through the same build-request / transport /
parse-response path as one to any upstream, streamed SSE included. Its routes, by path:

- ``POST /v1/chat/completions``: Chat Completions, streamed or not (the protocol that carries
  everything the mock answers: reasoning as ``reasoning_content``, reasoning tokens, JSON modes);
- ``POST /v1/responses/input_tokens``: the Responses token count, where the gateway counts an
  Anthropic ``count_tokens`` request for the mock (the mock counts words);
- ``POST /v1/embeddings``: OpenAI embeddings (:func:`switchyard.mock.embed`; token ids are
  embedded as their decimal text; usage in words).

A route takes the request body (a JSON object) and returns (status, content type, body chunks); a
stream's SSE frames come as one chunk, as one read of a fast upstream gives them (a chunk per
frame costs the relay a write each). A body the route's codec refuses gets that protocol's error
answer. :data:`ROUTES` is the table to add an endpoint to.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import orjson

from . import mock
from .core.embeddings import EmbedResponse
from .core.errors import ErrorKind, GatewayError, RequestError
from .core.model import Usage
from .protocols import codec
from .protocols.openai_chat import embeddings as _embeddings

BASE_URL = "http://mock.switchyard.invalid/v1"
"""The mock's base URL (``.invalid`` never resolves: nothing of it can reach a network)."""
ORIGIN = "http://mock.switchyard.invalid"
JSON = "application/json"
SSE = "text/event-stream"

Answer = tuple[int, str, list[bytes]]
"""(status, content type, body chunks)."""

_chat = codec("openai_chat")
_responses = codec("openai_responses")


def answer(path: str, body: bytes) -> Answer:
    """The mock's answer to a POST of ``body`` to ``path`` (the URL after :data:`ORIGIN`)."""
    route = ROUTES.get(path.partition("?")[0])
    if route is None:
        return _error(GatewayError(ErrorKind.NOT_FOUND, f"the mock has no endpoint {path}"))
    try:
        return route(_json(body))
    except RequestError as err:
        return _error(err)


def chat_completions(body: dict[str, Any]) -> Answer:
    req = _chat.parse_request(body)
    now = int(time.time())
    if not req.stream:
        resp = dataclasses.replace(mock.respond(req), created=now)
        return 200, JSON, [orjson.dumps(_chat.format_response(resp, req))]
    encoder = _chat.StreamEncoder(req)
    events = mock.events(req)
    events[0] = dataclasses.replace(events[0], created=now)  # the MessageStart
    frames = [encoder.feed(event) for event in events]
    frames.append(encoder.finish())
    return 200, SSE, [b"".join(frames)]


def input_tokens(body: dict[str, Any]) -> Answer:
    count = mock.count_tokens(_responses.parse_request(body))
    return 200, JSON, [orjson.dumps({"object": "response.input_tokens", "input_tokens": count})]


def embeddings(body: dict[str, Any]) -> Answer:
    req = _embeddings.parse_embed_request(body)
    if req.dimensions is not None and req.dimensions > mock.MAX_EMBED_DIMENSIONS:
        raise RequestError(
            f"the mock makes vectors of at most {mock.MAX_EMBED_DIMENSIONS} dimensions", param="dimensions"
        )
    texts = [i.value if isinstance(i.value, str) else " ".join(map(str, i.value)) for i in req.inputs]
    usage = Usage(input_tokens=sum(max(1, mock.count_words(t)) for t in texts))
    resp = EmbedResponse(req.model, mock.embed(texts, req.dimensions), usage)
    return 200, JSON, [orjson.dumps(_embeddings.format_embed_response(resp, req))]


ROUTES: dict[str, Callable[[dict[str, Any]], Answer]] = {
    "/v1/chat/completions": chat_completions,
    "/v1/responses/input_tokens": input_tokens,
    "/v1/embeddings": embeddings,
}


def _json(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise RequestError("the request body must be a JSON object")
    return parsed


def _error(err: GatewayError) -> Answer:
    status, body = _chat.format_error(err)
    return status, JSON, [orjson.dumps(body)]
