"""Local token counts for OpenAI-family models: tiktoken, with its encodings installed beforehand.

Which encoding (:func:`encoding_name`), for a target whose provider speaks an OpenAI protocol
(``openai`` and every OpenAI-compatible server, ``openai-responses``):

- ``o200k_base``: models named ``gpt-4o…``, ``chatgpt-4o…``, ``gpt-4.1…``, ``gpt-4.5…``,
  ``gpt-5…``, ``gpt-oss…``, ``o1…``, ``o3…``, ``o4…``, ``codex…`` (the part after the last ``/``);
- ``cl100k_base``: every other model (``gpt-4``, ``gpt-3.5-turbo`` and the default for other
  OpenAI-compatible models, whose own tokenizer the gateway does not have).

Claude and Gemini models, and the mock, get none: their counts stay the documented approximation
(:mod:`switchyard.accounting.estimate`). :func:`load` checks at start-up the files :mod:`.files`
installed (``switchyard tokenizers install``), and each encoding is read on its first use; it
never downloads — without the files it logs a warning and the gateway counts with the
approximation.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import tiktoken

from ..accounting.estimate import TokenCount
from . import files

log = logging.getLogger("switchyard.tokenizer")

OPENAI_FAMILY = frozenset({"openai_chat", "openai_responses"})
O200K_MODELS = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "o1", "o3", "o4", "codex")


def encoding_name(protocol: str, model: str) -> str | None:
    """The tiktoken encoding for ``model`` served over ``protocol`` (None: no tokenizer)."""
    if protocol not in OPENAI_FAMILY:
        return None
    name = model.rsplit("/", 1)[-1].lower()
    return "o200k_base" if name.startswith(O200K_MODELS) else "cl100k_base"


class Tokenizers:
    """The encodings installed (checked at start-up); :meth:`counter` picks one for a target.

    An encoding is read on its first use — when a count is really needed (an answer without
    usage, a count_tokens request) —, not at start-up: each one is about 0.2 s and 50 MiB, which
    a gateway whose upstreams report their usage never pays."""

    __slots__ = ("_counts", "_directory", "_present")

    def __init__(self, directory: Path | None = None, present: Iterable[str] = ()) -> None:
        self._directory = directory
        self._present = frozenset(present)
        self._counts: dict[str, TokenCount] = {}

    def counter(self, protocol: str, model: str) -> TokenCount | None:
        """The token count for a target (None: count with the approximation)."""
        name = encoding_name(protocol, model)
        if name is None or name not in self._present or self._directory is None:
            return None
        count = self._counts.get(name)
        if count is None:
            count = self._counts[name] = _counter(self._directory, name)
        return count


def _counter(directory: Path, name: str) -> TokenCount:
    encode: Callable[[str], list[int]] | None = None

    def count(text: str) -> int:
        nonlocal encode
        if encode is None:
            encode = read_encoding(directory, name).encode_ordinary  # special-token text is counted as text
        return len(encode(text))

    return count


def read_encoding(directory: Path, name: str) -> tiktoken.Encoding:
    """tiktoken's encoding ``name``, from the checked files in ``directory`` (tiktoken keeps it)."""
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)  # tiktoken finds the verified files as its cache
    try:
        return tiktoken.get_encoding(name)
    finally:
        if previous is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


@functools.cache
def load(directory: Path | None = None) -> Tokenizers:
    """The encodings installed in ``directory`` (default :func:`files.default_dir`), each checked
    against the hash tiktoken expects. Reads local files only: one missing is left out."""
    directory = directory or files.default_dir()
    present = [name for name in files.SHA256 if files.verified(directory, name)]
    if len(present) < len(files.SHA256):
        missing = ", ".join(sorted(set(files.SHA256) - set(present)))
        log.warning(
            "tokenizer encodings not installed in %s (%s): OpenAI-family usage estimates use the "
            "approximation; run 'switchyard tokenizers install'",
            directory,
            missing,
        )
    return Tokenizers(directory, present)
