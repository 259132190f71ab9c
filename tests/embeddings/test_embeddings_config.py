"""``providers.<name>.embedding_batch`` in the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.config import ConfigError, EmbeddingBatch, parse_config


def providers(text: str) -> dict:
    return parse_config(text, "test.yaml", {}, Path.cwd()).providers


def test_embedding_batch_is_off_unless_declared() -> None:
    assert providers("providers:\n  oa: {type: openai, api_keys: [k]}\n")["oa"].embedding_batch is None


def test_embedding_batch_values_and_defaults() -> None:
    found = providers(
        "providers:\n"
        "  oa: {type: openai, api_keys: [k], embedding_batch: {max_inputs: 16, max_wait_ms: 5}}\n"
        "  ob: {type: gemini, api_keys: [k], embedding_batch: {}}\n"
    )
    assert found["oa"].embedding_batch == EmbeddingBatch(max_inputs=16, max_wait_ms=5.0)
    assert found["ob"].embedding_batch == EmbeddingBatch(max_inputs=64, max_wait_ms=10.0)


@pytest.mark.parametrize(
    ("batch", "problem"),
    [
        ("{max_inputs: 0}", "embedding_batch.max_inputs: must be 1 or more"),
        ("{max_inputs: many}", "embedding_batch.max_inputs: must be"),
        ("{max_wait_ms: -1}", "embedding_batch.max_wait_ms: must be a positive number"),
        ("{max_size: 3}", "embedding_batch.max_size: unknown key"),
        ("64", "embedding_batch: must be a mapping"),
    ],
)
def test_embedding_batch_problems(batch: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        providers(f"providers:\n  oa: {{type: openai, api_keys: [k], embedding_batch: {batch}}}\n")
