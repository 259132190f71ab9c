"""OpenAI Responses (``POST /v1/responses``) codec.

See the module docstrings for the mapping rules: :mod:`.request` (top-level fields),
:mod:`.items` (the input item list), :mod:`.content` (content parts), :mod:`.tools` (tools,
namespaces, hosted tools, tool_choice), :mod:`.response` (the Response object, usage, stop
reasons), :mod:`.stream` / :mod:`.encoder` (SSE), :mod:`.errors`.
"""

from .errors import format_error, parse_error
from .request import build_request, parse_request
from .response import format_response, parse_response
from .stream import StreamDecoder, StreamEncoder
from .wire import NAME

__all__ = [
    "NAME",
    "StreamDecoder",
    "StreamEncoder",
    "build_request",
    "format_error",
    "format_response",
    "parse_error",
    "parse_request",
    "parse_response",
]
