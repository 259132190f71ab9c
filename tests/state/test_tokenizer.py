"""The tokenizer's encodings: which one a target gets, the rank files' format, and loading only
installed, verified files (never a download)."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from switchyard import tokenizer
from switchyard.tokenizer import files
from tokenizer_support import encoding


@pytest.mark.parametrize(
    ("protocol", "model", "name"),
    [
        ("openai_chat", "gpt-4o-mini", "o200k_base"),
        ("openai_responses", "gpt-5-codex", "o200k_base"),
        ("openai_chat", "openrouter/openai/o3-mini", "o200k_base"),
        ("openai_chat", "gpt-4.1", "o200k_base"),
        ("openai_chat", "gpt-4", "cl100k_base"),
        ("openai_chat", "gpt-3.5-turbo", "cl100k_base"),
        ("openai_chat", "qwen2.5-7b-instruct", "cl100k_base"),  # an OpenAI-compatible server's model
        ("anthropic", "claude-sonnet-4-5", None),
        ("gemini", "gemini-2.5-pro", None),
        ("mock", "mock-1", None),
    ],
)
def test_encoding_by_family(protocol: str, model: str, name: str | None) -> None:
    assert tokenizer.encoding_name(protocol, model) == name


def test_rank_file_from_the_npm_layout() -> None:
    tokens = [base64.b64encode(t).decode() for t in (b"a", b"b", b"ab", b"x", b"y")]
    packed = f"! 0 {tokens[0]} {tokens[1]} {tokens[2]}\n! 10 {tokens[3]} {tokens[4]}\n"
    expected = f"{tokens[0]} 0\n{tokens[1]} 1\n{tokens[2]} 2\n{tokens[3]} 10\n{tokens[4]} 11\n"
    assert files.ranks_file(packed) == expected.encode()


def test_installed_files_are_tiktokens_own() -> None:
    """What ``switchyard tokenizers install`` wrote is what tiktoken's own loader accepts, and
    the gateway counts as tiktoken does."""
    enc = encoding("o200k_base")
    counter = tokenizer.load().counter("openai_chat", "gpt-4o")
    assert counter is not None
    text = "Signals at danger <|endoftext|> must not be passed."
    assert counter(text) == len(enc.encode_ordinary(text))


def test_missing_or_altered_files_leave_the_approximation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    encoding("cl100k_base")  # the test needs the real file to alter
    altered = files.cache_path(tmp_path, "cl100k_base")
    altered.write_bytes(files.cache_path(files.default_dir(), "cl100k_base").read_bytes() + b"\n")
    with caplog.at_level(logging.WARNING, "switchyard.tokenizer"):
        loaded = tokenizer.load(tmp_path)
    assert loaded.counter("openai_chat", "gpt-4") is None and loaded.counter("openai_chat", "gpt-4o") is None
    assert "switchyard tokenizers install" in caplog.text
