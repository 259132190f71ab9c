"""Gemini ``generateContent`` / ``streamGenerateContent`` (v1beta) codec.

``parse_request(body, model)`` takes the model from the URL path (the Gemini body has none);
``build_request`` returns the body only. See the module docstrings for the mapping rules:
:mod:`.request`, :mod:`.parts`, :mod:`.tools`, :mod:`.generation`, :mod:`.response`,
:mod:`.stream`, :mod:`.errors`.
"""

from .errors import format_error, parse_error
from .request import build_request, parse_request
from .response import format_response, parse_response, response_usage
from .stream import StreamDecoder, StreamEncoder, content_frame, content_only
from .wire import NAME

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
