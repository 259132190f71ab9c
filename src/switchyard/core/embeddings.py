"""The protocol-neutral embeddings model: what to embed, and the vectors that came back.

An :class:`EmbedRequest` holds one :class:`EmbedInput` per vector wanted — a text, or (OpenAI
only) an array of token ids — with Gemini's per-input ``taskType`` and ``title`` hints. The
vectors are plain ``list[float]`` in core; OpenAI's ``base64`` encoding (little-endian float32,
as OpenAI sends it) is a wire matter, packed and unpacked with :func:`pack_floats` /
:func:`unpack_floats`.

Pure: no I/O.
"""

from __future__ import annotations

import base64
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any

from .errors import ErrorKind, GatewayError
from .model import Usage


@dataclass(slots=True)
class EmbedInput:
    value: str | list[int]
    """A text, or an array of token ids."""
    task_type: str | None = None
    """Gemini's ``taskType`` (RETRIEVAL_QUERY, SEMANTIC_SIMILARITY, ...); other protocols have none."""
    title: str | None = None
    """Gemini's ``title`` (for RETRIEVAL_DOCUMENT)."""


@dataclass(slots=True)
class EmbedRequest:
    model: str
    inputs: list[EmbedInput]
    dimensions: int | None = None
    """The vector length asked for (None: the model's own)."""
    encoding: str = "float"
    """How the client wants the vectors: ``float`` | ``base64`` (OpenAI; asked of an OpenAI upstream too)."""
    user: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    """Fields of the client's body the model does not know, kept for a same-protocol upstream."""


@dataclass(slots=True)
class EmbedResponse:
    model: str
    vectors: list[list[float]]
    """One vector per input, in the inputs' order."""
    usage: Usage | None = None
    """Input tokens only (embeddings generate nothing); None when the upstream reported none."""


def pack_floats(vector: list[float]) -> str:
    """A vector as OpenAI's ``base64``: little-endian float32."""
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def unpack_floats(text: str) -> list[float]:
    """The inverse of :func:`pack_floats` (raises ValueError on a malformed string)."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) % 4:
        raise ValueError("a base64 embedding must hold whole float32 values")
    values = array("f", raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def malformed(why: str) -> GatewayError:
    """The 502 for an upstream embeddings answer that cannot be read."""
    return GatewayError(ErrorKind.SERVER, f"the upstream's embeddings answer is malformed: {why}", status=502)
