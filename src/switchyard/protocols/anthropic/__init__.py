"""Anthropic Messages (``POST /v1/messages``) codec.

:mod:`.request` (system, messages, tools, thinking), :mod:`.response` (``message`` objects, usage,
stop reasons), :mod:`.stream` (SSE events), :mod:`.errors` (the Anthropic error envelope).
"""

from typing import Any

from .errors import format_error, parse_error
from .request import NAME, build_request, parse_request
from .response import format_response, parse_response
from .stream import StreamDecoder, StreamEncoder


def format_count_tokens(n: int) -> dict[str, Any]:
    """The ``/v1/messages/count_tokens`` answer."""
    return {"input_tokens": n}


__all__ = [
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "build_request",
    "format_count_tokens",
    "format_error",
    "format_response",
    "parse_error",
    "parse_request",
    "parse_response",
]
