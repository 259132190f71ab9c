"""OpenAI Chat Completions (``POST /v1/chat/completions``) codec.

:mod:`.request` (messages, tools, parameters), :mod:`.response` (``chat.completion``, usage,
finish reasons), :mod:`.stream` (SSE chunks), :mod:`.errors` (the OpenAI error envelope).
"""

from .errors import format_error, parse_error
from .request import NAME, build_request, parse_request
from .response import format_response, parse_response, response_usage
from .stream import StreamDecoder, StreamEncoder, content_frame, content_only

__all__ = [
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "build_request",
    "content_frame",
    "content_only",
    "format_error",
    "format_response",
    "parse_error",
    "parse_request",
    "parse_response",
    "response_usage",
]
