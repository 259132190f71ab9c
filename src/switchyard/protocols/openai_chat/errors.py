"""Chat Completions errors: the OpenAI error envelope, shared with the Responses codec.

Body: ``{"error": {"message", "type", "param", "code"}}``; in a stream the same object arrives as
a ``data:`` chunk with a top-level ``error``.
"""

from ..openai_responses.errors import format_error, parse_error

__all__ = ["format_error", "parse_error"]
