"""Embeddings beyond translation: merging concurrent requests into one upstream call.

:class:`Batcher` groups items submitted under the same key (up to a size, waiting at most a
time) and runs one flush for them; :func:`merge` / :func:`split` turn several embedding requests
into one and its answer back into one per request, each with its share of the usage.
"""

from .batcher import Batcher
from .merge import input_tokens, merge, split

__all__ = ["Batcher", "input_tokens", "merge", "split"]
