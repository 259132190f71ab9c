"""Anthropic Messages (``POST /v1/messages``, ``/v1/messages/count_tokens``) codec.

Modules: :mod:`.request` (top-level fields, thinking, max_tokens), :mod:`.messages` (the message
list: tool-result placement, system messages, merging, orphan results), :mod:`.blocks` (content
blocks), :mod:`.tools` (tools, tool_choice), :mod:`.response` (``message`` objects, usage, stop
reasons), :mod:`.stream` (SSE decoder and encoder), :mod:`.errors` (the error envelope).

Conventions other parts of the gateway rely on:

- A user message with ``tool_result`` blocks is a core ``tool`` message (the results) followed by
  a ``user`` message (the other blocks); a ``role: "system"`` message inside ``messages`` is a core
  ``system`` message in place.
- Thinking: ``ReasoningPart(text, signature, signature_source="anthropic")``; redacted thinking:
  ``ReasoningPart(redacted=data, signature_source="anthropic")``. A thinking block with an empty
  signature (as echoed by a client that got reasoning from another provider) is visible-only
  reasoning: no signature, no source.
- Opaque blocks the core does not model: ``TextPart("", extensions={"_raw_part": block})`` in
  requests (native-only: other protocols raise TranslationError), ``Response.extensions["_blocks"]``
  (``[position, block]``) in answers (other protocols never see them).
- Server tools (typed tools such as ``web_search_20250305``): ``Request.extensions["_server_tools"]``
  (``[position, tool]``), native-only.
- ``Usage.extensions["_anthropic"]``: the upstream's usage object (TTL breakdown, service tier).
- :func:`parse_count_tokens_request` / :func:`format_count_tokens` serve ``count_tokens``.
"""

from typing import Any

from .errors import format_error, parse_error
from .request import (
    ADAPTIVE_BUDGET,
    DEFAULT_MAX_TOKENS,
    EFFORT_BUDGET,
    MIN_BUDGET,
    build_request,
    parse_count_tokens_request,
    parse_request,
)
from .response import format_response, parse_response, response_usage
from .stream import StreamDecoder, StreamEncoder, content_frame, content_only
from .wire import NAME


def format_count_tokens(n: int) -> dict[str, Any]:
    """The ``/v1/messages/count_tokens`` answer: ``{"input_tokens": n}``."""
    return {"input_tokens": n}


__all__ = [
    "ADAPTIVE_BUDGET",
    "DEFAULT_MAX_TOKENS",
    "EFFORT_BUDGET",
    "MIN_BUDGET",
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "build_request",
    "content_frame",
    "content_only",
    "format_count_tokens",
    "format_error",
    "format_response",
    "parse_count_tokens_request",
    "parse_error",
    "parse_request",
    "parse_response",
    "response_usage",
]
