"""Wire-protocol codecs. One module per protocol, each with the same pieces:

- ``NAME``: the protocol's name (also the ``signature_source`` of state it produces)
- ``parse_request(body: dict) -> Request``          client wire JSON -> core (raises RequestError)
- ``build_request(req: Request, **options) -> dict``   core -> upstream wire JSON (raises TranslationError);
  options are what the upstream declares (Chat: ``max_tokens_field``)
- ``parse_response(body: dict) -> Response``        upstream wire JSON -> core
- ``format_response(resp: Response, req: Request) -> dict``   core -> client wire JSON
- ``response_usage(body: dict) -> Usage | None``    a response body's usage alone (relayed answers)
- ``StreamDecoder()``: ``feed(frame: SSEFrame) -> list[Event]``, ``finish() -> list[Event]``
- ``StreamEncoder(req: Request)``: ``feed(event: Event) -> bytes``, ``finish() -> bytes``
- ``content_only(frame: SSEFrame) -> bool``         a frame an observing relay may leave undecoded
- ``content_frame(raw: bytes) -> bool``              the same of a frame's raw bytes (whole chunks skipped unframed)
- ``parse_error(status: int, body: bytes) -> GatewayError``    upstream error -> core
- ``format_error(err: GatewayError) -> tuple[int, dict]``      core -> client status and body

Embeddings have their own module (``embeddings``: ``parse_embed_request``, ``build_embed_request``,
``parse_embed_response``, ``format_embed_response``) in ``openai_chat`` and ``gemini``; see
:func:`embeddings_codec`.

All of them are pure: no I/O, no clock, no randomness; they never mutate their inputs.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

PROTOCOLS = ("openai_chat", "openai_responses", "anthropic", "gemini")


def codec(name: str) -> ModuleType:
    """The codec module for a protocol name."""
    if name not in PROTOCOLS:
        raise KeyError(name)
    return import_module(f"{__name__}.{name}")


def embeddings_codec(name: str) -> ModuleType | None:
    """The embeddings module a protocol's upstreams speak (both OpenAI protocols: OpenAI's
    ``/embeddings``), or None when it has none (Anthropic)."""
    if name in ("openai_chat", "openai_responses"):
        return import_module(f"{__name__}.openai_chat.embeddings")
    if name == "gemini":
        return import_module(f"{__name__}.gemini.embeddings")
    return None
