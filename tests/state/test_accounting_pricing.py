"""Pricing table lookup, overrides, and cost rules (reported wins, unknown -> None)."""

from __future__ import annotations

import re

import pytest

from switchyard.accounting import Pricing, cost, default_pricing
from switchyard.accounting.pricing import candidates
from switchyard.core.model import Usage


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-5", "gpt-5"),
        ("o3-2025-04-16", "o3"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("GPT-4o", "gpt-4o"),
    ],
)
def test_lookup_normalises_served_names(served, expected):
    table = default_pricing()
    assert table.lookup(served) is not None
    assert table.lookup(served) == table.lookup(expected)


def test_exact_entry_wins_over_stripped_name():
    table = default_pricing()
    assert table.lookup("gpt-4o-2024-05-13").input == 5.0  # the older, dearer snapshot
    assert table.lookup("gpt-4o").input == 2.5


def test_unknown_model_costs_none_never_zero():
    usage = Usage(input_tokens=100, output_tokens=10)
    assert default_pricing().lookup("no-such-model") is None
    assert cost(usage, "no-such-model") is None
    assert cost(usage, "ft:gpt-4o-mini-2024-07-18:org::abc") is None  # fine-tunes are priced differently
    assert cost(None, "gpt-4o") is None


def test_cost_uses_disjoint_buckets_and_does_not_add_reasoning():
    usage = Usage(
        input_tokens=1000, cache_read_tokens=2000, cache_write_tokens=500, output_tokens=300, reasoning_tokens=100
    )
    # claude-sonnet-4-5: input 3, cache_read 0.30, cache_write 3.75, output 15 (USD / 1M)
    expected = (1000 * 3 + 2000 * 0.30 + 500 * 3.75 + 300 * 15) / 1_000_000
    assert cost(usage, "claude-sonnet-4-5-20250929") == pytest.approx(expected)


def test_long_context_rates_apply_above_the_threshold():
    short = Usage(input_tokens=150_000, cache_read_tokens=50_000, output_tokens=1000)  # prompt = 200k
    long = Usage(input_tokens=150_000, cache_read_tokens=50_001, output_tokens=1000)
    assert cost(short, "gemini-2.5-pro") == pytest.approx((150_000 * 1.25 + 50_000 * 0.125 + 1000 * 10) / 1e6)
    assert cost(long, "gemini-2.5-pro") == pytest.approx((150_000 * 2.5 + 50_001 * 0.25 + 1000 * 15) / 1e6)


def test_reported_cost_wins():
    usage = Usage(input_tokens=100, output_tokens=10)
    assert cost(usage, "gpt-4o", reported=0.5) == 0.5
    assert cost(usage, "no-such-model", reported=0.25) == 0.25
    assert cost(usage, "gpt-4o", reported=0) == 0.0  # a free upstream says so
    assert cost(None, "no-such-model", reported=0.1) == 0.1


def test_overrides_change_extend_and_remove():
    table = default_pricing().with_overrides(
        {
            "gpt-4o": {"input": 2.0},
            "my-llama": {"input": 0, "output": 0},
            "groq/llama-3.3-70b-versatile": {"input": 0.59, "output": 0.79},
            "o1": None,
            "gemini-2.5-pro": {"long_context": {"input": 3.0}},
        }
    )
    gpt4o = table.lookup("gpt-4o")
    assert gpt4o.input == 2.0 and gpt4o.output == 10.0 and gpt4o.cache_read == 1.25  # other fields kept
    usage = Usage(input_tokens=1000, output_tokens=1000)
    assert table.cost(usage, "my-llama") == 0.0  # explicitly free
    assert table.lookup("my-llama").cache_read == 0.0
    assert table.cost(usage, "llama-3.3-70b-versatile", provider="groq") == pytest.approx((590 + 790) / 1e6)
    assert table.cost(usage, "llama-3.3-70b-versatile") is None
    assert table.lookup("o1") is None
    pro = table.lookup("gemini-2.5-pro")
    assert pro.long.input == 3.0 and pro.long.output == 15.0 and pro.long_threshold == 200_000
    assert default_pricing().lookup("gpt-4o").input == 2.5  # the shared default is untouched
    assert cost(usage, "my-llama", pricing=table) == 0.0


def test_new_model_without_a_price_is_unknown_by_default():
    usage = Usage(input_tokens=1, output_tokens=1)
    assert Pricing({}).cost(usage, "gpt-4o") is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"new-model": {"input": 1.0}}, "pricing.new-model: missing 'output'"),
        ({"gpt-4o": {"input": -1}}, "pricing.gpt-4o.input: must be a number >= 0"),
        ({"gpt-4o": {"input": "cheap"}}, "pricing.gpt-4o.input"),
        ({"gpt-4o": {"inptu": 1}}, "unknown field 'inptu'"),
        ({"gpt-4o": 3}, "pricing.gpt-4o: must be a mapping"),
        ({"gpt-4o": {"long_context": {"threshold": "big"}}}, "pricing.gpt-4o.long_context.threshold"),
        (["gpt-4o"], "pricing: must be a mapping"),
    ],
)
def test_bad_overrides_name_their_path(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        default_pricing().with_overrides(overrides)


def test_data_file_is_sane():
    table = Pricing.default()
    assert len(table) >= 30
    for family in ("gpt-5", "gpt-4.1", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "gemini-2.5-flash"):
        assert family in table
    for name in ("gpt-5", "claude-sonnet-4-5", "gemini-2.5-pro", "o4-mini", "gpt-4.1-mini"):
        p = table.lookup(name)
        assert p.output >= p.input > 0 and p.cache_read <= p.input


def test_candidates_order():
    assert candidates("claude-sonnet-4-5-20250929", "anthropic") == [
        "anthropic/claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-5",
    ]
