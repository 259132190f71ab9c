"""tiktoken's own encodings for tests that compare the gateway's counts with them.

They come from the files ``switchyard tokenizers install`` puts in place (``.ci/run`` runs it);
a test that needs them fails, saying so, when they are missing — it never downloads them.
"""

from __future__ import annotations

import pytest
import tiktoken

from switchyard import tokenizer
from switchyard.tokenizer import files


def encoding(name: str) -> tiktoken.Encoding:
    """tiktoken's encoding ``name``, read from the installed files (fails the test without them)."""
    directory = files.default_dir()
    if not files.verified(directory, name):
        pytest.fail(f"tiktoken encoding {name} is not installed in {directory}: run 'switchyard tokenizers install'")
    return tokenizer.read_encoding(directory, name)  # tiktoken reads the files as its cache: it downloads nothing


def tiktoken_count(name: str, text: str) -> int:
    """What tiktoken counts in ``text`` with encoding ``name``."""
    return len(encoding(name).encode_ordinary(text))
