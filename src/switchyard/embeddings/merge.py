"""Several embedding requests as one, and its answer back as one per request.

:func:`merge` concatenates the requests' inputs (they share model, dimensions, encoding, user and
extra fields: the batcher's key says so). :func:`split` hands each request its own vectors, in
its own order, and its share of the usage: the input tokens apportioned by each request's
estimated tokens (:func:`input_tokens`), by largest remainder, so the shares add up exactly to
what the upstream reported.
"""

from __future__ import annotations

from dataclasses import replace

from ..accounting.estimate import text_tokens
from ..core.embeddings import EmbedRequest, EmbedResponse
from ..core.model import Usage


def input_tokens(req: EmbedRequest) -> int:
    """The gateway's estimate of a request's input tokens (token-id arrays: their length)."""
    return sum(text_tokens(len(i.value)) if isinstance(i.value, str) else len(i.value) for i in req.inputs)


def merge(requests: list[EmbedRequest]) -> EmbedRequest:
    return replace(requests[0], inputs=[i for r in requests for i in r.inputs])


def split(resp: EmbedResponse, requests: list[EmbedRequest]) -> list[EmbedResponse]:
    usage = resp.usage
    weights = [input_tokens(r) for r in requests]
    shares = apportion(usage.input_tokens, weights) if usage is not None else [0] * len(requests)
    out, start = [], 0
    for req, share in zip(requests, shares, strict=True):
        end = start + len(req.inputs)
        own = Usage(input_tokens=share, estimated=usage.estimated) if usage is not None else None
        out.append(EmbedResponse(model=resp.model, vectors=resp.vectors[start:end], usage=own))
        start = end
    return out


def apportion(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (equally when they are all 0), summing to ``total``."""
    if not any(weights):
        weights = [1] * len(weights)
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda n: -(total * weights[n] % whole))
    for n in by_remainder[: total - sum(shares)]:
        shares[n] += 1
    return shares
