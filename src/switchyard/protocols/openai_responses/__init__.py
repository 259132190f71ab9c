"""OpenAI Responses (``POST /v1/responses``) codec.

See the module docstrings for the mapping rules: :mod:`.request` (top-level fields),
:mod:`.items` (the input item list), :mod:`.content` (content parts), :mod:`.tools` (tools,
namespaces, hosted tools, tool_choice), :mod:`.response` (the Response object, usage, stop
reasons), :mod:`.stream` / :mod:`.encoder` (SSE), :mod:`.errors`.

Conventions other parts of the gateway rely on:

- ``Request.extensions["_hosted_tools"]``: the hosted / built-in tools of a Responses request
  (``web_search``, ``tool_search``, ``mcp`` ...) as wire objects. Other protocols' builders ignore
  them; the server names their types in the ``x-switchyard-dropped-tools`` header.
- Namespaced tools are flattened to ``<namespace>__<tool>`` core names; this codec maps calls back
  to ``namespace`` + name for Responses clients (the StreamEncoder has the request's tools).
- Freeform (``custom``) tools are ``Tool(freeform=True)``; their calls carry ``{"input": "..."}``
  arguments (``ToolCallPart.extensions["_custom"]`` when they came from Responses).
- A ``TextPart`` with ``extensions["refusal"] = True`` is a refusal (the ``refusal`` content part).
- Responses reasoning: ``ReasoningPart(signature=encrypted_content,
  signature_source="openai_responses")`` with the item ``id`` and ``summary`` list in its
  extensions; builds for Responses replay it (from any client protocol) with that id.
- ``StreamEncoder.final_response``: the Response object of the finished stream (for a store).
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
