"""The protocol-neutral embeddings model: what to embed, and the vectors that came back.

An :class:`EmbedRequest` holds one :class:`EmbedInput` per vector wanted — a text, or (OpenAI
only) an array of token ids — with Gemini's per-input ``taskType`` and ``title`` hints.

A :data:`Vector` is the numbers as they came: a ``list[float]`` from JSON, or an ``array("f")``
unpacked from OpenAI's ``base64`` (little-endian float32). Keeping the array means a base64
answer goes back to a base64 client without a round trip through Python floats
(:func:`pack_floats`), and a JSON answer keeps its numbers exactly as the upstream printed them.

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

Vector = list[float] | array


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
    vectors: list[Vector]
    """One vector per input, in the inputs' order."""
    usage: Usage | None = None
    """Input tokens only (embeddings generate nothing); None when the upstream reported none."""


def pack_floats(vector: Vector) -> str:
    """A vector as OpenAI's ``base64``: little-endian float32 (raises TypeError for non-numbers)."""
    packed = vector if isinstance(vector, array) and vector.typecode == "f" else array("f", vector)
    if sys.byteorder == "big":
        packed = array("f", packed)
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def unpack_floats(text: str) -> array:
    """The inverse of :func:`pack_floats` (raises ValueError on a malformed string)."""
    raw = base64.b64decode(text, validate=True)
    if len(raw) % 4:
        raise ValueError("a base64 embedding must hold whole float32 values")
    values = array("f", raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def as_list(vector: Vector) -> list[float]:
    """The vector as JSON numbers."""
    return vector if isinstance(vector, list) else vector.tolist()


def numbers(value: Any) -> list[float] | None:
    """``value`` if it is a JSON array of numbers, else None (checked at C speed)."""
    if not isinstance(value, list):
        return None
    try:
        array("d", value)
    except TypeError:
        return None
    return value


def malformed(why: str) -> GatewayError:
    """The 502 for an upstream embeddings answer that cannot be read."""
    return GatewayError(ErrorKind.SERVER, f"the upstream's embeddings answer is malformed: {why}", status=502)
